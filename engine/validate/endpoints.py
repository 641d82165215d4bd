"""Checks of endpoint services and of the VPCs' endpoint lines."""

from __future__ import annotations

from collections.abc import Iterable

from engine.addressing import ENDPOINT_KINDS, address_subnet, parse_address, parse_prefix
from engine.errors import Diagnostic
from engine.model import Config, Vpc
from engine.validate.names import INVALID_NAME, NAME_RE


def check(config: Config, previous: Config) -> Iterable[Diagnostic]:
    """Each service on its own, then each VPC's endpoints, then endpoint
    names lab-wide (reported on the newer one)."""
    for svc in config.endpoint_services:
        here = f"endpoint-service {svc.name}"
        if config.get("cxp", svc.cxp) is None:
            yield Diagnostic(here, f"cxp {svc.cxp} does not exist: define 'cxp {svc.cxp}' first")
        if svc.kind not in ENDPOINT_KINDS:
            yield Diagnostic(here, f"unknown kind {svc.kind} (use {'|'.join(ENDPOINT_KINDS)})")
        if svc.port is not None and not 1 <= svc.port <= 65535:
            yield Diagnostic(here, f"port {svc.port} is out of range (1-65535)")
        yield from _dns_name(config, here, svc.name)
    old = {(v.name, e.name) for v in previous.vpcs for e in v.endpoints}
    for vpc in config.vpcs:
        yield from _endpoints(config, vpc, old)
    yield from _names(config, old)


def _dns_name(config: Config, here: str, name: str) -> Iterable[Diagnostic]:
    """The lab's DNS answers services and hosts in one zone, case-blind."""
    for vpc, host in config.hosts():
        if host.name.casefold() == name.casefold():
            yield Diagnostic(here, f"{name} is also the name of host {host.name} (vpc {vpc.name}), and DNS answers both in one zone: rename one")


def _endpoints(config: Config, vpc: Vpc, old: set[tuple[str, str]]) -> Iterable[Diagnostic]:
    """Each endpoint of a VPC; a conflict between two is reported on the
    one that is new (what the user just typed)."""
    hosts = {h.address: h.name for h in vpc.hosts}
    taken: dict[str, str] = {}
    services: dict[str, str] = {}
    for ep in sorted(vpc.endpoints, key=lambda e: (vpc.name, e.name) not in old):
        here = f"vpc {vpc.name} endpoint {ep.name}"
        if not NAME_RE.match(ep.name):
            yield Diagnostic(here, INVALID_NAME)
        if config.get("endpoint-service", ep.service) is None:
            yield Diagnostic(here, f"endpoint-service {ep.service} does not exist: define 'endpoint-service {ep.service}' first")
        elif ep.service in services:
            yield Diagnostic(here, f"endpoint-service {ep.service} already has endpoint {services[ep.service]} in this vpc (one per vpc)")
        services.setdefault(ep.service, ep.name)
        problem = _address_problem(vpc, ep.address, hosts)
        if problem:
            yield Diagnostic(here, problem)
        elif ep.address in taken:
            yield Diagnostic(here, f"address {ep.address} is already endpoint {taken[ep.address]}'s: use another address")
        taken.setdefault(ep.address, ep.name)


def _address_problem(vpc: Vpc, address: str, hosts: dict[str, str]) -> str | None:
    """What is wrong with an endpoint's address in its VPC, if anything."""
    addr = parse_address(address)
    if addr is None:
        return f"{address} is not a valid IPv4 address"
    subnet = address_subnet(vpc, address)
    if subnet is None:
        have = ", ".join(f"{s.name} {s.prefix}" for s in vpc.subnets) or "none"
        return f"{address} is in no subnet of the vpc (subnets: {have}): use an address of one of its subnets"
    net = parse_prefix(next(s.prefix for s in vpc.subnets if s.name == subnet))
    assert net is not None
    if addr == net.network_address + 1:
        return f"{address} is the gateway address of subnet {subnet}: use another address"
    if addr in (net.network_address, net.broadcast_address):
        return f"{address} is the network or broadcast address of subnet {subnet}: use another address"
    if address in hosts:
        return f"{address} is the address of host {hosts[address]}: use another address"
    return None


def _names(config: Config, old: set[tuple[str, str]]) -> Iterable[Diagnostic]:
    """Endpoint names are lab-wide (as host names): `show endpoints` and
    flows name an endpoint alone."""
    seen: dict[str, str] = {}
    everything = [(v, e) for v in config.vpcs for e in v.endpoints]
    for vpc, ep in sorted(everything, key=lambda ve: (ve[0].name, ve[1].name) not in old):
        if ep.name in seen and seen[ep.name] != vpc.name:
            yield Diagnostic(f"vpc {vpc.name} endpoint {ep.name}", f"endpoint name already used in vpc {seen[ep.name]} (endpoint names are lab-wide)")
        seen.setdefault(ep.name, vpc.name)

