"""A walk: the namespaces a connection's first packet crosses, and the verdict.

What every namespace does alike lives here, as the kernel does it: a
packet for one of the namespace's own addresses is delivered; otherwise
the route is the longest prefix of the table the role's handler chooses
(an `unreachable` route or no route stops it, with an ICMP error); the
next hop is the route's gateway or the destination itself, and it must be
answered for by ARP beyond the egress interface: a veth's peer namespace,
or a host behind a bridge port. A frame switched by a VPC router's bridge
(host to host in one subnet) is a hop of that router with bridge ports as
its interfaces. Role handlers (engine/datapath/handler.py) add NAT,
filters and steering at netfilter's points.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.datapath.graph import Namespace
from engine.datapath.handler import Drop, handler_for
from engine.datapath.model import Model
from engine.datapath.packet import Hop, Outcome, Packet, ip_int

MAX_HOPS = 32


@dataclass(frozen=True)
class Walk:
    """The predicted path of one packet and how it ends."""

    hops: tuple[Hop, ...]
    outcome: Outcome
    final: Packet  # the packet as it stands where the walk ended (after that hop's NAT)


@dataclass(frozen=True)
class _Next:
    ns: str
    ingress: str
    switched: Hop | None = None  # a bridge hop on the way (a VPC router switching host to host)


def walk(model: Model, src_ns: str, pkt: Packet, target_ns: str | None = None) -> Walk:
    """Follow `pkt`, sent by namespace `src_ns`, to where it ends.

    With `target_ns` (the TARGET was a host name), a packet delivered to
    any other namespace is unreachable: with overlapping addresses the same
    address elsewhere is not the host that was meant."""
    hops: list[Hop] = []
    ns, ingress = src_ns, None
    visited: set[tuple[str, str | None, Packet]] = set()
    for _ in range(MAX_HOPS):
        if (ns, ingress, pkt) in visited:
            return _end(hops, Outcome(False, f"routing loop at {model.graph.space(ns).node}", ns), pkt)
        visited.add((ns, ingress, pkt))
        hop, nxt, pkt, outcome = _through(model, model.graph.space(ns), ingress, pkt)
        hops.append(hop)
        if outcome is not None:
            return _end(hops, _check_target(model, outcome, target_ns), pkt)
        assert nxt is not None
        if nxt.switched is not None:
            hops.append(nxt.switched)
        ns, ingress = nxt.ns, nxt.ingress
    return _end(hops, Outcome(False, f"more than {MAX_HOPS} hops (a routing loop?)", ns), pkt)


def _end(hops: list[Hop], outcome: Outcome, pkt: Packet) -> Walk:
    return Walk(tuple(hops), outcome, pkt)


def _check_target(model: Model, outcome: Outcome, target_ns: str | None) -> Outcome:
    if target_ns is None or not outcome.delivered or outcome.stopped_at == target_ns:
        return outcome
    meant = model.graph.space(target_ns).node if target_ns in model.graph.spaces else target_ns
    reached = model.graph.space(outcome.stopped_at).node
    return Outcome(False, f"the packet reached {reached}, not {meant} (the same address elsewhere)",
                   outcome.stopped_at, delivered=True, refused=outcome.refused)


def _hop(space: Namespace, ingress: str | None, egress: str | None, pkt: Packet, rule: str | None, route: str | None = None) -> Hop:
    return Hop(space.node, space.role, ingress, egress, pkt.src, pkt.dst, pkt.sport, pkt.dport, rule, space.ns, route)


Step = tuple[Hop, _Next | None, Packet, Outcome | None]


def _stop(space: Namespace, ingress: str | None, pkt: Packet, drop: Drop, rule: str | None = None) -> Step:
    outcome = Outcome(False, drop.reason, space.ns, refused=drop.refused)
    return _hop(space, ingress, None, pkt, rule or drop.rule), None, pkt, outcome


def _through(model: Model, space: Namespace, ingress: str | None, arrived: Packet) -> Step:
    """One namespace: its hop, where the packet goes next (or its outcome)."""
    handler = handler_for(space.role)
    pkt = arrived
    if ingress is not None:
        got = handler.prerouting(model, space, ingress, arrived)
        if isinstance(got, Drop):
            return _stop(space, ingress, arrived, got)
        pkt = got
    if space.holds(ip_int(pkt.dst)):
        outcome = handler.deliver(model, space, pkt)
        if ingress is None:  # to itself: out and back in by loopback
            return _hop(space, "lo", "lo", pkt, None), None, pkt, outcome
        return _hop(space, ingress, None, arrived, None), None, pkt, outcome
    if ingress is not None and not handler.forwards:
        return _stop(space, ingress, arrived, Drop("not forwarding", f"{space.node} does not forward packets"))
    route = space.lookup(ip_int(pkt.dst), pkt.mark, ingress)
    if route is None:
        return _stop(space, ingress, arrived, Drop("no route", f"{space.node} has no route to {pkt.dst}", refused=True))
    if route.kind == "unreachable" or route.ifname is None:
        drop = Drop(f"route {route.dst} unreachable", f"{space.node} refuses {pkt.dst}: route {route.describe()}", refused=True)
        return _stop(space, ingress, arrived, drop)
    rule: str | None = None
    if ingress is not None:
        decided = handler.forward(model, space, ingress, route.ifname, pkt)
        if isinstance(decided, Drop):
            return _stop(space, ingress, arrived, decided)
        rule = decided
    out = handler.postrouting(model, space, ingress, route.ifname, pkt)
    nxt = _neighbour(model, space, route.ifname, route.gateway or out.dst, out)
    if nxt is None:
        gateway = route.gateway or out.dst
        drop = Drop("no neighbour", f"nothing answers ARP for {gateway} on {route.ifname} of {space.node}", refused=True)
        return _stop(space, ingress, arrived, drop, rule)
    return _hop(space, ingress, route.ifname, out, rule, route.describe()), nxt, out, None


def _neighbour(model: Model, space: Namespace, egress: str, nexthop: str, pkt: Packet) -> _Next | None:
    """The namespace that answers ARP for `nexthop` beyond `egress`."""
    graph = model.graph
    want = ip_int(nexthop)
    if egress in space.bridges:
        for port in graph.ports.get((space.ns, egress), ()):
            peer = graph.peer.get((space.ns, port))
            if peer and graph.space(peer[0]).holds(want):
                return _Next(peer[0], peer[1])
        return None
    peer = graph.peer.get((space.ns, egress))
    if peer is None:
        return None
    peer_space = graph.space(peer[0])
    bridge = peer_space.master.get(peer[1])
    if bridge is None:
        return _Next(peer[0], peer[1]) if peer_space.holds(want) else None
    if peer_space.holds(want):
        return _Next(peer[0], bridge)  # routed in through the bridge, which holds the gateway
    for port in graph.ports.get((peer[0], bridge), ()):
        far = graph.peer.get((peer[0], port))
        if port != peer[1] and far and graph.space(far[0]).holds(want):
            switched = _hop(peer_space, peer[1], port, pkt, None)
            return _Next(far[0], far[1], switched)
    return None


def from_host(model: Model, host: str, address: str, proto: str, dport: int | None = None,
              sport: int | None = None, target_host: str | None = None) -> Walk:  # fmt: skip
    """The walk of a probe from a host, as `trace`, `verify` and `assert` send it:
    from the host's own address; `target_host` when TARGET named a host."""
    ns = model.host_ns(host)
    found = model.host_at(ns)
    if found is None:
        raise KeyError(f"host {host} is not in the running configuration")
    pkt = Packet(proto, found[1].address, address, sport if proto != "icmp" else None, dport if proto != "icmp" else None)
    return walk(model, ns, pkt, model.host_ns(target_host) if target_host else None)
