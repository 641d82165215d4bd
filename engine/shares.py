"""What a resource share carries: offers of each end, NAT, imports per segment.

Pure functions of the Config, shared by validation (overlapping imports),
the compiler (routes, NAT maps) and the views (`show share NAME`).

An end *offers* the prefixes its list admits (engine/prefixes.py); each
offer is seen by the other end as itself, or translated when the end's
`nat` line covers it (1:1, the same offset in the translated prefix).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from engine.addressing import parse_prefix
from engine.model import Config, NatMap, ResourceShare, ShareEnd
from engine.prefixes import admitted

Net = ipaddress.IPv4Network
END_NAMES = ("end-a", "end-b")


@dataclass(frozen=True)
class Offer:
    """One prefix an end offers: as it is at the source and as the other end sees it."""

    original: Net
    seen: Net

    @property
    def translated(self) -> bool:
        return self.original != self.seen


def end_of(share: ResourceShare, end: str) -> ShareEnd | None:
    """`end-a` or `end-b` of a share."""
    return share.end_a if end == "end-a" else share.end_b


def other(end: str) -> str:
    """The opposite end's name."""
    return "end-b" if end == "end-a" else "end-a"


def nat_maps(share: ResourceShare, end: str) -> list[tuple[Net, Net]]:
    """Valid (original, translated) pairs of one end."""
    out = []
    for nat in share.nat:
        a, b = parse_prefix(nat.original), parse_prefix(nat.translated)
        if nat.end == end and a is not None and b is not None and a.prefixlen == b.prefixlen:
            out.append((a, b))
    return out


def translate(net: Net, maps: list[tuple[Net, Net]]) -> Net:
    """`net` as seen through the first map whose original holds it."""
    for orig, trans in maps:
        if net.subnet_of(orig):
            offset = int(net.network_address) - int(orig.network_address)
            return ipaddress.IPv4Network((int(trans.network_address) + offset, net.prefixlen))
    return net


def offers(config: Config, share: ResourceShare, end: str) -> list[Offer]:
    """What `end` of `share` offers, with what the other end sees."""
    side = end_of(share, end)
    if side is None:
        return []
    maps = nat_maps(share, end)
    return [Offer(n, translate(n, maps)) for n in admitted(config, side.segment, side.prefix_list)]


def nat_straddles(config: Config, share: ResourceShare, nat: NatMap) -> list[Net]:
    """Admitted prefixes that a nat line cuts through (holds only part of):
    1:1 NAT must translate whole routes, else the route and the map disagree."""
    orig = parse_prefix(nat.original)
    side = end_of(share, nat.end)
    if orig is None or side is None:
        return []
    return [n for n in admitted(config, side.segment, side.prefix_list) if orig.subnet_of(n) and orig != n]


def offered_inside(config: Config, share: ResourceShare, nat: NatMap) -> list[Net]:
    """What the nat line's end offers inside the line's original prefix."""
    orig = parse_prefix(nat.original)
    side = end_of(share, nat.end)
    if orig is None or side is None:
        return []
    return [n for n in admitted(config, side.segment, side.prefix_list) if n.subnet_of(orig)]


@dataclass(frozen=True)
class Import:
    """A prefix a segment receives from a share."""

    segment: str
    share: str
    end: str  # the end that offers it
    offer: Offer


def imports(config: Config) -> list[Import]:
    """Every prefix every segment receives through shares."""
    out: list[Import] = []
    for share in config.shares:
        if share.end_a and share.end_b and share.end_a.segment == share.end_b.segment:
            continue  # refused on its own; its imports would only add noise
        for end in END_NAMES:
            receiver = end_of(share, other(end))
            if receiver is None or end_of(share, end) is None:
                continue
            out += [Import(receiver.segment, share.name, end, o) for o in offers(config, share, end)]
    return out
