"""The connections a commit ends (docs/design.md, "A commit ends what it
removes or refuses").

Conntrack keeps a connection for as long as its packets come, whatever a
commit changes: a link removed under it leaves its entries ESTABLISHED,
with their NAT bindings, on every router it crossed (so `show flows` and
the monitor list a connection that can no longer pass), and a policy or a
firewall's rules see only new connections. So after a commit is applied:

1. the namespaces the change concerns are read (the routers at the ends of
   removed links and next to them, the routers whose segment policy
   changed, the routers that steer into a firewall whose rules changed)
   and each entry is judged on its own (`concerned`): usually none is
   concerned, and nothing else is read;
2. otherwise every flow namespace is read and stitched into connections
   (engine/stitch.py, by the plan the connections were made under), and
   each connection with a concerned entry is ended whole, on every router
   it crossed (`whole`): deleted where the commit removed its path, marked
   refused where a new policy or new firewall rules refuse it.

Why deleted in one case and marked in the other: a refused connection must
stay known, since with `nf_conntrack_tcp_loose` (the default) a deleted TCP
connection is picked up again by its next packet and judged in whichever
direction that packet goes: the server's side of a connection a new "deny
inbound" refused would be admitted (the same holds for a firewall's rule).
A connection whose path is gone has nothing refusing it: deleted, it
leaves no entry and no NAT binding behind, and a later packet of it is a
new connection to the kernel, routed and judged by the configuration of
the moment like any other (where the path was removed, it goes nowhere it
could be answered). But for a removed firewall instance whose firewall
still inspects the link (`Removed`): marked, as refused.
"""

from __future__ import annotations

import ipaddress
import socket
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.datapath import Model, Packet, steering
from engine.datapath.handler import Drop, handler_for
from engine.diff import Op, reloaded_tables
from engine.items import NftItem, VethItem
from engine.marks import ORIGINAL, REPLY, TARGET_MASK, routed_mark
from engine.origin import Origin
from engine.plan import Plan
from engine.ports import PROTO_NAMES, Tracked
from engine.stitch import IN_ICMP, IN_KEY, OUT_ICMP, OUT_KEY, Link, Routes, stitch

End = tuple[str, str]  # (namespace, interface): one end of a link
EntryKey = tuple[object, ...]  # a conntrack entry's identity in its namespace (its original tuple and zone)
LIVE_TCP = {1, 2, 3}  # SYN_SENT, SYN_RECV, ESTABLISHED: states worth refusing; udp/icmp have none
FABRIC = ipaddress.ip_network("169.254.0.0/16")


def key_of(ns: str, e: Tracked) -> EntryKey:
    """An entry's identity, the same in two readings (its counters change)."""
    return ns, e.proto, e.o_src, e.o_dst, e.o_sport, e.o_dport, e.o_id, e.zone


# --- what the commit changed --------------------------------------------------------


@dataclass(frozen=True)
class Removed:
    """A link the commit removed: what it was (its alias), and whether the
    connections across it are deleted (their path is gone) or marked
    refused (the leg of a firewall instance whose firewall still inspects
    that link: the firewall still stands in the path, but its state of the
    connection went with the instance, so the connection must not be picked
    up again as new, by another instance or around the firewall)."""

    what: str
    delete: bool


@dataclass(frozen=True)
class Change:
    """What a commit changed that may end connections."""

    removed: dict[End, Removed] = field(default_factory=dict)  # every end of a link it removed -> what the link was
    policies: dict[str, str] = field(default_factory=dict)  # router -> the segment whose policy changed there
    firewalls: frozenset[str] = frozenset()  # firewalls whose instances' tables changed
    started_ns: int = 0  # entries made from then on are the new plan's (CLOCK_REALTIME ns)

    def __bool__(self) -> bool:
        return bool(self.removed or self.policies or self.firewalls)


def may_end(old: Plan, ops: Iterable[Op]) -> bool:
    """Could `ops` end anything? Only a veth of the old plan removed or
    re-made, or a table (re)loaded, can (what `change_of` looks at). Checked
    from the operations alone, before the two models are built: those cost
    0.35 s at 1,000 VPCs, and most commits (a VPC added) touch neither."""
    return any(isinstance(op.item, (VethItem, NftItem)) and (op.action == "add" and isinstance(op.item, NftItem)
                                                            or op.item.key in old.items)
               for op in ops)  # fmt: skip


