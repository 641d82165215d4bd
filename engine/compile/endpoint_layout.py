"""Endpoint services and their endpoints as the fabric places them: pure
facts of a Config, shared by the compiler's endpoint stage, DNS, the views
and the data-path model, so that they cannot disagree.

An endpoint service's provider is a namespace of its own holding one
address; each endpoint is an address A in a subnet of a VPC, held by that
VPC's router, with a private link from the router to the provider. The
router translates connections to A:port to the provider's address and
sends them over the link from the link's own address, which is unique per
endpoint: the provider sees each endpoint under its own address, so
consumers with the same addresses in different segments never meet there.

Who reaches an endpoint is decided as for any address: its own segment
(every hub of it), and every segment a share imports it into, under the
address that segment sees (translated where the share NATs it).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from engine.addressing import address_subnet, service_port
from engine.compile import naming, topology
from engine.memo import derived
from engine.model import Config, Endpoint, EndpointService, Vpc
from engine.shares import end_of, imports


@dataclass(frozen=True)
class Placed:
    """One endpoint as the fabric realises it."""

    service: EndpointService
    vpc: Vpc
    endpoint: Endpoint
    port: int  # the service's port: what the endpoint translates
    subnet: str  # the subnet holding the endpoint's address
    provider: str  # the provider's address (169.254/16)
    link: str  # the endpoint's own address on its private link: how the provider sees it

    @property
    def segment(self) -> str:
        return self.vpc.segment or ""

    @property
    def address(self) -> str:
        return self.endpoint.address


@dataclass(frozen=True)
class Reach:
    """A segment that reaches an endpoint, and how."""

    segment: str
    address: str  # the endpoint's address as this segment sees it
    share: str | None = None  # the share it comes through (None: the endpoint's own segment)
    covering: str | None = None  # the imported prefix that holds it, as this segment sees it
    translated: bool = False  # the share's NAT changed the address


@dataclass(frozen=True)
class Layout:
    """Every provider's address and every endpoint that can be placed."""

    providers: dict[str, str]  # service name -> the provider's address
    endpoints: tuple[Placed, ...]  # by VPC, then the order of its endpoint lines

    def in_vpc(self, vpc: str) -> list[Placed]:
        """The endpoints a VPC's router holds."""
        return [ep for ep in self.endpoints if ep.vpc.name == vpc]

    def of_service(self, service: str) -> list[Placed]:
        """The endpoints of one service."""
        return [ep for ep in self.endpoints if ep.service.name == service]


def layout(config: Config) -> Layout:
    """The placement of every endpoint service and endpoint (remembered on
    the Config, which never changes)."""
    return derived(config, "_endpoint_layout", lambda: _layout(config))


def _layout(config: Config) -> Layout:
    """An endpoint is placed when its service exists, its address is in a
    subnet of its VPC and the VPC has a segment (validation refuses the
    rest). Addresses come from a hash of stable names (`provider S`,
    `endpoint VPC/S`), probing past the segment routers' and each other's
    (engine/compile/naming.py): one moves only when two names really
    collide, so adding an endpoint moves no other."""
    services = {s.name: s for s in config.endpoint_services}
    chosen: list[tuple[Vpc, Endpoint, str]] = []
    for vpc in config.vpcs:
        seen: set[str] = set()
        for ep in vpc.endpoints:
            subnet = address_subnet(vpc, ep.address)
            if ep.service in services and vpc.segment and subnet is not None and ep.service not in seen:
                seen.add(ep.service)
                chosen.append((vpc, ep, subnet))
    keys = [f"provider {name}" for name in sorted(services)]
    keys += sorted(f"endpoint {vpc.name}/{ep.service}" for vpc, ep, _ in chosen)
    routers = topology.fabric_of("", config).routers  # whatever routers the fabric has
    found = naming.hashed_addresses(keys, routers.values())
    providers = {name: found[f"provider {name}"] for name in sorted(services)}
    placed = []
    for vpc, ep, subnet in chosen:
        svc = services[ep.service]
        port = service_port(svc.kind, svc.port)
        placed.append(Placed(svc, vpc, ep, port, subnet, providers[svc.name], found[f"endpoint {vpc.name}/{svc.name}"]))
    return Layout(providers, tuple(placed))


def reach(config: Config, endpoint: Placed) -> list[Reach]:
    """The segments that reach an endpoint: its own first, then those a
    share imports it into (with the address they see), by segment."""
    return derived(config, "_endpoint_reach", lambda: _reach_all(config)).get((endpoint.vpc.name, endpoint.service.name), [])


def _reach_all(config: Config) -> dict[tuple[str, str], list[Reach]]:
    shared = imports(config)
    out: dict[tuple[str, str], list[Reach]] = {}
    for ep in layout(config).endpoints:
        addr = ipaddress.IPv4Address(ep.address)
        found = [Reach(ep.segment, ep.address)]
        for imp in shared:
            side = end_of(config.require("resource-share", imp.share), imp.end)
            if side is None or side.segment != ep.segment or addr not in imp.offer.original:
                continue
            seen = imp.offer.seen.network_address + (int(addr) - int(imp.offer.original.network_address))
            found.append(Reach(imp.segment, str(seen), imp.share, str(imp.offer.seen), imp.offer.translated))
        out[(ep.vpc.name, ep.service.name)] = [found[0], *sorted(found[1:], key=lambda r: (r.segment, r.share or ""))]
    return out


def by_vpc(endpoints: list[Placed]) -> dict[str, list[Placed]]:
    """Placed endpoints grouped by the VPC that holds them."""
    out: dict[str, list[Placed]] = {}
    for ep in endpoints:
        out.setdefault(ep.vpc.name, []).append(ep)
    return out
