"""Checks of one line on its own: the commit runs them with the rest, and
the shell runs the same ones when the line is typed (shell/schema.py), so
a mistake reads the same at the line and at commit."""

from __future__ import annotations

import ipaddress

from engine.addressing import FABRIC_RESERVED, parse_address, parse_prefix
from engine.model import NatMap, PolicyEntry, PrefixListEntry


def prefix_problem(text: str) -> str | None:
    """`10.1.1.0/16 has host bits set: use 10.1.0.0/16`, or None when valid."""
    if parse_prefix(text) is not None:
        return None
    try:
        return f"{text} has host bits set: use {ipaddress.ip_network(text, strict=False)}"
    except ValueError:
        return f"{text} is not a valid prefix (A.B.C.D/N)"


# ranges a tenant may not number with: the kernel refuses or treats them
# specially (loopback and multicast addresses cannot be assigned as ours
# are, 0/8 and 240/4 are not routable), so they are refused when typed
SPECIAL_RANGES = (
    (ipaddress.ip_network("0.0.0.0/8"), "'this network' (0.0.0.0/8)"),
    (ipaddress.ip_network("127.0.0.0/8"), "loopback (127.0.0.0/8)"),
    (ipaddress.ip_network("224.0.0.0/4"), "multicast (224.0.0.0/4)"),
    (ipaddress.ip_network("240.0.0.0/4"), "reserved (240.0.0.0/4)"),
    (FABRIC_RESERVED, "169.254.0.0/16, which the fabric's own links use"),
)


def special_problem(text: str) -> str | None:
    """`overlaps loopback (127.0.0.0/8)` when a valid prefix reaches into a
    range no tenant may use, else None."""
    net = parse_prefix(text)
    if net is None:
        return None
    for special, what in SPECIAL_RANGES:
        if net.overlaps(special):
            return f"{text} overlaps {what}: use unicast space such as 10.0.0.0/8"
    return None


def cidr_problem(text: str) -> str | None:
    """What is wrong with a VPC cidr on its own (`cidr` line), or None."""
    return prefix_problem(text) or special_problem(text)


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
    return out + ports_problems(e.protocol, e.ports)


def ports_problems(protocol: str, ports: str | None) -> list[str]:
    """What a PORTS part (`eq N`, `range A B`) gets wrong for its protocol."""
    out = []
    if ports and protocol not in ("tcp", "udp"):
        out.append(f"ports apply to tcp and udp only, not {protocol}")
    if ports:
        numbers = [int(x) for x in ports.split()[1:]]
        out += [f"port {n} is out of range (1-65535)" for n in numbers if not 1 <= n <= 65535]
        if len(numbers) == 2 and numbers[0] > numbers[1]:
            out.append(f"range {numbers[0]} {numbers[1]} is reversed: write 'range {numbers[1]} {numbers[0]}'")
    return out


# words of a firewall's `rule` line where a zone name may stand: a zone with
# one of these names would be read as the keyword (`from any` is every zone)
ZONE_KEYWORDS = frozenset({"any", "from", "to", "eq", "range", "log", "permit", "deny", "ip", "tcp", "udp", "icmp"})


def zone_name_problem(name: str) -> str | None:
    """A zone name that a rule line would read as a keyword, or None."""
    if name.lower() in ZONE_KEYWORDS:
        return (f"zone name {name} is a word of the rule line ('rule SEQ ACTION PROTOCOL from ZONE to ZONE'): "
                f"'from {name}' would not mean this zone; choose another name")
    return None


DOCUMENTATION = tuple(ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))


def public_address_problem(text: str) -> str | None:
    """A simulated public address must be in a documentation range (the lab
    never routes to the host's real networks)."""
    addr = parse_address(text)
    if addr is None:
        return f"{text} is not a valid IPv4 address"
    if not any(addr in net for net in DOCUMENTATION):
        return f"{text} is not in the documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) that public addresses must use"
    if addr in (net.network_address for net in DOCUMENTATION) or addr in (net.broadcast_address for net in DOCUMENTATION):
        return f"{text} is the network or broadcast address of its range"
    return None


def nat_problems(nat: NatMap) -> list[str]:
    """What one nat line gets wrong on its own."""
    out = [p for p in (prefix_problem(nat.original), prefix_problem(nat.translated)) if p]
    a, b = parse_prefix(nat.original), parse_prefix(nat.translated)
    if a is not None and b is not None and a.prefixlen != b.prefixlen:
        out.append(f"sizes differ (/{a.prefixlen} vs /{b.prefixlen}); 1:1 NAT needs the same length")
    elif problem := special_problem(nat.translated):
        out.append(problem)
    return out
