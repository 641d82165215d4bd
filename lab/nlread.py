"""rtnetlink dumps decoded lean: only the fields vpclab compares.

Drift, `show ip route` and recovery read every namespace of a lab back.
pyroute2's message classes decode every attribute of every message (a
link carries some fifty, statistics included): about 60 µs a link, which
made `show lab health` take 2.8 s at 300 VPCs. Here a message is walked
once with `struct`, and only the attributes a comparison needs are
decoded (a link's name, master, alias and kind; an address; a route's
destination, gateway, device and table; a rule's match), and routes are
filtered by the kernel (our protocol, strict dump checking), so the local
table never crosses the socket. Requests are still encoded with pyroute2
(lab/rtnl.py): that side is not where the time went.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from lab import rtnl

_IFINFO = struct.Struct("=BxHiII")  # family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
_ATTR = struct.Struct("=HH")
_U32 = struct.Struct("=I")

IFLA_IFNAME, IFLA_MASTER, IFLA_LINKINFO, IFLA_IFALIAS, IFLA_INFO_KIND = 3, 10, 18, 20, 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15
FRA_IIFNAME, FRA_PRIORITY, FRA_FWMARK, FRA_TABLE, FRA_FWMASK, FRA_PROTOCOL = 3, 6, 10, 15, 16, 21


@dataclass(frozen=True)
class Link:
    """A link as drift compares it."""

    index: int
    name: str
    up: bool
    master: int | None
    alias: str
    kind: str | None


@dataclass(frozen=True)
class Route:
    """One of our routes: destination, gateway, device index, type, table."""

    dst: str
    gateway: str | None
    oif: int | None
    unreachable: bool
    table: int


@dataclass(frozen=True)
class Rule:
    """One policy routing rule and whose it is."""

    priority: int
    table: int
    fwmark: int | None
    fwmask: int | None
    iif: str | None
    protocol: int


def _attrs(data: bytes, offset: int) -> dict[int, bytes]:
    """Attribute type -> payload, from `offset` to the end of `data`."""
    out: dict[int, bytes] = {}
    end = len(data)
    while offset + 4 <= end:
        length, kind = _ATTR.unpack_from(data, offset)
        if length < 4:
            break
        out[kind & 0x3FFF] = data[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    return out


def _text(raw: bytes | None) -> str | None:
    return raw.split(b"\0", 1)[0].decode(errors="replace") if raw is not None else None


def _u32(raw: bytes | None) -> int | None:
    return _U32.unpack(raw[:4])[0] if raw is not None and len(raw) >= 4 else None


# IFLA_EXT_MASK = RTEXT_FILTER_SKIP_STATS: the kernel leaves the statistics
# out of each link (most of a link message's size and attributes)
_NO_STATS = _ATTR.pack(8, 29) + _U32.pack(1 << 3)


def links(ch: rtnl.Channel) -> list[Link]:
    """Every link of the channel's namespace (without statistics)."""
    return [_link(msg) for msg in ch.dump_raw(rtnl.RTM_GETLINK, _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _NO_STATS)]


def link(ch: rtnl.Channel, index: int) -> Link | None:
    """One link by index (None when there is none)."""
    try:
        found = ch.dump_raw(rtnl.RTM_GETLINK, _IFINFO.pack(socket.AF_UNSPEC, 0, index, 0, 0), flags=0)
    except rtnl.NetlinkError:
        return None
    return _link(found[0]) if found else None


def _link(msg: bytes) -> Link:
    _family, _type, index, flags, _change = _IFINFO.unpack_from(msg)
    a = _attrs(msg, _IFINFO.size)
    info = a.get(IFLA_LINKINFO)
    kind = _text(_attrs(info, 0).get(IFLA_INFO_KIND)) if info is not None else None
    return Link(index, _text(a.get(IFLA_IFNAME)) or "", bool(flags & 1), _u32(a.get(IFLA_MASTER)) or None,
                _text(a.get(IFLA_IFALIAS)) or "", kind)


def addrs(ch: rtnl.Channel) -> list[tuple[int, str, int]]:
    """(link index, address, prefix length) of every IPv4 address."""
    out = []
    for msg in ch.dump_raw(rtnl.RTM_GETADDR, _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0)):
        _family, plen, _flags, _scope, index = _IFADDR.unpack_from(msg)
        a = _attrs(msg, _IFADDR.size)
        raw = a.get(IFA_ADDRESS) or a.get(IFA_LOCAL)
        if raw is not None:
            out.append((index, socket.inet_ntoa(raw[:4]), plen))
    return out


def routes(ch: rtnl.Channel, protocol: int = rtnl.RTPROT_VPCLAB) -> list[Route]:
    """Every IPv4 route of `protocol`, of every table (filtered by the
    kernel when the channel is strict, else here)."""
    out = []
    body = _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, protocol, 0, 0, 0)
    for msg in ch.dump_raw(rtnl.RTM_GETROUTE, body):
        _family, dst_len, _src, _tos, table, proto, _scope, rtype, _flags = _RTMSG.unpack_from(msg)
        if proto != protocol:
            continue
        a = _attrs(msg, _RTMSG.size)
        dst = a.get(RTA_DST)
        gateway = a.get(RTA_GATEWAY)
        out.append(Route(f"{socket.inet_ntoa(dst[:4]) if dst else '0.0.0.0'}/{dst_len}",
                         socket.inet_ntoa(gateway[:4]) if gateway else None, _u32(a.get(RTA_OIF)),
                         rtype == rtnl.RTN_UNREACHABLE, _u32(a.get(RTA_TABLE)) or table))
    return out


def rules(ch: rtnl.Channel) -> list[Rule]:
    """Every IPv4 policy routing rule, with its protocol."""
    out = []
    for msg in ch.dump_raw(rtnl.RTM_GETRULE, _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)):
        table = msg[4]
        a = _attrs(msg, _RTMSG.size)
        mark = _u32(a.get(FRA_FWMARK))
        proto = a.get(FRA_PROTOCOL)
        out.append(Rule(_u32(a.get(FRA_PRIORITY)) or 0, _u32(a.get(FRA_TABLE)) or table, mark,
                        _u32(a.get(FRA_FWMASK)) if mark is not None else None, _text(a.get(FRA_IIFNAME)),
                        proto[0] if proto else 0))
    return out
