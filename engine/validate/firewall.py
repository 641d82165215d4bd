"""Checks of firewalls: hub, instances, zones and rules, and of the `inspect`
references to them (a share's line; a segment's entries are checked with
the segment)."""

from __future__ import annotations

from collections.abc import Iterable

from engine.addressing import parse_prefix
from engine.errors import Diagnostic
from engine.marks import TooManyLinks
from engine.model import Config, Firewall, Zone
from engine.prefixes import group_prefixes
from engine.validate.lines import ports_problems, zone_name_problem

MAX_INSTANCES = 8
APPLIANCES = 508  # fabric addresses for firewall instances and edge routers (compile/naming.py)


def check(config: Config, previous: Config) -> Iterable[Diagnostic]:
    """Each firewall on its own, the shares that name one, and the lab's total."""
    for fw in config.firewalls:
        yield from _firewall(config, fw)
    for share in config.shares:
        if share.firewall and config.get("firewall", share.firewall) is None:
            yield Diagnostic(f"resource-share {share.name}", f"inspect firewall {share.firewall}: firewall {share.firewall} does not exist")
    total = sum(f.instances for f in config.firewalls) + len(config.internets)
    if total > APPLIANCES:
        yield Diagnostic("firewall", f"{total} firewall instances and internet edges: a lab has room for {APPLIANCES}")
    if config.firewalls or config.internets:
        yield from _steered_links(config)


def _steered_links(config: Config) -> Iterable[Diagnostic]:
    """A router steers at most BLOCKS links (firewalls, wires, backbone
    detours): its connection marks have room for no more."""
    from engine.compile.topology import fabric_of
    from engine.inspection import layout_of

    try:
        layout_of("check", config, fabric_of("check", config))
    except TooManyLinks as exc:
        yield Diagnostic(exc.where, f"{exc}: use fewer firewalls or shares inspected at this router")


def _firewall(config: Config, fw: Firewall) -> Iterable[Diagnostic]:
    here = f"firewall {fw.name}"
    if config.get("cxp", fw.cxp) is None:
        yield Diagnostic(here, f"cxp {fw.cxp} does not exist: define 'cxp {fw.cxp}' first")
    if not 1 <= fw.instances <= MAX_INSTANCES:
        yield Diagnostic(here, f"instances {fw.instances} is out of range (1-{MAX_INSTANCES})")
    for name in dict.fromkeys(z.name for z in fw.zones):  # a zone of many members: said once
        if problem := zone_name_problem(name):
            yield Diagnostic(f"{here} zone {name}", problem)
    for zone in fw.zones:
        yield from _zone(config, here, zone)
    yield from _overlapping_zones(config, fw)
    zones = {z.name for z in fw.zones}
    for rule in fw.rules:
        where = f"{here} rule {rule.seq}"
        for side in (rule.src_zone, rule.dst_zone):
            if side != "any" and side not in zones:
                known = ", ".join(sorted(zones)) or "none yet"
                yield Diagnostic(where, f"zone {side} does not exist in firewall {fw.name} (zones: {known}; or use 'any')")
        for problem in ports_problems(rule.protocol, rule.ports):
            yield Diagnostic(where, problem)


def _zone(config: Config, here: str, zone: Zone) -> Iterable[Diagnostic]:
    where = f"{here} zone {zone.name}"
    if zone.internet is not None:
        if config.get("internet", zone.internet) is None:
            yield Diagnostic(where, f"internet {zone.internet} does not exist")
        return
    if config.get("segment", zone.segment or "") is None:
        yield Diagnostic(where, f"segment {zone.segment} does not exist")
        return
    if zone.group is not None and not group_prefixes(config, zone.group, zone.segment):
        homes = sorted({v.segment or "?" for v in config.vpcs if v.group == zone.group or any(s.group == zone.group for s in v.subnets)})
        where_else = f" (it is in segment {', '.join(homes)})" if homes else ""
        yield Diagnostic(where, f"group {zone.group} has no members in segment {zone.segment}{where_else}")


def _overlapping_zones(config: Config, fw: Firewall) -> Iterable[Diagnostic]:
    """A packet's zone must be unambiguous: one segment in two zones only
    with groups whose addresses do not overlap, one internet edge in one zone."""
    here = f"firewall {fw.name}"
    by_segment: dict[str, list[Zone]] = {}
    by_edge: dict[str, set[str]] = {}
    for z in fw.zones:
        if z.internet is not None:
            by_edge.setdefault(z.internet, set()).add(z.name)
        elif z.segment is not None:
            by_segment.setdefault(z.segment, []).append(z)
    for edge, names in sorted(by_edge.items()):
        if len(names) > 1:
            yield Diagnostic(here, f"internet {edge} is in zones {', '.join(sorted(names))}: an edge belongs to one zone")
    for segment, members in sorted(by_segment.items()):
        zone_names = sorted({z.name for z in members})
        if len(zone_names) < 2:
            continue
        whole = sorted({z.name for z in members if z.group is None})
        if whole:
            others = ", ".join(n for n in zone_names if n != whole[0])
            yield Diagnostic(here, f"segment {segment} is in zone {whole[0]} as a whole and in zone {others}: "
                                   "give each zone a group of the segment ('zone NAME segment S group G')")  # fmt: skip
            continue
        yield from _group_overlaps(config, here, segment, members)


def _group_overlaps(config: Config, here: str, segment: str, members: list[Zone]) -> Iterable[Diagnostic]:
    seen: list[tuple[str, str, object]] = []
    for z in sorted(members, key=lambda m: (m.name, m.group or "")):
        for text in group_prefixes(config, z.group or "", segment):
            net = parse_prefix(text)
            if net is None:
                continue
            for name, group, other in seen:
                if name != z.name and net.overlaps(other):  # type: ignore[arg-type]
                    yield Diagnostic(here, f"segment {segment}: zones {name} (group {group}) and {z.name} (group {z.group}) "
                                           f"overlap at {net if net.prefixlen >= other.prefixlen else other}: "  # type: ignore[attr-defined]
                                           "a packet's zone would be ambiguous")  # fmt: skip
                    return
            seen.append((z.name, z.group or "", net))
