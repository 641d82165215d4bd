"""Checks that every link gets a name and an interface index of its own.

Interface names must fit 15 characters, so a long object name becomes a
hash (`v-1a2b3c4d`, engine/compile/naming.py), and every link is created
with a fixed index derived from its name (engine/items.py `ifindex_of`).
Two names can hash alike (VPCs `longvpcname29685295` and
`longvpcname32060020` share a crc32; ports `v.s0031554` and `v.s0114158`
an index): in one namespace the kernel would refuse the second link, half
way through a commit. They are refused here instead, naming both objects,
on the one the user just added.

Which links each namespace holds is listed from the configuration with
the compiler's own functions: its segment routers (topology.router_pairs,
including those made on a hub only for a share, a firewall or an edge),
its naming, and its layout of firewall instances and internet edges
(engine/inspection.py: hairpin legs, wires of inspected shares and edge
links, edge routers' links and public hosts). A test compares the list
with the links of compiled plans, generated fabrics with firewalls and
edges among them, so a stage that adds links must add them here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from engine.compile import naming
from engine.compile.endpoint_layout import Placed, layout
from engine.compile.shares import share_if
from engine.compile.topology import Fabric, router_pairs, share_link_hub, vpc_hubs
from engine.errors import Diagnostic
from engine.inspection import Hairpin, Layout, Side, Wire, layout_of
from engine.items import ifindex_of
from engine.marks import TooManyLinks
from engine.model import Config
from engine.validate.names import valid_name

# ("segment", SEGMENT, CXP) | ("vpc", VPC) | ("host", HOST) | ("provider", SERVICE)
# | ("firewall", FIREWALL, INSTANCE) | ("internet", EDGE) | ("public", HOST)
Space = tuple[str, ...]
Link = tuple[Space, str, str]  # (namespace, interface name, owner: a config path, "" for fixed names)
LAB = "LAB"  # namespace names are matched back to spaces; any lab name does


def links(config: Config) -> Iterator[Link]:
    """Every link end the compiled plan holds, by namespace, with the
    object it belongs to ("" for the fixed names every namespace has).
    Objects with an invalid name are left out: they are refused anyway, and
    a name that is not ASCII cannot be hashed."""
    pairs = router_pairs(config)
    routers = {(seg, cxp) for seg, cxp in pairs if valid_name(seg) and valid_name(cxp)}
    yield from _segment_routers(routers)
    hubs = vpc_hubs(config)
    for share in config.shares:
        if share.end_a and share.end_b and share.end_a.segment != share.end_b.segment and not share.firewall:
            hub = share_link_hub(config, share, hubs)  # an inspected share is a wire (_appliance_links)
            for end in (share.end_a, share.end_b):
                if (end.segment, hub) in routers and valid_name(share.name):
                    yield ("segment", end.segment, hub), share_if(share.name), f"resource-share {share.name}"
    yield from _vpcs(config, routers)
    yield from _endpoints(config, routers)
    placed = _appliances(config, pairs)
    if placed is not None:
        yield from _appliance_links(placed, routers)


def _segment_routers(routers: set[tuple[str, str]]) -> Iterator[Link]:
    """lo and the backbone mesh of every segment router."""
    for seg, cxp in sorted(routers):
        yield ("segment", seg, cxp), "lo", ""
        for other in sorted(c for s, c in routers if s == seg and c != cxp):
            yield ("segment", seg, cxp), naming.backbone_if(other), f"cxp {other}"


def _vpcs(config: Config, routers: set[tuple[str, str]]) -> Iterator[Link]:
    """VPC routers' uplinks, bridges and host ports, and the hosts."""
    for vpc in config.vpcs:
        if vpc.segment is None or (vpc.segment, vpc.cxp) not in routers or not valid_name(vpc.name):
            continue
        where = f"vpc {vpc.name}"
        inside = ("vpc", vpc.name)
        yield ("segment", vpc.segment, vpc.cxp), naming.vpc_port_if(vpc.name), where
        yield inside, "lo", ""
        yield inside, naming.VPC_UPLINK, ""
        for sn in (sn for sn in vpc.subnets if valid_name(sn.name)):
            yield inside, naming.bridge_if(sn.name), f"{where} subnet {sn.name}"
        for host in (h for h in vpc.hosts if valid_name(h.name)):
            yield inside, naming.host_port_if(host.name), f"{where} host {host.name}"
            yield ("host", host.name), "lo", ""
            yield ("host", host.name), naming.HOST_IF, ""


def _endpoints(config: Config, routers: set[tuple[str, str]]) -> Iterator[Link]:
    """Providers and the private links of endpoints."""
    for svc in (s for s in config.endpoint_services if valid_name(s.name)):
        yield ("provider", svc.name), "lo", ""
    for ep in _placed(config):
        if (ep.vpc.segment, ep.vpc.cxp) in routers and valid_name(ep.vpc.name) and valid_name(ep.service.name):
            owner = f"vpc {ep.vpc.name} endpoint {ep.endpoint.name}"
            yield ("vpc", ep.vpc.name), naming.private_link_if(ep.service.name), owner
            yield ("provider", ep.service.name), naming.endpoint_if(ep.vpc.name), owner


