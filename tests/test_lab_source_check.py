"""The source check with real packets: a host that forges its source address
(another subnet, VPC, segment, the internet) is dropped at its VPC router,
so it cannot slip past a policy's deny or a firewall's inspection.

Forged packets are written with a raw socket (IP_HDRINCL) in the sender's
namespace; a UDP socket in the target's namespace says what arrived.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Any

import pytest

from lab import netns
from tests.test_lab_shares import built

pytestmark = pytest.mark.lab

SPOOFABLE = """\
segment corp
 policy 10 deny udp group b group a eq 9001
 policy 20 inspect fw udp group b group a eq 9002
!
segment other
!
vpc a
 segment corp
 group a
 cidr 10.72.0.0/16
 subnet s 10.72.1.0/24
 host ha 10.72.1.10
!
vpc b
 segment corp
 group b
 cidr 10.71.0.0/16
 subnet s 10.71.1.0/24
 subnet t 10.71.2.0/24
 host hb 10.71.1.10
 host hb2 10.71.2.10
!
vpc o
 segment other
 cidr 10.80.0.0/16
 subnet s 10.80.1.0/24
 host ho 10.80.1.10
!
firewall fw
 zone a segment corp group a
 zone b segment corp group b
 rule 10 deny ip from any to any
!
"""
HB, HA = "10.71.1.10", "10.72.1.10"
PORTS = (9000, 9001, 9002)
FORGED = {
    "10.71.2.10": "another subnet of its own VPC (host hb2)",
    "10.72.1.99": "the target VPC's own cidr",
    "10.80.1.10": "a host of another segment",
    "10.99.0.1": "an address outside every VPC",
    "203.0.113.80": "a public address",
}


def udp_datagram(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    """An IPv4 header and UDP datagram (checksum 0: none) as a raw socket
    with IP_HDRINCL sends it; the kernel fills in the IP checksum and id."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    return header + udp


def send_as(ns: str, src: str, dst: str, dport: int, payload: bytes) -> None:
    """One UDP datagram from namespace `ns` with source address `src`."""
    sock = netns.socket_in(ns, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        sock.sendto(udp_datagram(src, dst, 4444, dport, payload), (dst, 0))
    finally:
        sock.close()


def received(listeners: dict[int, socket.socket], wait: float = 1.5) -> set[tuple[str, int, bytes]]:
    """(source address, port, payload) of every datagram the listeners got."""
    out: set[tuple[str, int, bytes]] = set()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        for port, sock in listeners.items():
            try:
                data, (src, _) = sock.recvfrom(2048)
                out.add((src, port, data))
            except BlockingIOError:
                pass
        time.sleep(0.01)
    return out


def test_a_forged_source_never_reaches_the_target_and_the_genuine_one_meets_the_policy(make_lab: Any) -> None:
    api = built(make_lab, SPOOFABLE)
    lab = api.name
    listeners = {}
    for port in PORTS:
        sock = netns.socket_in(f"{lab}-h-ha", socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("0.0.0.0", port))
        sock.setblocking(False)
        listeners[port] = sock
    try:
        for port in PORTS:
            send_as(f"{lab}-h-hb", HB, HA, port, b"genuine")
            for src in FORGED:
                send_as(f"{lab}-h-hb", src, HA, port, b"forged")
        got = received(listeners)
        # the genuine source meets the policy: permitted by default, denied by entry 10, inspected and denied by fw
        assert got == {(HB, 9000, b"genuine")}, sorted(got)
        # a host may still use another address of its own subnet (documented): the check is per subnet
        send_as(f"{lab}-h-hb", "10.71.1.99", HA, 9000, b"same subnet")
        assert received(listeners) == {("10.71.1.99", 9000, b"same subnet")}
        # hb2 (the address hb forged) reaches ha from its own subnet: the check did not cut it off
        send_as(f"{lab}-h-hb2", "10.71.2.10", HA, 9000, b"hb2 itself")
        assert received(listeners) == {("10.71.2.10", 9000, b"hb2 itself")}
    finally:
        for sock in listeners.values():
            sock.close()
    # genuine round trips between subnets and across VPCs still work (replies pass the check too)
    assert api.probe("hb2", "hb", "icmp").reachable and api.probe("ha", "hb", "icmp").reachable
    assert api.probe("hb", "ha", "icmp").reachable
