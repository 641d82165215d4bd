"""A firewall's zones as its instances see them, and its rules as boxes.

Inside an instance a packet's zones come from where it is: the leg it
arrived on and its source address (the source zone), the leg it leaves by
and its destination address (the destination zone). Each leg faces one
segment (a hairpin leg, the segment side of an internet wire, one end of a
share's wire) or an internet edge (the edge side of an internet wire), so
a zone member `segment S [group G]` becomes, on every leg facing S, the
group's prefixes (or everything without a group), and `internet I` becomes
everything on legs facing I. A share's wire carries each end's addresses
as that end's NAT makes them, so group prefixes are translated there.

Zones are small integers (1..n in name order; 0 is "no zone"), which is
what lets a firewall's rules be the policy's verdict-map runs
(engine/compile/policy.py) over (protocol, source zone, destination zone,
port): the compiler, the data-path model and `show flows` all evaluate the
same boxes here.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from engine.addressing import parse_prefix
from engine.compile.policy import PROTOCOLS, Box, Element, _port_span, cut_runs, intersect
from engine.inspection import Layout
from engine.marks import ZONE_SHIFT
from engine.model import Config, Firewall, FirewallRule, ResourceShare
from engine.prefixes import group_prefixes
from engine.shares import nat_maps

Net = ipaddress.IPv4Network
EVERYTHING = ipaddress.IPv4Network("0.0.0.0/0")
ZONE_ANY = (0, 0xFFFFFFFF)
MATCH = "meta l4proto . ct mark . meta mark . th dport"  # protocol, source zone, destination zone, port


@dataclass(frozen=True)
class Facing:
    """What one instance leg faces: a segment (with the NAT of a share's end) or an edge."""

    ifname: str
    segment: str | None = None
    internet: str | None = None
    share: ResourceShare | None = None
    end: str | None = None  # the share's end the leg faces


def zone_numbers(fw: Firewall) -> dict[str, int]:
    """Zone name -> its number (1..n in name order)."""
    return {name: i for i, name in enumerate(sorted({z.name for z in fw.zones}), 1)}


def zone_value(number: int) -> int:
    """A zone number as the instance keeps it in a mark (engine/marks.py)."""
    return number << ZONE_SHIFT


def facings(config: Config, layout: Layout, firewall: str) -> list[Facing]:
    """Every leg inside the firewall's instances, with what it faces."""
    out: list[Facing] = []
    for h in layout.hairpins:
        if h.firewall == firewall:
            out.append(Facing(h.side.inst_if, segment=h.segment))
    for w in layout.wires:
        if w.firewall != firewall:
            continue
        if w.kind == "internet":
            out += [Facing(w.a.inst_if, segment=w.segment), Facing(w.b.inst_if, internet=w.name)]
            continue
        share = config.get("resource-share", w.name)
        if share is not None and share.end_a and share.end_b:
            out.append(Facing(w.a.inst_if, segment=share.end_a.segment, share=share, end="end-a"))
            out.append(Facing(w.b.inst_if, segment=share.end_b.segment, share=share, end="end-b"))
    return out


def _seen(nets: Iterable[Net], share: ResourceShare | None, end: str | None) -> list[Net]:
    """Prefixes as a share's wire carries them: each part inside a nat
    original of that end translated, the rest as it is."""
    if share is None or end is None:
        return list(nets)
    maps = nat_maps(share, end)
    out: list[Net] = []
    for net in nets:
        rest = [net]
        for orig, trans in maps:
            kept = []
            for part in rest:
                if part.overlaps(orig):
                    inner = part if part.subnet_of(orig) else orig
                    offset = int(inner.network_address) - int(orig.network_address)
                    out.append(ipaddress.IPv4Network((int(trans.network_address) + offset, inner.prefixlen)))
                    kept += [] if part.subnet_of(orig) else list(part.address_exclude(orig))
                else:
                    kept.append(part)
            rest = kept
        out += rest
    return out


def members(config: Config, fw: Firewall, facing: Facing) -> list[tuple[Net, int]]:
    """(prefix, zone number) on one leg, collapsed per zone; where two zones
    would overlap (validation refuses that) the first in name order keeps it."""
    numbers = zone_numbers(fw)
    per_zone: dict[int, list[Net]] = {}
    for z in fw.zones:
        if facing.internet is not None and z.internet == facing.internet:
            nets = [EVERYTHING]
        elif facing.segment is not None and z.segment == facing.segment and z.internet is None:
            raw = [n for p in group_prefixes(config, z.group, z.segment) if (n := parse_prefix(p))] if z.group else [EVERYTHING]
            nets = [EVERYTHING] if not z.group and facing.share is None else _seen(raw, facing.share, facing.end)
        else:
            continue
        per_zone.setdefault(numbers[z.name], []).extend(nets)
    out: list[tuple[Net, int]] = []
    for number in sorted(per_zone):
        for net in ipaddress.collapse_addresses(per_zone[number]):
            if not any(net.overlaps(other) for other, _ in out):
                out.append((net, number))
    return out


def zone_of(config: Config, fw: Firewall, facing: Facing, address: str) -> int:
    """The zone number of an address on a leg (0: in no zone)."""
    addr = ipaddress.ip_address(address)
    return next((number for net, number in members(config, fw, facing) if addr in net), 0)


def rule_elements(fw: Firewall) -> list[tuple[FirewallRule, list[Element]]]:
    """Each rule in sequence order with its boxes and map keys (10,000
    rules in about 0.1 s: zones and protocols are spelled once)."""
    numbers = zone_numbers(fw)
    zones = {name: _zone_span(numbers, name) for name in {*numbers, "any"}}
    zone_text = {name: _span_text(*span, True) for name, span in zones.items()}
    out = []
    for rule in sorted(fw.rules, key=lambda r: r.seq):
        plo, phi = PROTOCOLS.get(rule.protocol, (0, 255))
        dlo, dhi = _port_span(rule.ports)
        src = zones.get(rule.src_zone) or _zone_span(numbers, rule.src_zone)
        dst = zones.get(rule.dst_zone) or _zone_span(numbers, rule.dst_zone)
        box = (plo, phi, src[0], src[1], dst[0], dst[1], dlo, dhi)
        exact = plo == phi and dlo == dhi and src[0] == src[1] and dst[0] == dst[1]
        proto = str(plo) if plo == phi else f"{plo}-{phi}"
        port = str(dlo) if dlo == dhi else f"{dlo}-{dhi}"
        key = f"{proto} . {zone_text.get(rule.src_zone) or _span_text(*src, True)} . {zone_text.get(rule.dst_zone) or _span_text(*dst, True)} . {port}"
        out.append((rule, [(box, key, exact)]))
    return out


def _zone_span(numbers: dict[str, int], zone: str) -> tuple[int, int]:
    if zone == "any":
        return ZONE_ANY
    value = zone_value(numbers.get(zone, 0))
    return value, value


def _span_text(lo: int, hi: int, hexa: bool) -> str:
    def fmt(v: int) -> str:
        return f"{v:#010x}" if hexa else str(v)

    return fmt(lo) if lo == hi else f"{fmt(lo)}-{fmt(hi)}"


class PortIndex:
    """Boxes of one run, indexed by destination port: a firewall has few
    zones, so the policy's index by source (which here is a zone) would
    compare each new rule with thousands. Narrow port spans sit in a list
    sorted by their low port, wide ones (`any` port) in a short list of
    their own, so a query scans only spans that can reach its ports: those
    starting at most the longest narrow span below them."""

    WIDE = 1024  # spans longer than this are few (whole port ranges)

    def __init__(self) -> None:
        self.narrow: list[tuple[int, int, Box]] = []  # (low port, sequence, box), sorted
        self.wide: list[Box] = []
        self.count = 0
        self.longest = 0  # the longest narrow span: how far below a query's ports a span can start

    def overlaps_one(self, box: Box) -> bool:
        """True when `box` intersects a box of this run."""
        if any(intersect(box, other) for other in self.wide):
            return True
        lo, hi = box[6], box[7]
        i = bisect.bisect_left(self.narrow, (lo - self.longest, -1))
        while i < len(self.narrow) and self.narrow[i][0] <= hi:
            if intersect(box, self.narrow[i][2]):
                return True
            i += 1
        return False

    def overlaps(self, boxes: list[Box]) -> bool:
        """True when any of `boxes` intersects a box of this run."""
        return any(self.overlaps_one(b) for b in boxes)

    def add_one(self, box: Box) -> None:
        """Add a box already checked."""
        self.count += 1
        if box[7] - box[6] >= self.WIDE:
            self.wide.append(box)
        else:
            self.longest = max(self.longest, box[7] - box[6])
            bisect.insort(self.narrow, (box[6], self.count, box))

    def add(self, boxes: list[Box]) -> None:
        """Add boxes already checked."""
        for b in boxes:
            self.add_one(b)


def rule_runs(fw: Firewall) -> list[list[tuple[FirewallRule, list[Element]]]]:
    """The rules cut into runs of disjoint boxes (first match kept)."""
    return cut_runs(rule_elements(fw), PortIndex)


def first_rule(fw: Firewall, proto: int, src_zone: int, dst_zone: int, dport: int | None) -> FirewallRule | None:
    """The rule that decides a new connection (None: the default action)."""
    point = (proto, zone_value(src_zone) if src_zone else 0, zone_value(dst_zone) if dst_zone else 0, dport or 0)
    for rule, elements in rule_elements(fw):
        if any(all(box[2 * i] <= v <= box[2 * i + 1] for i, v in enumerate(point)) for box, _k, _e in elements):
            return rule
    return None
