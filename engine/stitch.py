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

from operator import itemgetter
from typing import Any

from engine.datapath.graph import Graph
from engine.ports import Tracked

Link = tuple[str, Tracked]  # (namespace, its entry)


class Routes:
    """Route lookups in the plan, memoised per (namespace, address)."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.memo: dict[tuple[str, bytes], tuple[str, str, str] | None] = {}

    def via(self, ns: str, address: bytes) -> tuple[str, str, str] | None:
        """(egress interface, next namespace, its interface) towards `address`
        ("" for the namespace when the egress leads nowhere we know)."""
        key = (ns, address)
        try:
            return self.memo[key]
        except KeyError:
            pass
        space = self.graph.spaces.get(ns)
        route = space.table().lookup(int.from_bytes(address, "big")) if space else None
        got = None
        if route is not None and route.ifname is not None:
            peer = self.graph.peer.get((ns, route.ifname))
            got = (route.ifname, *peer) if peer else (route.ifname, "", "")
        self.memo[key] = got
        return got


# join keys, read in C: the tuple a packet arrived with (original), and the
# one it left with (the reply reversed); icmp keys its id instead of ports
IN_KEY, OUT_KEY = itemgetter(0, 5, 6, 7, 8), itemgetter(0, 12, 11, 14, 13)
IN_ICMP, OUT_ICMP = itemgetter(0, 5, 6, 19), itemgetter(0, 12, 11, 22)


def stitch(routes: Routes, raw: dict[str, list[Tracked]]) -> list[list[Link]]:
    """Every connection as the routers it crossed, in order (the hot loop of
    `show flows`: 300,000 entries for 100,000 connections over three routers;
    per-namespace lists and indexes keep it to a few dict lookups each)."""
    index = {ns: {(IN_KEY(e) if e.o_id is None else IN_ICMP(e)): i for i, e in enumerate(entries)} for ns, entries in raw.items()}
    nxt: dict[str, list[tuple[str, int] | None]] = {}
    taken = {ns: bytearray(len(entries)) for ns, entries in raw.items()}
    for ns, entries in raw.items():
        ahead = nxt[ns] = [None] * len(entries)
        towards: dict[bytes, tuple[str, dict[Any, int], bytearray] | None] = {}  # the leaving destination -> next table
        for i, e in enumerate(entries):
            where = towards.get(e.r_src, MISSING)
            if where is MISSING:
                hop = routes.via(ns, e.r_src)  # the leaving packet's destination is the reply's source
                where = towards[e.r_src] = (hop[1], index[hop[1]], taken[hop[1]]) if hop and hop[1] in index else None
            if where is None:
                continue
            j = where[1].get(OUT_KEY(e) if e.r_id is None else OUT_ICMP(e))
            if j is not None and not where[2][j] and not (where[0] == ns and j == i):
                ahead[i] = (where[0], j)
                where[2][j] = 1
    chains = []
    for ns, entries in raw.items():
        mine = taken[ns]
        for i, e in enumerate(entries):
            if mine[i]:
                continue
            chain = [(ns, e)]
            link = nxt[ns][i]
            while link is not None and len(chain) < 64:
                chain.append((link[0], raw[link[0]][link[1]]))
                link = nxt[link[0]][link[1]]
            chains.append(chain)
    return chains


MISSING: Any = object()
