"""Where firewalls and internet edges sit in the fabric: one pure layout.

The compiler, the data-path model and the views all need the same facts:
which namespaces a firewall's instances are, which links run through them,
what each leg is called at both of its ends, which routing target a router
pins for a link. `layout_of` computes them once from the Config and the
compile Fabric (docs/design.md, "Firewalls and the internet edge"):

- a *hairpin*: a segment whose policy inspects with a firewall; the
  segment's router on the firewall's hub has one leg to each instance and
  the instance sends the connection back out the leg it came in on;
- a *wire*: a link that runs through every instance, one pair of legs per
  instance: an inspected share (end-a router, instance, end-b router) or an
  inspected internet edge's link to one of its segments (segment router,
  instance, edge router);
- a *detour*: a router of an inspected segment on another hub, which sends
  inspected connections over its backbone link to the firewall's hub;
- an *edge*: an internet edge's router, its legs (direct or wires) and its
  public hosts.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from engine import marks
from engine.compile import naming
from engine.compile.topology import Fabric, share_link_hub, vpc_hubs
from engine.model import Config, Firewall, Internet

ZONE_IDS = 65000  # conntrack zone ids used (1..ZONE_IDS); 0 is the default zone


@dataclass(frozen=True)
class Instance:
    """One firewall instance: a namespace with a fabric address on lo."""

    firewall: str
    number: int  # 1..8
    ns: str
    address: str


@dataclass(frozen=True)
class Side:
    """One router's end of a steered link: its leg per instance (one leg for
    a direct link), the block of targets it pins them with, and the name of
    the leg inside each instance that faces this router."""

    ns: str
    address: str  # the router's fabric address: the instances' gateway towards it
    ifnames: tuple[str, ...]  # the router's leg to instance 1, 2, ...
    key: str  # its target block in `ns` (engine/marks.py)
    inst_if: str  # the leg's name inside every instance


@dataclass(frozen=True)
class Hairpin:
    """A segment's policy inspects with `firewall`: the segment's router on the
    firewall's hub hairpins inspected connections through an instance."""

    firewall: str
    segment: str
    side: Side
    zone: int  # conntrack zone of the leg inside the instances


@dataclass(frozen=True)
class Wire:
    """A link that runs through every instance of `firewall`: `a` and `b` are
    its two routers (a share's end-a and end-b; an edge's segment router and
    the edge router), instance i joins a.ifnames[i] and b.ifnames[i]."""

    kind: str  # share | internet
    name: str  # the share, or the internet edge
    firewall: str
    a: Side
    b: Side
    zone: int  # conntrack zone of both legs inside the instances
    segment: str | None = None  # internet wires: the segment served


@dataclass(frozen=True)
class Detour:
    """A router of an inspected segment on another hub: it sends inspected
    connections to the firewall's hub over its backbone link, and answers
    connections that arrive from there back over it."""

    segment: str
    firewall: str
    ns: str
    hub: str  # the firewall's hub
    gateway: str  # the segment's router there
    ifname: str  # the backbone link towards it
    key: str


@dataclass(frozen=True)
class EdgeLeg:
    """An internet edge's link to one of its segments: direct, or a wire."""

    segment: str
    router: Side  # the segment's router on the edge's hub (direct: one leg)
    edge: Side  # the edge router's end
    wire: Wire | None
    ct_zone: int  # the segment's conntrack zone (original direction) in the edge router


@dataclass(frozen=True)
class PublicSpot:
    """A public host: its namespace and its port on the edge router."""

    name: str
    address: str
    ns: str
    edge_if: str


@dataclass(frozen=True)
class Edge:
    """An internet edge: its router namespace, legs and public hosts."""

    name: str
    hub: str
    ns: str
    address: str
    config: Internet
    legs: tuple[EdgeLeg, ...]
    hosts: tuple[PublicSpot, ...]


