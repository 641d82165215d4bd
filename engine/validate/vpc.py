"""Checks of VPCs: cidrs, subnets, hosts and services of each, and what
must be unique across VPCs (cidrs within a segment, host names lab-wide)."""

from __future__ import annotations

from collections.abc import Iterable

from engine.addressing import (
    SERVICE_KINDS,
    SERVICE_TRANSPORTS,
    Net,
    host_subnet,
    parse_address,
    parse_prefix,
    service_port,
)
from engine.errors import Diagnostic
from engine.model import Config, Vpc
from engine.validate.lines import special_problem


def check(config: Config, previous: Config) -> Iterable[Diagnostic]:
    """Each VPC on its own, then overlaps within segments and host names."""
    for vpc in config.vpcs:
        yield from _vpc(config, vpc)
    yield from _segment_overlaps(config, previous)
    yield from _host_names(config, previous)


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
    if not vpc.cidrs:
        yield Diagnostic(where, "no cidr: add 'cidr A.B.C.D/N' (required: the VPC's addresses come from it)")
    for text in vpc.cidrs:
        net = parse_prefix(text)
        if net is None:
            yield Diagnostic(where, f"cidr {text} is not a valid prefix (A.B.C.D/N with no host bits set)")
            continue
        if problem := special_problem(text):
            yield Diagnostic(where, f"cidr {problem}")
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


def _services(where: str, vpc: Vpc) -> Iterable[Diagnostic]:
    hosts = {h.name for h in vpc.hosts}
    taken: dict[tuple[str, str, int], str] = {}
    for svc in vpc.services:
        port = service_port(svc.kind, svc.port)
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
        if host.name in seen:
            yield Diagnostic(f"vpc {vpc.name} host {host.name}", f"host name already used in vpc {seen[host.name]} (host names are lab-wide)")
        seen[host.name] = vpc.name
