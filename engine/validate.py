"""Validation: every problem of a Config at once, each naming its object.

Messages follow CLI.md: `vpc api: cidr 10.1.0.0/16 overlaps vpc web
(segment prod)`. The checks are grouped per kind; each returns its
diagnostics and never stops at the first.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from functools import lru_cache

from engine.errors import Diagnostic
from engine.model import Config, Host, NatMap, PolicyEntry, PrefixListEntry, Vpc

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,31}$")
FABRIC_RESERVED = ipaddress.ip_network("169.254.0.0/16")
SERVICE_KINDS = ("dns", "http", "tcp-echo", "udp-echo")
CLOUDS = ("aws", "azure", "gcp", "oci", "private")

Net = ipaddress.IPv4Network


@lru_cache(maxsize=65536)
def parse_prefix(text: str) -> Net | None:
    """A strict IPv4 prefix (host bits must be zero), or None."""
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError:
        return None
    return net if isinstance(net, Net) and "/" in text else None


@lru_cache(maxsize=65536)
def parse_address(text: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address, or None."""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    return addr if isinstance(addr, ipaddress.IPv4Address) else None


def validate(config: Config, previous: Config | None = None) -> list[Diagnostic]:
    """Every diagnostic of `config`; an empty list means it can be committed.

    With `previous` (the running config), a conflict between an old and a
    new object is reported on the new one, which is what the user just typed.
    """
    out: list[Diagnostic] = []
    out += _names(config)
    out += _cxps(config)
    for vpc in config.vpcs:
        out += _vpc(config, vpc)
    out += _segment_overlaps(config, previous or Config())
    out += _host_names(config, previous or Config())
    out += _prefix_lists(config)
    groups = config.groups()
    for seg in config.segments:
        seqs: set[int] = set()
        for entry in seg.policies:
            out += _policy_entry(config, groups, seg.name, entry)
            if entry.seq in seqs:
                out.append(Diagnostic(f"segment {seg.name} policy {entry.seq}", "seq used twice"))
            seqs.add(entry.seq)
    out += _shares(config)
    out += _share_imports(config, previous or Config())
    return out


def _names(config: Config) -> Iterable[Diagnostic]:
    from engine.model import KINDS

    for kind in KINDS:
        seen: set[str] = set()
        for obj in config.objects(kind):
            if not NAME_RE.match(obj.name):
                yield Diagnostic(f"{kind} {obj.name}", "invalid name: use a letter, then letters, digits, _ . - (32 at most)")
            if obj.name in seen:
                yield Diagnostic(f"{kind} {obj.name}", "defined twice")
            seen.add(obj.name)


def _cxps(config: Config) -> Iterable[Diagnostic]:
    for cxp in config.cxps:
        if cxp.cloud is not None and cxp.cloud not in CLOUDS:
            yield Diagnostic(f"cxp {cxp.name}", f"unknown cloud {cxp.cloud} (use {'|'.join(CLOUDS)})")


def _vpc(config: Config, vpc: Vpc) -> Iterable[Diagnostic]:
    where = f"vpc {vpc.name}"
    if vpc.segment is None:
        yield Diagnostic(where, "no segment: add 'segment NAME' (required)")
    elif config.get("segment", vpc.segment) is None:
        yield Diagnostic(where, f"segment {vpc.segment} does not exist: define 'segment {vpc.segment}' first")
    if config.get("cxp", vpc.cxp) is None:
        yield Diagnostic(where, f"cxp {vpc.cxp} does not exist: define 'cxp {vpc.cxp}' first")
    cidrs = yield from _vpc_cidrs(where, vpc)
    subnets = yield from _subnets(where, vpc, cidrs)
    yield from _hosts(where, vpc, subnets)
    yield from _services(where, vpc)


def _vpc_cidrs(where: str, vpc: Vpc):  # type: ignore[no-untyped-def]
    nets: list[Net] = []
    for text in vpc.cidrs:
        net = parse_prefix(text)
        if net is None:
            yield Diagnostic(where, f"cidr {text} is not a valid prefix (A.B.C.D/N with no host bits set)")
            continue
        if net.overlaps(FABRIC_RESERVED):
            yield Diagnostic(where, f"cidr {text} overlaps 169.254.0.0/16, which the fabric's own links use")
            continue
        for other in nets:
            if net.overlaps(other):
                yield Diagnostic(where, f"cidr {text} overlaps cidr {other} of the same vpc")
        nets.append(net)
    return nets