def change_of(old: Model, new: Model, ops: Iterable[Op], started: float) -> Change:
    """What `ops` (old -> new) removed and re-judge; `started`: when the
    kernel began to change (time.time())."""
    ops = list(ops)
    readded = {op.item.key for op in ops if op.action == "add"}
    staying = _inspected(new)
    removed: dict[End, Removed] = {}
    for item in old.plan.of_kind("veth"):
        if isinstance(item, VethItem) and (item.key not in new.plan.items or item.key in readded):
            ends = ((item.ns, item.ifname), (item.peer_ns, item.peer_ifname))
            what = _alias(old.plan, *ends[0]) or _alias(old.plan, *ends[1]) or f"link {item.ifname}"
            link = next((got for end in ends if (got := _inspected(old).get(end)) is not None), None)
            removed[ends[0]] = removed[ends[1]] = Removed(what, link is None or link not in staying.values())
    firewalls = frozenset(src.name for table, before in reloaded_tables(old.plan, ops)
                          if before is not None and before.ruleset != table.ruleset and _role(new.plan, table.ns) == "firewall"
                          for src in table.sources if src.scope == "firewall")  # fmt: skip
    return Change(removed, policy_namespaces(old.plan, ops), firewalls, int(started * 1e9))


def _inspected(model: Model) -> dict[End, tuple[str, ...]]:
    """A router's leg to a firewall instance -> the inspected link it belongs
    to (a segment's hairpin, a share's or an edge's wire, with the firewall)."""
    layout = steering.facts(model).layout
    out: dict[End, tuple[str, ...]] = {}
    for h in layout.hairpins:
        out.update({(h.side.ns, leg): ("hairpin", h.firewall, h.segment) for leg in h.side.ifnames})
    for w in layout.wires:
        out.update({(side.ns, leg): ("wire", w.firewall, w.kind, w.name) for side in (w.a, w.b) for leg in side.ifnames})
    return out


def _role(plan: Plan, ns: str) -> str:
    return str(getattr(plan.items.get(("ns", ns)), "role", ""))


def _alias(plan: Plan, ns: str, ifname: str) -> str:
    conf = plan.items.get(("conf", ns, ifname))
    alias = getattr(conf, "alias", "") or ""
    return alias.split(":", 1)[-1]


def policy_namespaces(old: Plan, ops: Iterable[Op]) -> dict[str, str]:
    """Namespace -> segment, for every table a commit (re)loaded whose segment
    policy changed (by the digests of its counted entries): where admitted
    connections must be judged again. A share or NAT change reloads a table
    too, but leaves its policy, and its connections, alone."""
    out = {}
    for item, before in reloaded_tables(old, ops):
        policy = _segment_counters(item)
        if policy and policy != (_segment_counters(before) if before else {}):
            out[item.ns] = next(src.name for src in item.sources if src.scope == "segment")
    return out


def _segment_counters(table: NftItem) -> dict[str, str]:
    """Comment -> digest of the table's segment policy counters."""
    return {c: d for c, d in table.counted if (o := Origin.parse(c)) is not None and o.scope == "segment"}


def first_spaces(change: Change, old: Model, new: Model, tracking: set[str]) -> list[str]:
    """The flow namespaces (`tracking`) to read first: at the ends of removed
    links or one namespace away (a removed host's connections are tracked by
    its segment's router, past its VPC router), the routers whose policy
    changed, the routers steering into a firewall whose rules changed."""
    near = {ns for ns, _if in change.removed}
    near |= {n for ns in list(near) for n in old.graph.neighbours(ns)}
    layout = steering.facts(new).layout
    pinning = {h.side.ns for h in layout.hairpins if h.firewall in change.firewalls}
    pinning |= {s.ns for w in layout.wires if w.firewall in change.firewalls for s in (w.a, w.b)}
    return sorted((near | set(change.policies) | pinning) & tracking)


# --- entries concerned, each on its own ------------------------------------------------


@dataclass
class Found:
    """Entries concerned: crossing a removed link (-> what it was), refused (-> by what)."""

    removed: dict[EntryKey, Removed] = field(default_factory=dict)
    refused: dict[EntryKey, str] = field(default_factory=dict)  # -> what refuses it ("the new policy refuses")

    def __bool__(self) -> bool:
        return bool(self.removed or self.refused)


