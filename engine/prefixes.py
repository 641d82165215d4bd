"""Prefix lists as IOS evaluates them, and the address spaces of policy terms.

Two uses, two meanings, as in IOS:

- filtering routes (`resource-share ... prefix-list`): a prefix matches an
  entry when it lies inside the entry's prefix and its length is in the
  entry's [ge, le] range (exactly the entry's length when neither is set);
  the first matching entry decides; no match is an implicit deny.
- matching addresses (`policy ... prefix-list NAME`): an address belongs to
  the list when the first entry whose prefix holds it is a permit.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from netaddr import IPNetwork, IPSet

from engine.addressing import host_subnet, parse_prefix
from engine.model import Config, PrefixList, PrefixListEntry, Vpc

Net = ipaddress.IPv4Network


def entry_matches(entry: PrefixListEntry, net: Net) -> bool:
    """IOS route matching of one entry."""
    base = parse_prefix(entry.prefix)
    if base is None or not net.subnet_of(base):
        return False
    if entry.ge is None and entry.le is None:
        return net.prefixlen == base.prefixlen
    lo = entry.ge if entry.ge is not None else base.prefixlen
    hi = entry.le if entry.le is not None else 32
    return lo <= net.prefixlen <= hi


def permits(plist: PrefixList, net: Net) -> bool:
    """First matching entry decides; nothing matching is a deny."""
    for entry in sorted(plist.entries, key=lambda e: e.seq):
        if entry_matches(entry, net):
            return entry.action == "permit"
    return False


@lru_cache(maxsize=16384)
def _segment_prefixes(vpcs: tuple[Vpc, ...], plist: PrefixList | None) -> tuple[Net, ...]:
    """What a segment can offer a share: its VPCs' cidrs, subnets and host
    addresses, plus every exact prefix a permit entry names that lies inside
    one of its cidrs (so `permit 10.4.1.0/24` offers exactly that)."""
    out: set[Net] = set()
    cidrs: list[Net] = []
    for vpc in vpcs:
        cidrs += _vpc_prefixes(vpc, out)
    for entry in plist.entries if plist else ():
        net = parse_prefix(entry.prefix)
        if entry.action == "permit" and net is not None and any(net.subnet_of(c) for c in cidrs):
            out.add(net)
    return tuple(sorted(out))


def _vpc_prefixes(vpc: Vpc, out: set[Net]) -> list[Net]:
    cidrs = [n for n in (parse_prefix(c) for c in vpc.cidrs) if n is not None]
    out.update(cidrs)
    subnets = {s.name: n for s in vpc.subnets if (n := parse_prefix(s.prefix)) is not None}
    out.update(subnets.values())
    for host in vpc.hosts:
        if host_subnet(host, subnets) is not None:
            out.add(ipaddress.IPv4Network(f"{host.address}/32"))
    return cidrs


def admitted(config: Config, segment: str, list_name: str) -> list[Net]:
    """The prefixes a share end offers: candidates the list permits, without
    those already covered by a broader admitted one (one route suffices)."""
    plist = config.get("prefix-list", list_name)
    if plist is None:
        return []
    return list(_admitted(config.vpcs_in(segment), plist))


@lru_cache(maxsize=16384)
def _admitted(vpcs: tuple[Vpc, ...], plist: PrefixList) -> tuple[Net, ...]:
    chosen = [n for n in _segment_prefixes(vpcs, plist) if permits(plist, n)]
    chosen.sort(key=lambda n: (n.prefixlen, n))
    kept: list[Net] = []
    for net in chosen:
        if not any(net.subnet_of(k) for k in kept):
            kept.append(net)
    return tuple(sorted(kept))


def list_addresses(plist: PrefixList) -> IPSet:
    """Addresses a prefix list admits when used as a policy term."""
    permitted, seen = IPSet(), IPSet()
    for entry in sorted(plist.entries, key=lambda e: e.seq):
        net = IPSet([IPNetwork(entry.prefix)])
        if entry.action == "permit":
            permitted |= net - seen
        seen |= net
    return permitted


def group_prefixes(config: Config, group: str, segment: str | None = None) -> list[str]:
    """Prefixes of a group's members (whole VPCs' cidrs, and subnets), only
    those in `segment` when given: a group belongs to its segment, and the
    same name in another segment is another group (addresses may repeat
    across segments)."""
    out: list[str] = []
    for vpc in config.vpcs_in(segment) if segment is not None else config.vpcs:
        if vpc.group == group:
            out += vpc.cidrs
        out += [s.prefix for s in vpc.subnets if s.group == group]
    return out


def term_cidrs(config: Config, term: str, segment: str | None = None) -> tuple[str, ...]:
    """A term's addresses as disjoint cidrs; `host` and plain prefixes
    without building a set (a 10,000-entry policy is mostly those)."""
    kind, _, ref = term.partition(" ")
    if term == "any":
        return ("0.0.0.0/0",)
    if kind == "host":
        return (f"{ref}/32",)
    if not ref and "/" in term:
        net = parse_prefix(term)
        return (str(net),) if net is not None else tuple(str(c) for c in IPSet([term]).iter_cidrs())
    return tuple(str(c) for c in term_addresses(config, term, segment).iter_cidrs())


def term_addresses(config: Config, term: str, segment: str | None = None) -> IPSet:
    """The addresses of a policy SRC/DST term: any, host A, A/N, group, prefix-list."""
    kind, _, ref = term.partition(" ")
    if term == "any":
        return IPSet(["0.0.0.0/0"])
    if kind == "host":
        return IPSet([f"{ref}/32"])
    if kind == "group":
        return IPSet(group_prefixes(config, ref, segment))
    if kind == "prefix-list":
        plist = config.get("prefix-list", ref)
        return list_addresses(plist) if plist else IPSet()
    return IPSet([term])


def free_prefix(length: int, used: Iterable[Net], pool: str = "100.64.0.0/10") -> Net | None:
    """The first prefix of `length` in `pool` overlapping nothing in `used`,
    for the `nat` line suggested when share imports collide."""
    base = ipaddress.IPv4Network(pool)
    if length < base.prefixlen:
        return None
    size = 1 << (32 - length)
    start, end = int(base.network_address), int(base.broadcast_address)
    cand = start
    # walk the used spans in order, jumping past each one that a candidate
    # meets: linear in `used`, whatever the lengths (trying every /32 of the
    # pool one by one took 30 s when the pool was all used)
    for lo, hi in sorted((int(u.network_address), int(u.broadcast_address)) for u in used):
        if hi < cand:
            continue
        if lo > cand + size - 1:
            break
        cand = (hi // size + 1) * size
        if cand + size - 1 > end:
            return None
    return ipaddress.IPv4Network((cand, length)) if cand + size - 1 <= end else None