@dataclass(frozen=True)
class Layout:
    """Every firewall instance, steered link and edge of a configuration."""

    lab: str
    instances: dict[str, tuple[Instance, ...]] = field(default_factory=dict)
    hairpins: tuple[Hairpin, ...] = ()
    wires: tuple[Wire, ...] = ()
    detours: tuple[Detour, ...] = ()
    edges: tuple[Edge, ...] = ()
    blocks: dict[str, dict[str, int]] = field(default_factory=dict)  # ns -> link key -> first target

    def target(self, ns: str, key: str, number: int = 1) -> int:
        """The routing target of instance `number` (or of a direct link) of
        link `key` in namespace `ns`."""
        return self.blocks[ns][key] + number - 1

    def sides(self) -> Iterable[Side]:
        """Every router side that pins targets."""
        for h in self.hairpins:
            yield h.side
        for w in self.wires:
            yield w.a
            yield w.b
        for e in self.edges:
            for leg in e.legs:
                if leg.wire is None:  # the segment router answers by its default route: no target
                    yield leg.edge

    def instance_at(self, ns: str) -> Instance | None:
        """The firewall instance a namespace is, if any."""
        return next((i for group in self.instances.values() for i in group if i.ns == ns), None)

    def links_of(self, firewall: str) -> list[Hairpin | Wire]:
        """What runs through a firewall's instances."""
        return [h for h in self.hairpins if h.firewall == firewall] + [w for w in self.wires if w.firewall == firewall]


def stable_ids(keys: Iterable[str], size: int = ZONE_IDS) -> dict[str, int]:
    """Small ids 1..size, hashed from each key and probed in sorted order:
    what a key gets does not move when other keys come and go (unless two collide)."""
    out: dict[str, int] = {}
    used: set[int] = set()
    for key in sorted(set(keys)):
        i = zlib.crc32(key.encode()) % size
        while i in used:
            i = (i + 1) % size
        used.add(i)
        out[key] = i + 1
    return out


def _usable_firewalls(config: Config) -> dict[str, Firewall]:
    hubs = {c.name for c in config.objects("cxp")}
    return {f.name: f for f in config.firewalls if f.cxp in hubs and 1 <= f.instances <= 8}


def layout_of(lab: str, config: Config, fab: Fabric) -> Layout:
    """The layout of `config` (validated; what cannot be placed is left out)."""
    firewalls = _usable_firewalls(config)
    names = [f"firewall {f} {n}" for f, fw in firewalls.items() for n in range(1, fw.instances + 1)]
    names += [f"internet {e.name}" for e in config.internets]
    addresses = naming.appliance_addresses(names)
    instances = {
        f: tuple(Instance(f, n, naming.firewall_ns(lab, f, n), addresses[f"firewall {f} {n}"]) for n in range(1, fw.instances + 1))
        for f, fw in firewalls.items()
    }  # fmt: skip
    hairpins, detours = _hairpins(lab, config, fab, firewalls)
    wires = _share_wires(lab, config, fab, firewalls)
    hubs = {c.name for c in config.objects("cxp")}
    edges_ok = [_edge(lab, config, fab, e, addresses[f"internet {e.name}"], firewalls) for e in config.internets if e.cxp in hubs]
    wires += [leg.wire for e in edges_ok for leg in e.legs if leg.wire is not None]
    keys: dict[str, set[str]] = {}
    for side in Layout(lab, hairpins=tuple(hairpins), wires=tuple(wires), edges=tuple(edges_ok)).sides():
        keys.setdefault(side.ns, set()).add(side.key)
    for d in detours:
        keys.setdefault(d.ns, set()).add(d.key)
    blocks = {}
    for ns, k in keys.items():
        try:
            blocks[ns] = marks.blocks(k)
        except marks.TooManyLinks as exc:
            where = ns.removeprefix(f"{lab}-").replace("s-", "segment router ", 1).replace("i-", "internet ", 1)
            raise marks.TooManyLinks(f"steers {len(k)} links ({exc})", where) from None
    return Layout(lab, instances, tuple(hairpins), tuple(wires), tuple(detours), tuple(edges_ok), blocks)


def _legs(tag: str, name: str, count: int) -> tuple[str, ...]:
    return tuple(naming.ifname(f"{tag}{n}", name) for n in range(1, count + 1))