def _placed(config: Config) -> tuple[Placed, ...]:
    """The endpoints the compiler places; none while a name that the
    placement hashes is not text (names.check refuses it already)."""
    try:
        return layout(config).endpoints
    except UnicodeEncodeError:
        return ()


def _appliances(config: Config, pairs: set[tuple[str, str]]) -> Layout | None:
    """Where the compiler puts firewall instances and internet edges
    (engine/inspection.py, the compiler's own layout; router addresses do
    not matter here). None while it cannot be laid out: a name that is not
    text, or too many links steered in one router (both refused by the
    checks of names and firewalls)."""
    try:
        return layout_of(LAB, config, Fabric(LAB, dict.fromkeys(pairs, "0.0.0.0")))
    except (UnicodeEncodeError, TooManyLinks):
        return None


def _appliance_links(placed: Layout, routers: set[tuple[str, str]]) -> Iterator[Link]:
    """Firewall instances with their legs (hairpins and wires, both ends),
    internet edge routers with their links and public hosts."""
    spaces: dict[str, Space] = {naming.segment_ns(LAB, s, c): ("segment", s, c) for s, c in routers}
    for fw, instances in placed.instances.items():
        if not valid_name(fw):
            continue
        for inst in instances:
            spaces[inst.ns] = ("firewall", fw, str(inst.number))
            yield spaces[inst.ns], "lo", ""
    for edge in placed.edges:
        if valid_name(edge.name):
            spaces[edge.ns] = ("internet", edge.name)
            yield spaces[edge.ns], "lo", ""
            for spot in (h for h in edge.hosts if valid_name(h.name)):
                owner = f"internet {edge.name} public-host {spot.name}"
                yield spaces[edge.ns], spot.edge_if, owner
                yield ("public", spot.name), "lo", ""
                yield ("public", spot.name), naming.HOST_IF, ""
            for leg in (g for g in edge.legs if g.wire is None and valid_name(g.segment)):
                yield from _side(spaces, leg.router, (), f"internet {edge.name} segment {leg.segment}")
                yield from _side(spaces, leg.edge, (), f"internet {edge.name} segment {leg.segment}")
    for link in placed.hairpins + placed.wires:
        owner, sides = _steered(link)
        for side in sides if owner else ():
            yield from _side(spaces, side, tuple(i.ns for i in placed.instances[link.firewall]), owner)


def _steered(link: Hairpin | Wire) -> tuple[str, tuple[Side, ...]]:
    """The owner of a link through a firewall ("" when a name is invalid)
    and its routers' sides."""
    sides: tuple[Side, ...]
    names: tuple[str, ...]
    if isinstance(link, Hairpin):
        owner, sides, names = f"firewall {link.firewall} (segment {link.segment})", (link.side,), (link.firewall, link.segment)
    else:
        owner = f"resource-share {link.name}" if link.kind == "share" else f"internet {link.name} segment {link.segment}"
        sides, names = (link.a, link.b), (link.firewall, link.name, link.segment or link.name)
    return (owner if all(valid_name(n) for n in names) else ""), sides


def _side(spaces: dict[str, Space], side: Side, instances: tuple[str, ...], owner: str) -> Iterator[Link]:
    """A router's legs of one steered link (one leg when direct) and, for
    each instance, the instance's leg facing it."""
    if side.ns in spaces:
        for name in side.ifnames:
            yield spaces[side.ns], name, owner
    for ns in instances:
        if ns in spaces:
            yield spaces[ns], side.inst_if, owner


SPACES = {
    "segment": "the router of segment {1} on hub {2}",
    "vpc": "the router of vpc {1}",
    "host": "host {1}",
    "provider": "the provider of endpoint-service {1}",
    "firewall": "instance {2} of firewall {1}",
    "internet": "the router of internet {1}",
    "public": "public host {1}",
}


def space_text(space: Space) -> str:
    """A namespace as messages name it."""
    return SPACES[space[0]].format(*space)


def check(config: Config, previous: Config) -> Iterable[Diagnostic]:
    """Two links of one namespace with one name or one index, reported on
    the object that is new (not in `previous`), else the later one."""
    old = {owner for _ns, _name, owner in links(previous)}
    names: dict[tuple[Space, str], str] = {}
    indexes: dict[tuple[Space, int], tuple[str, str]] = {}
    for space, name, owner in links(config):
        first = names.setdefault((space, name), owner)
        if first != owner:
            yield _clash(old, first, owner, f"in {space_text(space)} would both be named {name}")
            continue
        index = ifindex_of(name)
        other, other_owner = indexes.setdefault((space, index), (name, owner))
        if other != name:
            yield _clash(old, other_owner, owner,
                         f"in {space_text(space)} ({other} and {name}) would get the same interface index {index}")


def _clash(old: set[str], first: str, second: str, what: str) -> Diagnostic:
    """Blame the new one of two owners (a fixed name is never to blame)."""
    blamed, kept = (first, second) if (first and first not in old and second in old) or not second else (second, first)
    other = kept or "a link every such namespace has"
    return Diagnostic(blamed, f"its link and that of {other} {what}: their names hash alike; rename one of them")