def concerned(change: Change, old: Model, new: Model, raw: dict[str, list[Tracked]], tracking: set[str]) -> Found:
    """The entries of `raw` the change ends: those made before it that crossed
    a removed link (by the old plan's routes), those a changed policy or
    changed firewall rules now refuse (by the new configuration).
    `tracking`: every flow namespace (where a connection's way is tracked)."""
    found = Found()
    routes = Routes(old.graph)
    refusing = _Refusals(change, new)
    for ns, entries in raw.items():
        for e in entries:
            if change.removed and (e.start_ns is None or e.start_ns < change.started_ns):
                what = _crossed(old, routes, ns, e, change.removed, tracking)
                if what is not None:
                    found.removed[key_of(ns, e)] = what
                    continue
            why = refusing.why(ns, e)
            if why is not None:
                found.refused[key_of(ns, e)] = why
    return found


def _crossed(model: Model, routes: Routes, ns: str, e: Tracked, removed: dict[End, Removed], tracking: set[str]) -> Removed | None:
    """What removed link the entry's connection crossed here: the way it
    came in (towards its source) or goes out (towards the reply's source),
    followed past namespaces that track nothing to the address's holder."""
    for address, direction in ((e.o_src, REPLY), (e.r_src, ORIGINAL)):
        hop = routes.via(ns, address, routed_mark(e.mark, direction))
        if hop is None:
            continue
        for end in _ends(model, ns, hop[0], int.from_bytes(address, "big"), tracking):
            if end in removed:
                return removed[end]
    return None


def _ends(model: Model, ns: str, ifname: str, address: int, tracking: set[str]) -> list[End]:
    """The link ends a packet to `address` crosses leaving `ns` by `ifname`:
    a bridge by the port whose far end holds the address, then on through
    namespaces that track nothing (a VPC router without a table, a firewall
    instance) until the address's holder or a router that tracks."""
    graph = model.graph
    out: list[End] = []
    for _ in range(4):
        space = graph.spaces.get(ns)
        if space is None:
            break
        if ifname in space.bridges:
            port = next((p for p in graph.ports.get((ns, ifname), ())
                         if (far := graph.peer.get((ns, p))) and far[0] in graph.spaces and graph.spaces[far[0]].holds(address)), None)  # fmt: skip
            if port is None:
                break
            ifname = port
        out.append((ns, ifname))
        peer = graph.peer.get((ns, ifname))
        if peer is None:
            break
        out.append(peer)
        ns = peer[0]
        nxt = graph.spaces.get(ns)
        if ns in tracking or nxt is None or nxt.holds(address):
            break
        route = nxt.lookup(address, 0, peer[1])
        if route is None or route.ifname is None:
            break
        ifname = route.ifname
    return out


class _Refusals:
    """Whether a live entry is refused by a changed policy (the segment's
    judge on the tuple the forward chain saw) or by a changed firewall's
    rules (the data-path model's firewall handler, on the packet as the
    instance saw it, between the legs the router's pinned mark names)."""

    def __init__(self, change: Change, model: Model) -> None:
        self.change = change
        self.model = model
        config = model.config
        self.gateways = {socket.inet_aton(str(ipaddress.ip_network(sn.prefix).network_address + 1)) for v in config.vpcs for sn in v.subnets}
        self.passages = steering.facts(model).passages if change.firewalls else None
        self.instances = {(i.firewall, i.number): i.ns for group in steering.facts(model).layout.instances.values() for i in group} \
            if change.firewalls else {}  # fmt: skip

    def why(self, ns: str, e: Tracked) -> str | None:
        if e.proto not in (1, 6, 17) or (e.proto == 6 and e.state not in LIVE_TCP):
            return None
        if any(a in self.gateways or ipaddress.IPv4Address(a) in FABRIC for a in (e.o_src, e.o_dst)):
            return None  # to or from a router itself: never forwarded, never judged
        segment = self.change.policies.get(ns)
        judge = self.model.judge(segment) if segment else None
        if judge is not None and judge.decide(e.proto, int.from_bytes(e.o_src, "big"), int.from_bytes(e.r_src, "big"), e.r_sport or 0).action == "deny":
            return "the new policy refuses"
        return self._firewall(ns, e)

    def _firewall(self, ns: str, e: Tracked) -> str | None:
        if self.passages is None or not e.mark or not e.mark & TARGET_MASK:
            return None
        passage = self.passages.of(ns, e.mark)
        if passage is None or passage.firewall not in self.change.firewalls:
            return None
        inst = self.instances.get((passage.firewall, passage.instance))
        space = self.model.graph.spaces.get(inst or "")
        if space is None:
            return None
        # entering the firewall's link here: as the packet left (the reply reversed, after NAT); else as it arrived
        src, dst, sport, dport = (e.r_dst, e.r_src, e.r_dport, e.r_sport) if passage.entered_here else (e.o_src, e.o_dst, e.o_sport, e.o_dport)
        pkt = Packet(PROTO_NAMES[e.proto], socket.inet_ntoa(src), socket.inet_ntoa(dst), sport, dport)
        verdict = handler_for("firewall").forward(self.model, space, passage.src.ifname, passage.dst.ifname, pkt)
        return f"the new rules of firewall {passage.firewall} refuse" if isinstance(verdict, Drop) else None


