"""Firewall steering as the walk needs it: the mark a router gives a
connection's first packet, predicted (engine/compile/steering.py makes the
real one).

A walk follows one connection's first packet, in its original direction,
so of the pins a router makes only those whose mode covers that direction
matter: a hairpin's (both), a detour's and a wire entry's (original), the
first that pins (a pin never overwrites another target); reply-to pins
come after them and steer no first packet. A packet that arrives by the
very leg its target leaves by is routed normally, as `came_by_target`
makes the kernel do. The instance comes from the jhash replica
(engine/jhash.py) over the packet as the router sees it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from engine.compile.topology import fabric_of
from engine.datapath.graph import Namespace
from engine.datapath.model import Model
from engine.datapath.packet import Packet, ip_int
from engine.fwflows import Passages
from engine.inspection import Detour, Edge, Hairpin, Layout, Side, Wire, layout_of
from engine.jhash import choose
from engine.marks import mark_of
from engine.memo import derived
from engine.shares import offers, other

Net = ipaddress.IPv4Network


@dataclass
class Facts:
    """The layout of a running lab, indexed per router for walks."""

    layout: Layout
    passages: Passages
    hairpins: dict[str, dict[str, Hairpin]] = field(default_factory=dict)  # router -> firewall -> hairpin
    detours: dict[str, dict[str, Detour]] = field(default_factory=dict)  # router -> firewall -> detour
    own: dict[str, tuple[Net, ...]] = field(default_factory=dict)  # segment -> its VPCs' prefixes
    share_entries: dict[str, list[tuple[Wire, Side, tuple[Net, ...]]]] = field(default_factory=dict)
    internet_entries: dict[str, list[tuple[Wire, Side]]] = field(default_factory=dict)
    edges: dict[str, Edge] = field(default_factory=dict)
    legs: dict[tuple[str, str], str] = field(default_factory=dict)  # (router, its leg towards an instance) -> firewall


def facts(model: Model) -> Facts:
    """The model's steering facts (built once per model)."""
    return derived(model, "_steering_facts", lambda: _build(model))


def _build(model: Model) -> Facts:
    config = model.config
    layout = layout_of(model.lab, config, fabric_of(model.lab, config))
    f = Facts(layout, Passages(config, layout))
    for h in layout.hairpins:
        f.hairpins.setdefault(h.side.ns, {})[h.firewall] = h
    for d in layout.detours:
        f.detours.setdefault(d.ns, {})[d.firewall] = d
    for w in layout.wires:
        if w.kind == "internet":
            f.internet_entries.setdefault(w.a.ns, []).append((w, w.a))
            continue
        share = config.require("resource-share", w.name)
        for side, end in ((w.a, "end-a"), (w.b, "end-b")):
            received = tuple(o.seen for o in offers(config, share, other(end)))
            f.share_entries.setdefault(side.ns, []).append((w, side, received))
    for e in layout.edges:
        f.edges[e.ns] = e
    for side, firewall in [(h.side, h.firewall) for h in layout.hairpins] + [(s, w.firewall) for w in layout.wires for s in (w.a, w.b)]:
        f.legs.update({(side.ns, leg): firewall for leg in side.ifnames})
    for seg in config.segments:
        f.own[seg.name] = tuple(n for v in config.vpcs_in(seg.name) for c in v.cidrs if (n := _net(c)) is not None)
    return f


def _net(text: str) -> Net | None:
    try:
        return ipaddress.IPv4Network(text)
    except ValueError:
        return None


def _inside(nets: tuple[Net, ...], address: str) -> bool:
    addr = ipaddress.IPv4Address(address)
    return any(addr in n for n in nets)


def router_mark(model: Model, ns: Namespace, ingress: str, pkt: Packet) -> int:
    """The packet mark a segment router gives a new connection's first
    packet after its DNAT (0: routed by the main table): the first of its
    classifications that pins, in the chain's order, unless the packet
    arrived by the very leg that target leaves by."""
    pinned = _classified(model, ns, ingress, pkt)
    if pinned is None or pinned[1] == ingress:
        return 0
    return mark_of(pinned[0])


def _classified(model: Model, ns: Namespace, ingress: str, pkt: Packet) -> tuple[int, str] | None:
    """(target, the leg it leaves by) of the first classification that pins."""
    f = facts(model)
    layout = f.layout
    where = model.router_at(ns.ns)
    hairpins, detours = f.hairpins.get(ns.ns, {}), f.detours.get(ns.ns, {})
    own = f.own.get(where[0], ()) if where else ()
    legs = {leg for h in hairpins.values() for leg in h.side.ifnames}
    if where and (hairpins or detours) and ingress not in legs and _inside(own, pkt.src) and _inside(own, pkt.dst):
        judge = model.judge(where[0])
        decided = judge.decide(pkt.proto_number, ip_int(pkt.src), ip_int(pkt.dst), pkt.dport or 0) if judge else None
        if decided is not None and decided.action == "inspect":
            entry = next(e for e in model.config.require("segment", where[0]).policies if e.seq == decided.seq)
            hairpin, detour = hairpins.get(entry.firewall or ""), detours.get(entry.firewall or "")
            if hairpin is not None:
                return _picked(layout, hairpin.side, hairpin.firewall, pkt)
            if detour is not None:
                return layout.target(ns.ns, detour.key), detour.ifname
    for wire, side, received in f.share_entries.get(ns.ns, ()):
        if ingress not in side.ifnames and _inside(received, pkt.dst):
            return _picked(layout, side, wire.firewall, pkt)
    for wire, side in f.internet_entries.get(ns.ns, ()):
        route = ns.table().lookup(ip_int(pkt.dst))  # the kernel's `fib daddr oifname`: the main table
        if ingress not in side.ifnames and route is not None and route.ifname in side.ifnames:
            return _picked(layout, side, wire.firewall, pkt)
    return None


def _picked(layout: Layout, side: Side, firewall: str, pkt: Packet) -> tuple[int, str]:
    """(target, leg) of the instance jhash picks for the packet."""
    count = len(layout.instances[firewall])
    number = choose(pkt.src, pkt.dst, pkt.proto_number, pkt.sport, pkt.dport, count) + 1
    return layout.target(side.ns, side.key, number), side.ifnames[number - 1]


def returning(model: Model, ns: str, ingress: str) -> bool:
    """Is this packet coming back from a hairpinned firewall instance? (The
    forward chain accepts it: the policy judged it on its way there.)"""
    return any(ingress in h.side.ifnames for h in facts(model).hairpins.get(ns, {}).values())
