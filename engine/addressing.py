"""Addresses and ports as the model uses them: parsing, special ranges,
which subnet holds a host, the ports of service kinds.

Model-level code (prefixes, shares, the compiler, flows) and validation
both need these; they live apart from the whole-config checker so that
neither imports the other (validation uses prefixes and shares to find
overlapping imports, and those need only this module).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from engine.model import Host, Vpc

Net = ipaddress.IPv4Network

# the fabric's own link addresses (segment routers' loopbacks): refused in
# tenant cidrs and NAT translations
FABRIC_RESERVED = ipaddress.ip_network("169.254.0.0/16")

SERVICE_KINDS = ("dns", "http", "tcp-echo", "udp-echo")
SERVICE_TRANSPORTS = {"dns": ("udp", "tcp"), "http": ("tcp",), "tcp-echo": ("tcp",), "udp-echo": ("udp",)}
SERVICE_PORTS = {"dns": 53, "http": 80, "tcp-echo": 7, "udp-echo": 7}
ENDPOINT_KINDS = ("http", "tcp-echo")  # what an endpoint service's provider may serve


@lru_cache(maxsize=65536)
def parse_prefix(text: str) -> Net | None:
    """A strict IPv4 prefix (host bits must be zero), or None.

    Memoised process-wide: a pure function of an immutable string, called
    per cidr per compile; lru_cache is thread-safe."""
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


def host_subnet(host: Host, subnets: dict[str, Net]) -> str | None:
    """The subnet a host belongs to: the named one, or the one holding its address."""
    if host.subnet is not None:
        return host.subnet
    addr = parse_address(host.address)
    for name, net in subnets.items():
        if addr is not None and addr in net:
            return name
    return None


def address_subnet(vpc: Vpc, address: str) -> str | None:
    """The subnet of `vpc` that holds `address` (None when none does)."""
    addr = parse_address(address)
    for sn in vpc.subnets:
        net = parse_prefix(sn.prefix)
        if addr is not None and net is not None and addr in net:
            return sn.name
    return None


def service_port(kind: str, port: int | None) -> int:
    """The port a service listens on (its kind's default unless set)."""
    return port if port is not None else SERVICE_PORTS.get(kind, 7)