def _subnets(where: str, vpc: Vpc, cidrs: list[Net]):  # type: ignore[no-untyped-def]
    seen: dict[str, Net] = {}
    for sn in vpc.subnets:
        net = parse_prefix(sn.prefix)
        here = f"{where} subnet {sn.name}"
        if not NAME_RE.match(sn.name):
            yield Diagnostic(here, "invalid name: use a letter, then letters, digits, _ . - (32 at most)")
        if net is None:
            yield Diagnostic(here, f"{sn.prefix} is not a valid prefix (A.B.C.D/N with no host bits set)")
            continue
        if net.prefixlen > 29:
            yield Diagnostic(here, f"{sn.prefix} is too small: a subnet needs at least /29")
        if not any(net.subnet_of(c) for c in cidrs):
            have = ", ".join(vpc.cidrs) or "none"
            yield Diagnostic(here, f"{sn.prefix} is outside the vpc's cidrs ({have}): add a 'cidr' that holds it")
        for name, other in seen.items():
            if net.overlaps(other):
                yield Diagnostic(here, f"{sn.prefix} overlaps subnet {name} ({other})")
        if sn.name in seen:
            yield Diagnostic(here, "defined twice")
        seen[sn.name] = net
    return seen


def host_subnet(host: Host, subnets: dict[str, Net]) -> str | None:
    """The subnet a host belongs to: the named one, or the one holding its address."""
    if host.subnet is not None:
        return host.subnet
    addr = parse_address(host.address)
    for name, net in subnets.items():
        if addr is not None and addr in net:
            return name
    return None


def _hosts(where: str, vpc: Vpc, subnets: dict[str, Net]) -> Iterable[Diagnostic]:
    taken: dict[str, str] = {}
    for host in vpc.hosts:
        here = f"{where} host {host.name}"
        addr = parse_address(host.address)
        if addr is None:
            yield Diagnostic(here, f"{host.address} is not a valid IPv4 address")
            continue
        name = host_subnet(host, subnets)
        if name is None:
            yield Diagnostic(here, f"{host.address} is in no subnet of the vpc: add a subnet that holds it")
            continue
        net = subnets.get(name)
        if net is None:
            yield Diagnostic(here, f"subnet {name} does not exist in vpc {vpc.name}")
            continue
        if addr not in net:
            yield Diagnostic(here, f"{host.address} is outside its subnet {name} ({net})")
        elif addr == net.network_address + 1:
            yield Diagnostic(here, f"{host.address} is the gateway address of subnet {name}: use another address")
        elif addr in (net.network_address, net.broadcast_address):
            yield Diagnostic(here, f"{host.address} is the network or broadcast address of subnet {name}")
        if host.address in taken:
            yield Diagnostic(here, f"address {host.address} is already used by host {taken[host.address]}")
        taken[host.address] = host.name


SERVICE_TRANSPORTS = {"dns": ("udp", "tcp"), "http": ("tcp",), "tcp-echo": ("tcp",), "udp-echo": ("udp",)}
SERVICE_PORTS = {"dns": 53, "http": 80, "tcp-echo": 7, "udp-echo": 7}


def _services(where: str, vpc: Vpc) -> Iterable[Diagnostic]:
    hosts = {h.name for h in vpc.hosts}
    taken: dict[tuple[str, str, int], str] = {}
    for svc in vpc.services:
        port = svc.port if svc.port is not None else SERVICE_PORTS.get(svc.kind, 7)
        for transport in SERVICE_TRANSPORTS.get(svc.kind, ()):
            other = taken.setdefault((svc.host, transport, port), svc.name)
            if other != svc.name:
                yield Diagnostic(f"{where} service {svc.name}", f"{transport} port {port} on host {svc.host} is already used by service {other}")
        here = f"{where} service {svc.name}"
        if svc.kind not in SERVICE_KINDS:
            yield Diagnostic(here, f"unknown kind {svc.kind} (use {'|'.join(SERVICE_KINDS)})")
        if svc.host not in hosts:
            yield Diagnostic(here, f"host {svc.host} is not a host of vpc {vpc.name}")
        if svc.port is not None and not 1 <= svc.port <= 65535:
            yield Diagnostic(here, f"port {svc.port} is out of range (1-65535)")


