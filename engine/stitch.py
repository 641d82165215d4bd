"""One connection across the routers it crossed: conntrack entries stitched.

Each router tracks a connection under the tuple its first packet had
there. The packet leaves a router as the reverse of that entry's reply
tuple (after the router's NAT) and arrives at the next router with that
very tuple as the next entry's original. Which router is next is a route
lookup in the plan (the model's graph): the egress interface of the
route to the leaving destination, and the namespace at its other end.
So the join is one dict lookup per entry, keyed by (next namespace,
tuple): linear in the number of entries, and two tenants with the same
addresses never meet, since their tuples differ where they share a
router (their shares' NAT makes them differ) and nowhere else are they
neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.datapath.graph import Graph
from engine.ports import Tracked

Key = tuple[int, bytes, bytes, int | None, int | None]


def in_key(e: Tracked) -> Key:
    """The tuple of the first packet as it arrived (icmp: id in the port slot)."""
    return (e.proto, e.o_src, e.o_dst, e.o_sport, e.o_dport) if e.o_id is None else (e.proto, e.o_src, e.o_dst, e.o_id, 0)


def out_key(e: Tracked) -> Key:
    """The tuple of the first packet as it left: the reply tuple reversed."""
    return (e.proto, e.r_dst, e.r_src, e.r_dport, e.r_sport) if e.r_id is None else (e.proto, e.r_dst, e.r_src, e.r_id, 0)


@dataclass(frozen=True)
class Step:
    """One router of a connection: its entry and the interfaces it used."""

    ns: str
    entry: Tracked
    ingress: str | None
    egress: str | None


class _Routes:
    """Route lookups in the plan, memoised per (namespace, address)."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.memo: dict[tuple[str, bytes], tuple[str, str, str] | None] = {}

    def via(self, ns: str, address: bytes) -> tuple[str, str, str] | None:
        """(egress interface, next namespace, its interface) towards `address`."""
        key = (ns, address)
        if key not in self.memo:
            self.memo[key] = self._via(ns, address)
        return self.memo[key]

    def _via(self, ns: str, address: bytes) -> tuple[str, str, str] | None:
        space = self.graph.spaces.get(ns)
        route = space.table().lookup(int.from_bytes(address, "big")) if space else None
        if route is None or route.ifname is None:
            return None
        peer = self.graph.peer.get((ns, route.ifname))
        return (route.ifname, *peer) if peer else (route.ifname, "", "")


def stitch(graph: Graph, raw: dict[str, list[Tracked]]) -> list[list[Step]]:
    """Every connection as the routers it crossed, in order."""
    items = [(ns, e) for ns, entries in raw.items() for e in entries]
    index = {(ns, in_key(e)): i for i, (ns, e) in enumerate(items)}
    routes = _Routes(graph)
    nxt: list[int | None] = [None] * len(items)
    has_prev = bytearray(len(items))
    for i, (ns, e) in enumerate(items):
        hop = routes.via(ns, e.r_src)  # the leaving packet's destination is the reply's source
        if hop is None or not hop[1]:
            continue
        j = index.get((hop[1], out_key(e)))
        if j is not None and j != i and not has_prev[j]:
            nxt[i] = j
            has_prev[j] = 1
    chains = []
    for i in range(len(items)):
        if has_prev[i]:
            continue
        chain: list[Step] = []
        at: int | None = i
        while at is not None and len(chain) < 64:
            ns, e = items[at]
            back = routes.via(ns, e.o_src)
            out = routes.via(ns, e.r_src)
            chain.append(Step(ns, e, back[0] if back else None, out[0] if out else None))
            at = nxt[at]
        chains.append(chain)
    return chains