# --- whole connections ---------------------------------------------------------------


@dataclass
class Ending:
    """Entries to delete and to mark refused, per namespace, and how many
    connections for what."""

    delete: dict[str, list[Tracked]] = field(default_factory=dict)
    refuse: dict[str, list[Tracked]] = field(default_factory=dict)
    removed: Counter[str] = field(default_factory=Counter)  # what was removed -> connections across it
    refused: Counter[str] = field(default_factory=Counter)  # what refuses -> connections

    def messages(self) -> tuple[str, ...]:
        """The commit's lines about what it ended."""
        out = []
        if self.removed:
            parts = ", ".join(f"{what} ({n})" for what, n in sorted(self.removed.items()))
            out.append(f"ended {sum(self.removed.values())} connection(s) across what the commit removed: {parts}")
        out += [f"ended {n} connection(s) {why}" for why, n in sorted(self.refused.items())]
        return tuple(out)


def whole(model: Model, raw: dict[str, list[Tracked]], found: Found) -> Ending:
    """Each connection of `raw` (stitched by `model`'s routes: the plan it
    was made under; pieces a removed router had joined made one again) with
    an entry `found` concerned, ended on every router it crossed: deleted
    where its path is gone, else marked refused."""
    out = Ending()
    routes = Routes(model.graph)
    for chain in _across_gaps(routes, raw, stitch(routes, raw)):
        keys = [key_of(ns, e) for ns, e in chain]
        gone = next((found.removed[k] for k in keys if k in found.removed), None)
        why = None if gone is not None else next((found.refused[k] for k in keys if k in found.refused), None)
        if gone is None and why is None:
            continue
        into = out.delete if gone is not None and gone.delete else out.refuse
        for k, (ns, e) in enumerate(chain):
            if all(e is not f for _n, f in chain[:k]):  # a router crossed twice (out to a firewall's hub and back) once
                into.setdefault(ns, []).append(e)
        if gone is not None:
            out.removed[gone.what] += 1
        else:
            out.refused[why or ""] += 1
    return out


def _across_gaps(routes: Routes, raw: dict[str, list[Tracked]], chains: list[list[Link]]) -> list[list[Link]]:
    """The stitched chains, with those a removed router had joined made one
    again: the commit took that router's entries with it, so a connection
    that crossed it is read as two pieces (one connection, not two). A
    piece continues another when the packet leaving the other's last
    router, past routers that are gone (by the old plan's routes), reaches
    the piece's first router with the tuple it was tracked under there
    (a removed router that NATed breaks the match: counted twice then)."""
    heads = {(c[0][0], _in_key(c[0][1])): k for k, c in enumerate(chains)}
    follows: dict[int, int] = {}  # piece -> the piece it continues
    for k, chain in enumerate(chains):
        ns, e = chain[-1]
        reached = _past_gone(routes, raw, ns, e)
        nxt = heads.get((reached, OUT_KEY(e) if e.r_id is None else OUT_ICMP(e))) if reached else None
        if nxt is not None and nxt != k and nxt not in follows:
            follows[nxt] = k
    ahead = {v: k for k, v in follows.items()}
    out = []
    for k in range(len(chains)):
        if k in follows:
            continue  # a continuation: joined to the piece before it
        joined, seen, j = list(chains[k]), {k}, ahead.get(k)
        while j is not None and j not in seen:
            seen.add(j)
            joined += chains[j]
            j = ahead.get(j)
        out.append(joined)
    return out


def _in_key(e: Tracked) -> tuple[object, ...]:
    return tuple(IN_KEY(e) if e.o_id is None else IN_ICMP(e))


def _past_gone(routes: Routes, raw: dict[str, list[Tracked]], ns: str, e: Tracked) -> str | None:
    """The first namespace that was read which a connection's packets leaving
    `ns` reach past at least one router that was not (removed), or None."""
    hop = routes.via(ns, e.r_src, routed_mark(e.mark, ORIGINAL))
    for depth in range(4):
        if hop is None or not hop[1]:
            return None
        if hop[1] in raw:
            return hop[1] if depth else None
        hop = routes.via(hop[1], e.r_src)
    return None