def _segment_overlaps(config: Config, previous: Config) -> Iterable[Diagnostic]:
    """Overlapping CIDRs inside one segment (allowed across segments).

    A sweep over cidrs sorted by start address: O(n log n), so a lab of
    thousands of VPCs validates in milliseconds. Each conflict is reported
    once, on the VPC that is new (not in `previous`), else the later one.
    """
    old = {(v.name, v.segment, c) for v in previous.vpcs for c in v.cidrs}
    by_segment: dict[str, list[tuple[int, int, bool, str, str]]] = {}
    for vpc in config.vpcs:
        if vpc.segment is None:
            continue
        for text in vpc.cidrs:
            net = parse_prefix(text)
            if net is not None:
                start = int(net.network_address)
                is_new = (vpc.name, vpc.segment, text) not in old
                by_segment.setdefault(vpc.segment, []).append((start, start + net.num_addresses - 1, is_new, vpc.name, text))
    for segment, spans in sorted(by_segment.items()):
        spans.sort()
        active: list[tuple[int, int, bool, str, str]] = []
        for span in spans:
            active = [a for a in active if a[1] >= span[0]]
            for other in active:
                if other[3] == span[3]:
                    continue
                new, old_one = (other, span) if other[2] and not span[2] else (span, other)
                yield Diagnostic(f"vpc {new[3]}", f"cidr {new[4]} overlaps vpc {old_one[3]} (segment {segment})")
            active.append(span)


def _host_names(config: Config, previous: Config) -> Iterable[Diagnostic]:
    old = {(v.name, h.name) for v, h in previous.hosts()}
    seen: dict[str, str] = {}
    for vpc, host in sorted(config.hosts(), key=lambda vh: (vh[0].name, vh[1].name) not in old):
        if not NAME_RE.match(host.name):
            yield Diagnostic(f"vpc {vpc.name} host {host.name}", "invalid name: use a letter, then letters, digits, _ . - (32 at most)")
        if host.name in seen:
            yield Diagnostic(f"vpc {vpc.name} host {host.name}", f"host name already used in vpc {seen[host.name]} (host names are lab-wide)")
        seen[host.name] = vpc.name


# Checks of one line on its own: the commit runs them with the rest, and the
# shell runs the same ones when the line is typed (shell/schema.py).


def prefix_problem(text: str) -> str | None:
    """`10.1.1.0/16 has host bits set: use 10.1.0.0/16`, or None when valid."""
    if parse_prefix(text) is not None:
        return None
    try:
        return f"{text} has host bits set: use {ipaddress.ip_network(text, strict=False)}"
    except ValueError:
        return f"{text} is not a valid prefix (A.B.C.D/N)"


def prefix_list_entry_problems(e: PrefixListEntry) -> list[str]:
    """What one prefix-list entry gets wrong on its own."""
    net = parse_prefix(e.prefix)
    if net is None:
        return [prefix_problem(e.prefix) or ""]
    out = []
    ge = e.ge if e.ge is not None else net.prefixlen
    if e.ge is not None and not net.prefixlen < e.ge <= 32:
        out.append(f"ge {e.ge} must be longer than /{net.prefixlen} and at most 32")
    if e.le is not None and not (max(ge, net.prefixlen) <= e.le <= 32):
        out.append(f"le {e.le} must be between {max(ge, net.prefixlen)} and 32")
    return out


def policy_entry_problems(e: PolicyEntry) -> list[str]:
    """What one policy entry gets wrong on its own (not its references)."""
    out = []
    for side in (e.src, e.dst):
        kind, _, ref = side.partition(" ")
        if kind == "host" and parse_address(ref) is None:
            out.append(f"host {ref} is not a valid IPv4 address")
        elif "/" in side and not ref and (problem := prefix_problem(side)):
            out.append(problem)
    if e.ports and e.protocol not in ("tcp", "udp"):
        out.append(f"ports apply to tcp and udp only, not {e.protocol}")
    if e.ports:
        numbers = [int(x) for x in e.ports.split()[1:]]
        out += [f"port {n} is out of range (1-65535)" for n in numbers if not 1 <= n <= 65535]
        if len(numbers) == 2 and numbers[0] > numbers[1]:
            out.append(f"range {numbers[0]} {numbers[1]} is reversed: write 'range {numbers[1]} {numbers[0]}'")
    return out