def _hairpins(lab: str, config: Config, fab: Fabric, firewalls: dict[str, Firewall]) -> tuple[list[Hairpin], list[Detour]]:
    hairpins: list[Hairpin] = []
    detours: list[Detour] = []
    zones: dict[str, dict[str, int]] = {}
    for seg in config.segments:
        used = sorted({e.firewall for e in seg.policies if e.action == "inspect" and e.firewall in firewalls})
        for name in used:
            fw = firewalls[name]
            if (seg.name, fw.cxp) not in fab.routers:
                continue
            ns = naming.segment_ns(lab, seg.name, fw.cxp)
            side = Side(ns, fab.routers[(seg.name, fw.cxp)], _legs("f", name, fw.instances), f"firewall {name}", naming.ifname("g", seg.name))
            ids = zones.setdefault(name, _zone_ids(config, name))
            hairpins.append(Hairpin(name, seg.name, side, ids.get(f"segment {seg.name}", 0)))
            for cxp in fab.segment_cxps(seg.name):
                if cxp != fw.cxp:
                    detours.append(Detour(seg.name, name, naming.segment_ns(lab, seg.name, cxp), fw.cxp,
                                          fab.routers[(seg.name, fw.cxp)], naming.backbone_if(fw.cxp), f"backbone {fw.cxp}"))
    return hairpins, detours


def _zone_ids(config: Config, firewall: str) -> dict[str, int]:
    """Conntrack zones inside a firewall's instances: one per hairpin
    (`segment S`) and per wire (`share X`, `internet I`), stable."""
    keys = [f"segment {s.name}" for s in config.segments if any(e.firewall == firewall for e in s.policies)]
    keys += [f"share {s.name}" for s in config.shares if s.firewall == firewall]
    keys += [f"internet {e.name} {seg}" for e in config.internets if e.firewall == firewall for seg in e.segments]
    return stable_ids(keys)


def _share_wires(lab: str, config: Config, fab: Fabric, firewalls: dict[str, Firewall]) -> list[Wire]:
    hubs = vpc_hubs(config)
    out: list[Wire] = []
    for share in config.shares:
        fw = firewalls.get(share.firewall or "")
        if fw is None or not (share.end_a and share.end_b) or share.end_a.segment == share.end_b.segment:
            continue
        hub = share_link_hub(config, share, hubs)
        ends = [(share.end_a.segment, "sa"), (share.end_b.segment, "sb")]
        if any((seg, hub) not in fab.routers for seg, _ in ends):
            continue
        a, b = (
            Side(naming.segment_ns(lab, seg, hub), fab.routers[(seg, hub)], _legs("s", share.name, fw.instances),
                 f"share {share.name}", naming.ifname(tag, share.name))
            for seg, tag in ends
        )  # fmt: skip
        out.append(Wire("share", share.name, fw.name, a, b, _zone_ids(config, fw.name).get(f"share {share.name}", 0)))
    return out


def _edge(lab: str, config: Config, fab: Fabric, edge: Internet, address: str, firewalls: dict[str, Firewall]) -> Edge:
    ns = naming.internet_ns(lab, edge.name)
    fw = firewalls.get(edge.firewall or "")
    if edge.firewall and (fw is None or fw.cxp != edge.cxp):
        fw = None  # refused by validation; nothing to build it with
    zones = stable_ids(edge.segments)
    legs = []
    for seg in edge.segments:
        if (seg, edge.cxp) not in fab.routers:
            continue
        router_ns, router_addr = naming.segment_ns(lab, seg, edge.cxp), fab.routers[(seg, edge.cxp)]
        if fw is None:
            router = Side(router_ns, router_addr, (naming.ifname("i", edge.name),), f"internet {edge.name}", "")
            edge_side = Side(ns, address, (naming.ifname("g", seg),), f"segment {seg}", "")
            legs.append(EdgeLeg(seg, router, edge_side, None, zones[seg]))
            continue
        router = Side(router_ns, router_addr, _legs("i", edge.name, fw.instances), f"internet {edge.name}", naming.ifname("ia", seg))
        edge_side = Side(ns, address, _legs("w", seg, fw.instances), f"segment {seg}", naming.ifname("ib", seg))
        zone = _zone_ids(config, fw.name).get(f"internet {edge.name} {seg}", 0)
        legs.append(EdgeLeg(seg, router, edge_side, Wire("internet", edge.name, fw.name, router, edge_side, zone, seg), zones[seg]))
    hosts = tuple(PublicSpot(h.name, h.address, naming.public_ns(lab, h.name), naming.ifname("p", h.name)) for h in edge.public_hosts)
    return Edge(edge.name, edge.cxp, ns, address, edge, tuple(legs), hosts)
