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
from engine.marks import ORIGIN, ORIGINAL, REPLY, TARGET_MASK, routed_mark
from engine.ports import Tracked

Link = tuple[str, Tracked]  # (namespace, its entry)


class Routes:
    """Route lookups in the plan, memoised per (namespace, address)."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.memo: dict[tuple[str, bytes, int], tuple[str, str, str] | None] = {}

    def via(self, ns: str, address: bytes, mark: int = 0) -> tuple[str, str, str] | None:
        """(egress interface, next namespace, its interface) towards `address`
        ("" for the namespace when the egress leads nowhere we know); `mark`:
        the packet mark the router steers by (engine/marks.py `routed_mark`)."""
        key = (ns, address, mark)
        try:
            return self.memo[key]
        except KeyError:
            pass
        space = self.graph.spaces.get(ns)
        route = (space.lookup(int.from_bytes(address, "big"), mark, None) if mark else space.table().lookup(int.from_bytes(address, "big"))) if space else None
        got = None
        if route is not None and route.ifname is not None:
            peer = self.through(ns, self.graph.peer.get((ns, route.ifname)), address)
            got = (route.ifname, *peer) if peer else (route.ifname, "", "")
        self.memo[key] = got
        return got

    def hairpin(self, ns: str, hop: tuple[str, str, str]) -> bool:
        """True when `hop` leads into a firewall instance that hands the
        packet back to `ns` (`via` stops at the instance then)."""
        space = self.graph.spaces.get(hop[1])
        return space is not None and space.role == "firewall"

    def through(self, ns: str, peer: tuple[str, str] | None, address: bytes) -> tuple[str, str] | None:
        """A firewall instance tracks nothing we stitch: a wire's packet goes
        on, by the instance's routing by input leg, to the router at the
        wire's other end, which is the next router. The instance itself when
        it hands the packet back to `ns` (a hairpin) or has no way on."""
        for _ in range(4):
            space = self.graph.spaces.get(peer[0]) if peer else None
            if space is None or space.role != "firewall" or peer is None:
                return peer
            route = space.lookup(int.from_bytes(address, "big"), 0, peer[1])
            onward = self.graph.peer.get((peer[0], route.ifname)) if route is not None and route.ifname else None
            if onward is None or onward[0] == ns:
                return peer
            peer = onward
        return peer


# join keys, read in C: the tuple a packet arrived with (original), and the
# one it left with (the reply reversed); icmp keys its id instead of ports
IN_KEY, OUT_KEY = itemgetter(0, 5, 6, 7, 8), itemgetter(0, 12, 11, 14, 13)
IN_ICMP, OUT_ICMP = itemgetter(0, 5, 6, 19), itemgetter(0, 12, 11, 22)


def step(routes: Routes, ns: str, e: Tracked, came: str | None) -> tuple[str, str, str] | None:
    """Where a connection's original packets leave `ns` having come in by
    `came` (None: unknown): (egress interface, next router, its interface).

    The ct mark's target routes them where it is pinned for the original
    direction, as the router's restore rules do: not when they came in by
    the target's own link (`came_by_target` clears the mark: a detour's
    router sends what comes back from the firewall's hub on by its routes),
    and after a hairpin through a firewall instance the router routes them
    on by its routes (the egress stays the instance's leg, which the path
    shows)."""
    m = e.mark
    steer = m & TARGET_MASK if m and m & ORIGINAL else 0
    if not steer:
        return routes.via(ns, e.r_src)
    hop = routes.via(ns, e.r_src, steer)
    if hop is None or hop[0] == came:
        return routes.via(ns, e.r_src)
    if routes.hairpin(ns, hop):
        after = routes.via(ns, e.r_src)
        return (hop[0], after[1], after[2]) if after is not None else (hop[0], "", "")
    return hop


def first_ingress(routes: Routes, ns: str, e: Tracked) -> str | None:
    """The interface a chain's first router got the connection on: where
    it entered from a VPC (ORIGIN), the route back to its source; else the
    way its replies leave (reply-to pins them to the leg it came in on)."""
    m = e.mark or 0
    back = routes.via(ns, e.o_src, 0 if m & ORIGIN else routed_mark(m, REPLY))
    return back[0] if back else None


def legs(routes: Routes, chain: list[Link]) -> list[tuple[str | None, str | None]]:
    """(ingress, egress) of each hop of a stitched chain, as `stitch` walked it."""
    out: list[tuple[str | None, str | None]] = []
    came = first_ingress(routes, *chain[0]) if chain else None
    for ns, e in chain:
        hop = step(routes, ns, e, came)
        out.append((came, hop[0] if hop else None))
        came = hop[2] if hop else None
    return out


def once(routes: Routes, chain: list[Link]) -> Tracked:
    """An entry of the chain that counted each packet once: a router that
    hairpins the connection through a firewall instance forwards every
    packet twice, and so does one the connection crosses twice (out to a
    firewall's hub and back). The first entry when all did."""
    first = chain[0][1]
    again = len(chain) > 1 and chain[-1][1] is first
    for k, ((ns, e), (_ingress, egress)) in enumerate(zip(chain, legs(routes, chain), strict=True)):
        peer = routes.through(ns, routes.graph.peer.get((ns, egress)), e.r_src) if egress else None
        if not (peer is not None and routes.hairpin(ns, (egress or "", *peer))) and not (again and e is first):
            return e
    return first


def stitch(routes: Routes, raw: dict[str, list[Tracked]]) -> list[list[Link]]:
    """Every connection as the routers it crossed, in order (the hot loop of
    `show flows`: 300,000 entries for 100,000 connections over three routers;
    per-namespace lists and indexes keep it to a few dict lookups each).

    A connection that entered from a VPC is walked from the router that
    marked it ORIGIN, each step knowing the interface it came in by (a
    firewall's detours and hairpins depend on it, and a router may see the
    connection twice: out to the firewall's hub and back, its last hop
    then). The rest (from the internet, or whose first router was not
    read) are joined entry by entry as before; such a chain that leads into
    a walked one (a VPC router that tracks, before the segment router) is
    its beginning."""
    index = {ns: {(IN_KEY(e) if e.o_id is None else IN_ICMP(e)): i for i, e in enumerate(entries)} for ns, entries in raw.items()}
    seen = {ns: bytearray(len(entries)) for ns, entries in raw.items()}
    walked = {(ns, i): _walk(routes, raw, index, seen, ns, i) for ns, entries in raw.items() for i, e in enumerate(entries)
              if e.mark and e.mark & ORIGIN and not seen[ns][i]}  # fmt: skip
    heads = dict(walked)  # each walked chain takes one chain leading into it
    rest = []
    for chain in _joined(routes, raw, index, seen):
        into = _leads_into(routes, index, chain[-1])
        ahead = heads.pop(into, None) if into is not None else None
        if ahead is None:
            rest.append(chain)
        else:
            ahead[:0] = chain
    return [*walked.values(), *rest]


def _leads_into(routes: Routes, index: dict[str, dict[Any, int]], last: Link) -> tuple[str, int] | None:
    """The entry (namespace, index) `last` leads into, if any: where a
    walked chain starts, a VPC router that tracks (one with endpoints) saw
    the connection before the segment router that marked it ORIGIN."""
    ns, e = last
    hop = step(routes, ns, e, None)
    where = index.get(hop[1]) if hop else None
    j = where.get(OUT_KEY(e) if e.r_id is None else OUT_ICMP(e)) if where is not None and hop is not None else None
    return (hop[1], j) if hop is not None and j is not None else None


def _walk(routes: Routes, raw: dict[str, list[Tracked]], index: dict[str, dict[Any, int]], seen: dict[str, bytearray],
          ns: str, i: int) -> list[Link]:
    """One connection from the router it entered by."""
    e = raw[ns][i]
    seen[ns][i] = 1
    chain = [(ns, e)]
    came = first_ingress(routes, ns, e)
    while len(chain) < 64:
        hop = step(routes, ns, e, came)
        where = index.get(hop[1]) if hop else None
        j = where.get(OUT_KEY(e) if e.r_id is None else OUT_ICMP(e)) if where is not None else None
        if hop is None or j is None:
            break
        ns, came, e = hop[1], hop[2], raw[hop[1]][j]
        chain.append((ns, e))
        if seen[ns][j]:  # back in a router it crossed: its last hop here
            break
        seen[ns][j] = 1
    return chain


def _joined(routes: Routes, raw: dict[str, list[Tracked]], index: dict[str, dict[Any, int]], seen: dict[str, bytearray]) -> list[list[Link]]:
    """The entries no walk took, joined to the next router's entry (one
    dict lookup each) and read off from those nothing leads to."""
    nxt: dict[str, list[tuple[str, int] | None]] = {}
    taken = {ns: bytearray(done) for ns, done in seen.items()}
    for ns, entries in raw.items():
        ahead = nxt[ns] = [None] * len(entries)
        done = seen[ns]
        towards: dict[Any, tuple[str, dict[Any, int], bytearray] | None] = {}  # the leaving destination (and steering mark) -> next table
        for i, e in enumerate(entries):
            if done[i]:
                continue
            steer = (m & TARGET_MASK if m & ORIGINAL else 0) if (m := e.mark) else 0  # a firewall's steering routes by the mark
            way = (e.r_src, steer) if steer else e.r_src
            where = towards.get(way, MISSING)
            if where is MISSING:
                hop = step(routes, ns, e, None)  # the leaving packet's destination is the reply's source
                where = towards[way] = (hop[1], index[hop[1]], taken[hop[1]]) if hop and hop[1] in index else None
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