def nat_problems(nat: NatMap) -> list[str]:
    """What one nat line gets wrong on its own."""
    out = [p for p in (prefix_problem(nat.original), prefix_problem(nat.translated)) if p]
    a, b = parse_prefix(nat.original), parse_prefix(nat.translated)
    if a is not None and b is not None and a.prefixlen != b.prefixlen:
        out.append(f"sizes differ (/{a.prefixlen} vs /{b.prefixlen}); 1:1 NAT needs the same length")
    elif b is not None and b.overlaps(FABRIC_RESERVED):
        out.append(f"{nat.translated} overlaps 169.254.0.0/16, which the fabric's own links use")
    return out


def _prefix_lists(config: Config) -> Iterable[Diagnostic]:
    for pl in config.prefix_lists:
        seqs: set[int] = set()
        for e in pl.entries:
            here = f"prefix-list {pl.name} seq {e.seq}"
            if e.seq in seqs:
                yield Diagnostic(here, "seq used twice")
            seqs.add(e.seq)
            for problem in prefix_list_entry_problems(e):
                yield Diagnostic(here, problem)


def _policy_entry(config: Config, groups: dict[str, list[tuple[str, str]]], segment: str, e: PolicyEntry) -> Iterable[Diagnostic]:
    here = f"segment {segment} policy {e.seq}"
    for side in (e.src, e.dst):
        kind, _, ref = side.partition(" ")
        if kind == "group":
            members = groups.get(ref)
            if not members:
                yield Diagnostic(here, f"group {ref} does not exist")
            elif not any(_member_segment(config, m) == segment for m in members):
                homes = sorted({s for m in members if (s := _member_segment(config, m))})
                yield Diagnostic(
                    here, f"group {ref} belongs to segment {', '.join(homes) or '?'}, not {segment}: a policy can use only its own segment's groups"
                )
        elif kind == "prefix-list" and config.get("prefix-list", ref) is None:
            yield Diagnostic(here, f"prefix-list {ref} does not exist")
    for problem in policy_entry_problems(e):
        yield Diagnostic(here, problem)
    if e.action == "inspect" and config.get("firewall", e.firewall or "") is None:
        yield Diagnostic(here, f"firewall {e.firewall} does not exist")


def _share_imports(config: Config, previous: Config) -> Iterable[Diagnostic]:
    """A share may not import into a segment what overlaps one of its VPCs or
    another share's import: the segment router could not tell them apart.
    Reported on what is new (the share, or the VPC), else the later share,
    with the `nat` line that would fix it; suggestions never collide with
    each other."""
    from engine.shares import imports

    old_vpcs = {(v.name, c) for v in previous.vpcs for c in v.cidrs}
    old_shares = {s.name: s for s in previous.shares}
    by_segment: dict[str, list[tuple[int, int, str, object, bool]]] = {}
    for vpc in config.vpcs:
        for text in vpc.cidrs:
            net = parse_prefix(text)
            if vpc.segment and net is not None:
                new = bool(previous.vpcs) and (vpc.name, text) not in old_vpcs
                by_segment.setdefault(vpc.segment, []).append((int(net.network_address), int(net.broadcast_address), f"vpc {vpc.name}", net, new))
    for imp in imports(config):
        net = imp.offer.seen
        new = config.get("resource-share", imp.share) != old_shares.get(imp.share)
        by_segment.setdefault(imp.segment, []).append((int(net.network_address), int(net.broadcast_address), f"resource-share {imp.share}", imp, new))
    # suggestions avoid every translation and address in the lab, and each other
    used = [t for sh in config.shares for n in sh.nat if (t := parse_prefix(n.translated)) is not None]
    used += [s[3] if isinstance(s[3], Net) else s[3].offer.seen for spans in by_segment.values() for s in spans]  # type: ignore[attr-defined]
    for segment, spans in sorted(by_segment.items()):
        spans.sort(key=lambda s: (s[0], s[1], s[2]))
        active: list[tuple[int, int, str, object, bool]] = []
        for span in spans:
            active = [a for a in active if a[1] >= span[0]]
            for prior in active:
                both_vpcs = isinstance(prior[3], Net) and isinstance(span[3], Net)  # _segment_overlaps reports those
                # one share's own imports may collide too, when its NAT moves one onto another
                if not both_vpcs and (prior[2] != span[2] or prior[3] != span[3]):
                    yield _import_conflict(config, segment, prior, span, used)
            active.append(span)


