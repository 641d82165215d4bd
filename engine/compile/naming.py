"""Names of kernel objects: every namespace starts with the lab's prefix.

Namespace names are long and readable (`LAB-v-web`); `@` and the one-letter
kind keep them unambiguous, since object names cannot contain `@` and lab
names cannot contain `-`. Interface names live inside the lab's namespaces
and must fit 15 characters: short readable names where the object name
fits, a hash otherwise; the full meaning goes into the interface alias.
"""

from __future__ import annotations

import ipaddress
import zlib
from collections.abc import Iterable

IFNAMSIZ = 15
LAB_NAME_RE = r"^[a-z][a-z0-9_]{0,11}$"


def lab_prefix(lab: str) -> str:
    """The prefix of every namespace of `lab`."""
    return f"{lab}-"


def host_ns(lab: str, host: str) -> str:
    """Namespace of a host."""
    return f"{lab}-h-{host}"


def vpc_ns(lab: str, vpc: str) -> str:
    """Namespace of a VPC router."""
    return f"{lab}-v-{vpc}"


def segment_ns(lab: str, segment: str, cxp: str) -> str:
    """Namespace of the router of `segment` on hub `cxp`."""
    return f"{lab}-s-{segment}@{cxp}"


def provider_ns(lab: str, service: str) -> str:
    """Namespace of an endpoint service's provider (`e`: endpoint service)."""
    return f"{lab}-e-{service}"


def ifname(tag: str, name: str) -> str:
    """`tag.name` when it fits in 15 characters, else `tag-` and a hash."""
    short = f"{tag}.{name}"
    if len(short) <= IFNAMSIZ:
        return short
    return f"{tag}-{zlib.crc32(name.encode()):08x}"


HOST_IF = "eth0"
VPC_UPLINK = "uplink"


def bridge_if(subnet: str) -> str:
    """Bridge of a subnet in its VPC router."""
    return ifname("b", subnet)


def host_port_if(host: str) -> str:
    """A host's port on its subnet bridge, in the VPC router."""
    return ifname("h", host)


def vpc_port_if(vpc: str) -> str:
    """A VPC's uplink as seen in its segment router."""
    return ifname("v", vpc)


def backbone_if(cxp: str) -> str:
    """The backbone link towards hub `cxp`, in a segment router."""
    return ifname("bb", cxp)


def private_link_if(service: str) -> str:
    """A VPC router's private link to a provider (one endpoint per service per VPC)."""
    return ifname("pl", service)


def endpoint_if(vpc: str) -> str:
    """A provider's link to the endpoint of one VPC."""
    return ifname("ep", vpc)


_LINK_LOCAL = int(ipaddress.ip_address("169.254.1.0"))
_LINK_LOCAL_SLOTS = 254 * 256 - 2  # 169.254.1.0 .. 169.254.254.255


def router_addresses(routers: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """A fabric address in 169.254/16 for each (segment, cxp) router.

    Derived from a hash of the names, so it stays put when other routers
    come and go; collisions are resolved by probing in sorted order, which
    only moves an address when two names really collide.
    """
    ordered = sorted(routers)
    found = hashed_addresses([f"{seg}@{cxp}" for seg, cxp in ordered])
    return {pair: found[f"{pair[0]}@{pair[1]}"] for pair in ordered}


def hashed_addresses(keys: list[str], taken: Iterable[str] = ()) -> dict[str, str]:
    """An address in 169.254/16 for each key, in the given order, from a
    hash of the key: probing past addresses already given and `taken`
    (and the .0 and .255 of each /24), so an address moves only when two
    keys really collide."""
    out: dict[str, str] = {}
    used = {int(ipaddress.ip_address(a)) - _LINK_LOCAL for a in taken}
    for key in keys:
        slot = zlib.crc32(key.encode()) % _LINK_LOCAL_SLOTS
        while slot in used or (slot & 0xFF) in (0, 255):
            slot = (slot + 1) % _LINK_LOCAL_SLOTS
        used.add(slot)
        out[key] = str(ipaddress.ip_address(_LINK_LOCAL + slot))
    return out
