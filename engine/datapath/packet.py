"""The data of one walk through the fabric: a packet, its hops, the verdict.

A `Packet` is the 5-tuple of a connection's first packet as it stands at
one point of the fabric (NAT changes it on the way), plus the firewall
mark that policy routing may steer by. A `Hop` is one namespace the packet
crossed, in exactly CLI.md's `trace` shape, with the addresses as the
packet leaves that namespace (after its NAT), or as it arrived when it
stopped there; `Outcome` is how the walk ended.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

PROTO_NUMBERS = {"icmp": 1, "tcp": 6, "udp": 17}


@lru_cache(maxsize=65536)
def ip_int(address: str) -> int:
    """A dotted IPv4 address as an integer (memoised: walks repeat addresses)."""
    return int.from_bytes(socket.inet_aton(address), "big")


def ip_str(value: int) -> str:
    """An integer as a dotted IPv4 address."""
    return socket.inet_ntoa(value.to_bytes(4, "big"))


@dataclass(frozen=True)
class Packet:
    """A connection's first packet at one point of the fabric.

    `sport`/`dport` are None for icmp. `mark` is the packet's fwmark (policy
    routing and firewall steering), never part of what a hop shows."""

    proto: str  # tcp | udp | icmp
    src: str
    dst: str
    sport: int | None = None
    dport: int | None = None
    mark: int = 0

    @property
    def proto_number(self) -> int:
        """The IP protocol number (what nft's `meta l4proto` compares)."""
        return PROTO_NUMBERS[self.proto]

    def with_src(self, src: str) -> Packet:
        """The same packet from another source address (SNAT)."""
        return replace(self, src=src)

    def with_dst(self, dst: str) -> Packet:
        """The same packet to another destination address (DNAT)."""
        return replace(self, dst=dst)

    def tuple5(self) -> tuple[str, str, str, int | None, int | None]:
        """(proto, src, dst, sport, dport): what a hop and conntrack show."""
        return self.proto, self.src, self.dst, self.sport, self.dport


@dataclass(frozen=True)
class Hop:
    """One namespace on the path (CLI.md: node, kind, ingress, egress, addresses, rule)."""

    node: str  # "host alice", "vpc web", "segment prod cxp core"
    kind: str  # the namespace's role: host, vpc-router, segment-router, ...
    ingress: str | None  # interface the packet came in on (None at the source)
    egress: str | None  # interface it left by (None where it stopped)
    src: str
    dst: str
    sport: int | None
    dport: int | None
    rule: str | None = None  # what decided here: a policy entry, a share filter, a route
    ns: str = ""  # the namespace (for the lab's observers; not part of the JSON shape)
    route: str | None = None  # the route it left by, for people (not part of the JSON shape)

    def as_dict(self) -> dict[str, Any]:
        """Exactly CLI.md's hop fields."""
        return {
            "node": self.node, "kind": self.kind, "ingress": self.ingress, "egress": self.egress,
            "src": self.src, "dst": self.dst, "sport": self.sport, "dport": self.dport, "rule": self.rule,
        }  # fmt: skip

    def compared(self) -> tuple[Any, ...]:
        """What a real packet can confirm: everything but the rule."""
        return self.node, self.ingress, self.egress, self.src, self.dst, self.sport, self.dport


@dataclass(frozen=True)
class Outcome:
    """How a walk ended.

    `reachable` is CLI.md's meaning (icmp answered, tcp handshake completed,
    udp delivered). `arrived` says the packet reached the namespace it
    stopped in as its destination (a tcp RST still arrived); `refused` that
    an RST or ICMP error is expected back. `reason` names what decided."""

    reachable: bool
    reason: str
    stopped_at: str  # the namespace where the walk ended
    delivered: bool = False  # the packet was taken in by stopped_at (not dropped)
    refused: bool = False

    @property
    def verdict(self) -> str:
        """`reachable` or `unreachable`."""
        return "reachable" if self.reachable else "unreachable"