def _import_conflict(config: Config, segment: str, a: tuple, b: tuple, used: list) -> Diagnostic:  # type: ignore[type-arg]
    """The diagnostic for two overlapping spans, at least one an import,
    reported on the newer side."""
    from engine.prefixes import free_prefix

    vpc_span = next((s for s in (a, b) if isinstance(s[3], Net)), None)
    imps = [s for s in (a, b) if not isinstance(s[3], Net)]
    if vpc_span is not None and vpc_span[4] and not imps[0][4]:  # a new VPC meets an established import
        imp = imps[0][3]
        return Diagnostic(
            vpc_span[2],
            f"cidr {vpc_span[3]} overlaps {imp.offer.seen}, which resource-share {imp.share} imports into segment {segment}: "
            f"choose another cidr, or translate the share's {imp.end} with 'nat'",
        )
    blame = next((s for s in reversed(imps) if s[4]), imps[-1])
    other = a if blame is b else b
    imp = blame[3]
    what = other[3] if isinstance(other[3], Net) else other[3].offer.seen
    return Diagnostic(
        f"resource-share {imp.share}",
        f"imports {imp.offer.seen} into segment {segment}, overlapping {what} of {other[2]}{_nat_hint(config, imp, used, free_prefix)}",
    )


def _nat_hint(config: Config, imp: object, used: list, free_prefix) -> str:  # type: ignore[no-untyped-def,type-arg]
    """`; add|change 'nat ...'`: a translation into free space of 100.64.0.0/10,
    remembered so the next suggestion picks another range."""
    share = config.get("resource-share", imp.share)  # type: ignore[attr-defined]
    end, original = imp.end, imp.offer.original  # type: ignore[attr-defined]
    if share is None:
        return ""
    line = next((n for n in share.nat if n.end == end and (p := parse_prefix(n.original)) is not None and original.subnet_of(p)), None)
    base = parse_prefix(line.original) if line else original
    fix = free_prefix(base.prefixlen, used) if base is not None else None
    if fix is None:
        return ""
    used.append(fix)
    if line is not None:
        return f"; change 'nat {end} {line.original} to {line.translated}' to 'nat {end} {line.original} to {fix}' in resource-share {imp.share}"  # type: ignore[attr-defined]
    return f"; add 'nat {end} {original} to {fix}' to resource-share {imp.share}"  # type: ignore[attr-defined]


def _member_segment(config: Config, member: tuple[str, str]) -> str | None:
    vpc = config.get("vpc", member[1].split("/")[0])
    return vpc.segment if vpc else None


def _shares(config: Config) -> Iterable[Diagnostic]:
    for share in config.shares:
        here = f"resource-share {share.name}"
        ends = {"end-a": share.end_a, "end-b": share.end_b}
        for label, end in ends.items():
            if end is None:
                yield Diagnostic(here, f"no {label}: add '{label} segment SEGMENT prefix-list NAME'")
                continue
            if config.get("segment", end.segment) is None:
                yield Diagnostic(here, f"{label} segment {end.segment} does not exist")
            if config.get("prefix-list", end.prefix_list) is None:
                yield Diagnostic(here, f"{label} prefix-list {end.prefix_list} does not exist")
        if share.end_a and share.end_b and share.end_a.segment == share.end_b.segment:
            yield Diagnostic(here, f"both ends are in segment {share.end_a.segment}: a share joins two segments")
        seen_nat: list[tuple[str, Net, Net]] = []
        for nat in share.nat:
            a, b = parse_prefix(nat.original), parse_prefix(nat.translated)
            line = f"nat {nat.end} {nat.original} to {nat.translated}"
            for other_end, o, t in seen_nat:
                if other_end == nat.end and a is not None and a.overlaps(o):
                    yield Diagnostic(here, f"{line}: {nat.original} overlaps {o}, translated by another nat line of {other_end}")
                elif other_end == nat.end and b is not None and b.overlaps(t):
                    yield Diagnostic(here, f"{line}: {nat.translated} overlaps {t}, the translation of another nat line of {other_end}")
            if a is not None and b is not None:
                seen_nat.append((nat.end, a, b))
            problems = nat_problems(nat)
            for problem in problems:
                yield Diagnostic(here, f"{line}: {problem}")
            if not problems and share.end_a and share.end_b:
                from engine.shares import nat_straddles, offered_inside

                if not offered_inside(config, share, nat):
                    yield Diagnostic(here, f"{line}: {nat.end} offers nothing inside {nat.original} (see 'show share {share.name}'); remove the line or widen the {nat.end} prefix-list")
                for net in nat_straddles(config, share, nat):
                    yield Diagnostic(here, f"{line}: cuts through offered prefix {net}; translate the whole prefix ('nat {nat.end} {net} to ...')")
