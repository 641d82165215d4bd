"""What a segment router does at its share links, as the walk needs it.

Derived from the configuration with the same functions the compiler uses
(engine/shares.py offers and NAT maps, engine/compile/topology.py for the
hub that carries a share), not from the rendered nft text, so a rendering
bug shows up as a disagreement between `trace` and the real packet.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

from engine.compile import naming
from engine.compile.shares import share_if
from engine.compile.topology import share_hub, vpc_hubs
from engine.model import Config
from engine.shares import END_NAMES, nat_maps, offers, other

Net = ipaddress.IPv4Network


@dataclass(frozen=True)
class ShareLink:
    """One end of a share, at the router that holds its link."""

    share: str
    end: str  # end-a | end-b: the end this router serves
    link: str  # interface name (`s.NAME`) in this router
    own: tuple[Net, ...]  # what this end offers, before its NAT: may leave by the link
    seen: tuple[Net, ...]  # the other end's offers as this end sees them: may come in
    closed_to_new: bool  # the other end may not open connections: new ones arriving are dropped
    nat: tuple[tuple[Net, Net], ...]  # this end's (original, translated) prefixes

    def snat(self, address: str) -> str:
        """Source address leaving by the link (1:1 prefix map of this end)."""
        return _map(address, self.nat)

    def dnat(self, address: str) -> str:
        """Destination address coming in by the link (the map reversed)."""
        return _map(address, tuple((t, o) for o, t in self.nat))


def _map(address: str, pairs: tuple[tuple[Net, Net], ...]) -> str:
    addr = ipaddress.IPv4Address(address)
    for src, dst in pairs:
        if addr in src:
            return str(dst.network_address + (int(addr) - int(src.network_address)))
    return address


def holds(nets: tuple[Net, ...], address: str) -> bool:
    """True when one of `nets` holds `address`."""
    addr = ipaddress.IPv4Address(address)
    return any(addr in n for n in nets)


def share_links(config: Config, lab: str) -> dict[str, dict[str, ShareLink]]:
    """Router namespace -> link name -> the share end it serves there."""
    return _links(config, lab)


@lru_cache(maxsize=8)
def _links(config: Config, lab: str) -> dict[str, dict[str, ShareLink]]:
    out: dict[str, dict[str, ShareLink]] = {}
    hubs = vpc_hubs(config)
    for share in config.shares:
        if not (share.end_a and share.end_b) or share.end_a.segment == share.end_b.segment:
            continue
        hub = share_hub(hubs, share.end_a.segment, share.end_b.segment)
        opener = {"a-to-b": "end-a", "b-to-a": "end-b"}.get(share.direction)
        for end in END_NAMES:
            side = share.end_a if end == "end-a" else share.end_b
            ns = naming.segment_ns(lab, side.segment, hub)  # type: ignore[union-attr]
            link = share_if(share.name)
            out.setdefault(ns, {})[link] = ShareLink(
                share.name, end, link,
                tuple(o.original for o in offers(config, share, end)),
                tuple(o.seen for o in offers(config, share, other(end))),
                opener == end,
                tuple(nat_maps(share, end)),
            )  # fmt: skip
    return out
