"""Real probes between real namespaces (root only).

Topology, built fresh for each test under its own random prefix:

    A a0 10.0.0.1/24 ──veth── b0 10.0.0.2/24 B   (TCP 8080 listening, UDP 7 echo)
    C c0 10.0.0.2/24 ──veth── c1 (in C too: the same address as B, reachable from nowhere)
"""

from __future__ import annotations

import os
import secrets
import select
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from engine.ports import TraceProbe
from lab import netns
from lab.probes import exec_in, probe
from lab.tracing import trace_probes

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces"),
]

B_ADDR = "10.0.0.2"
TCP_OPEN, TCP_CLOSED, TCP_SECOND = 8080, 8099, 8081
UDP_ECHO, UDP_CLOSED = 7, 9999
SHORT = 0.5


@dataclass
class Lab:
    """Names of one test's namespaces."""

    a: str
    b: str
    c: str


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def nft(ns: str, script: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=script.encode(), check=True, timeout=10)


def udp_echo(sock: socket.socket, stop: threading.Event) -> None:
    while not stop.is_set():
        if select.select([sock], [], [], 0.05)[0]:
            data, peer = sock.recvfrom(2048)
            sock.sendto(data, peer)


@pytest.fixture
def lab() -> Iterator[Lab]:
    prefix = f"tprb{secrets.token_hex(3)}-"
    names = Lab(prefix + "a", prefix + "b", prefix + "c")
    stop = threading.Event()
    sockets: list[socket.socket] = []
    thread = None
    try:
        for name in (names.a, names.b, names.c):
            ip("netns", "add", name)
            ip("-n", name, "link", "set", "lo", "up")
        ip("-n", names.a, "link", "add", "a0", "type", "veth", "peer", "name", "b0", "netns", names.b)
        ip("-n", names.c, "link", "add", "c0", "type", "veth", "peer", "name", "c1")
        ip("-n", names.c, "link", "set", "c1", "up")
        for name, dev, addr in ((names.a, "a0", "10.0.0.1/24"), (names.b, "b0", "10.0.0.2/24"), (names.c, "c0", "10.0.0.2/24")):
            ip("-n", name, "addr", "add", addr, "dev", dev, "nodad")
            ip("-n", name, "link", "set", dev, "up")
        for port in (TCP_OPEN, TCP_SECOND):
            listener = netns.socket_in(names.b, socket.AF_INET, socket.SOCK_STREAM)
            listener.bind((B_ADDR, port))
            listener.listen(16)
            sockets.append(listener)
        echo = netns.socket_in(names.b, socket.AF_INET, socket.SOCK_DGRAM)
        echo.bind((B_ADDR, UDP_ECHO))
        sockets.append(echo)
        thread = threading.Thread(target=udp_echo, args=(echo, stop), daemon=True)
        thread.start()
        yield names
    finally:
        stop.set()
        if thread is not None:
            thread.join(2)
        for sock in sockets:
            sock.close()
        for name in netns.list_names(prefix):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
            netns.delete(name)
        assert netns.list_names(prefix) == []


def ipv4(proto: int, l4: bytes) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0, 64, proto, 0, socket.inet_aton("10.0.0.50"), socket.inet_aton(B_ADDR))
    return header + l4


DECOYS = [
    ipv4(socket.IPPROTO_ICMP, struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"vpclab-probe:" + bytes(16)),
    ipv4(socket.IPPROTO_TCP, struct.pack("!HHIIBBHHH", 1234, TCP_OPEN, 1, 0, 0x50, 0x02, 1024, 0, 0)),
    ipv4(socket.IPPROTO_UDP, struct.pack("!HHHH", 1234, UDP_ECHO, 8 + 29, 0) + b"vpclab-probe:" + bytes(16)),
]


@contextmanager
def decoys_arriving_at(ns: str, dev: str) -> Iterator[None]:
    """Keep probe-like packets (other signatures) arriving on `ns`'s `dev` via its veth peer."""
    stop = threading.Event()
    sock = netns.socket_in(ns, socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))

    def inject() -> None:
        while not stop.wait(0.002):
            for packet in DECOYS:
                sock.sendto(packet, (dev, 0x0800, 0, 0, b"\xff" * 6))

    thread = threading.Thread(target=inject, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def timed(*args: object, **kwargs: object) -> tuple[object, float]:
    t0 = time.monotonic()
    result = probe(*args, **kwargs)  # type: ignore[arg-type]
    return result, time.monotonic() - t0


def test_icmp_answered_and_seen_at_target(lab: Lab) -> None:
    res = probe(lab.a, B_ADDR, "icmp", None, SHORT, lab.b)
    assert (res.reachable, res.arrived, res.refused) == (True, True, False), res
    assert res.rtt_ms is not None and res.rtt_ms < SHORT * 1000
    bare = probe(lab.a, B_ADDR, "icmp", None, SHORT, None)
    assert (bare.reachable, bare.arrived) == (True, None), bare


def test_icmp_unrouted_and_unanswered_within_timeout(lab: Lab) -> None:
    res, took = timed(lab.a, "192.0.2.1", "icmp", None, SHORT, None)
    assert res.reachable is False and took < SHORT + 0.2, (res, took)  # type: ignore[attr-defined]
    assert "could not send" in res.detail  # type: ignore[attr-defined]
    # On-link but nobody there: nothing comes back, and the wait is bounded.
    res, took = timed(lab.a, "10.0.0.77", "icmp", None, SHORT, None)
    assert res.reachable is False and res.refused is False, res  # type: ignore[attr-defined]
    assert SHORT - 0.05 < took < SHORT + 0.3, took


def test_tcp_listening_port_reachable(lab: Lab) -> None:
    res = probe(lab.a, B_ADDR, "tcp", TCP_OPEN, SHORT, lab.b)
    assert (res.reachable, res.arrived, res.refused) == (True, True, False), res
    assert "handshake" in res.detail


def test_tcp_closed_port_refused_but_arrived(lab: Lab) -> None:
    res = probe(lab.a, B_ADDR, "tcp", TCP_CLOSED, SHORT, lab.b)
    assert (res.reachable, res.arrived, res.refused) == (False, True, True), res
    assert "arrived" in res.detail and "refused" in res.detail and "RST" in res.detail


def test_udp_echo_answered_and_closed_port_delivered(lab: Lab) -> None:
    res = probe(lab.a, B_ADDR, "udp", UDP_ECHO, SHORT, lab.b)
    assert (res.reachable, res.arrived) == (True, True), res
    assert "service answered" in res.detail
    closed, took = timed(lab.a, B_ADDR, "udp", UDP_CLOSED, SHORT, lab.b)
    assert (closed.reachable, closed.arrived, closed.refused) == (True, True, False), closed  # type: ignore[attr-defined]
    assert "no service answered" in closed.detail  # type: ignore[attr-defined]
    assert took < SHORT / 2, "port unreachable should end the wait early"
    bare = probe(lab.a, B_ADDR, "udp", UDP_CLOSED, SHORT, None)
    assert (bare.reachable, bare.arrived) == (True, None), bare


def test_udp_answer_lost_on_the_way_back_is_not_reachable(lab: Lab) -> None:
    nft(lab.a, "table ip t { chain in { type filter hook input priority 0; udp sport 7 drop; }; }")
    res = probe(lab.a, B_ADDR, "udp", UDP_ECHO, SHORT, lab.b)
    assert (res.reachable, res.arrived) == (False, True), res
    assert "did not come back" in res.detail


def test_same_address_elsewhere_is_not_the_target(lab: Lab) -> None:
    # B answers for 10.0.0.2, but the named target is C, which saw nothing
    # of the probe, only look-alikes (other token, other source port).
    with decoys_arriving_at(lab.c, "c1"):
        for protocol, port in (("icmp", None), ("tcp", TCP_OPEN), ("udp", UDP_ECHO)):
            res = probe(lab.a, B_ADDR, protocol, port, SHORT, lab.c)
            assert (res.reachable, res.arrived) == (False, False), (protocol, res)
            assert "elsewhere" in res.detail, (protocol, res)
    silent = probe(lab.a, B_ADDR, "udp", UDP_CLOSED, SHORT, lab.c)
    assert (silent.reachable, silent.arrived) == (False, False), silent


def test_a_udp_probe_to_its_own_echo_is_told_from_the_answer(lab: Lab) -> None:
    """B probes its own address: its echo answers over lo with the probe's
    token. Only the probe's copies are the probe's (its source port, both
    ways on lo), however long since observers last ran: the differential
    test once took the answer for the probe (sport 7) when the kernel had
    not yet switched its timestamps on and the answer looked older."""
    for _ in range(20):
        time.sleep(0.1)  # observers closed: the kernel's timestamping switches off again
        ask = TraceProbe(lab.b, B_ADDR, "udp", UDP_ECHO, 45000, (lab.b,), None, SHORT)
        [(result, seen)] = trace_probes([ask])
        assert result.reachable and "service answered" in result.detail, result
        assert [(s.ifname, s.outgoing, s.sport, s.dport) for s in seen] == [("lo", True, 45000, UDP_ECHO), ("lo", False, 45000, UDP_ECHO)]


def test_nft_drop_makes_tcp_unreachable_not_refused(lab: Lab) -> None:
    assert probe(lab.a, B_ADDR, "tcp", TCP_SECOND, SHORT, lab.b).reachable
    nft(lab.b, f"table inet t {{ chain in {{ type filter hook input priority 0; tcp dport {TCP_SECOND} drop; }}; }}")
    res, took = timed(lab.a, B_ADDR, "tcp", TCP_SECOND, SHORT, lab.b)
    assert (res.reachable, res.arrived, res.refused) == (False, True, False), res  # type: ignore[attr-defined]
    assert took < SHORT + 0.3, took


def test_icmp_reject_is_refused(lab: Lab) -> None:
    nft(lab.b, "table ip t { chain in { type filter hook input priority 0; tcp dport 8081 reject with icmp type host-prohibited; }; }")
    res = probe(lab.a, B_ADDR, "tcp", TCP_SECOND, SHORT, None)
    assert (res.reachable, res.refused, res.arrived) == (False, True, None), res
    assert "prohibited" in res.detail and B_ADDR in res.detail


def test_bad_arguments_are_refused(lab: Lab) -> None:
    for bad in ("../../proc/1/ns/net", "", "nope-" + secrets.token_hex(4)):
        with pytest.raises(ValueError):
            probe(bad, B_ADDR, "icmp", None, SHORT, None)
    with pytest.raises(ValueError):
        probe(lab.a, B_ADDR, "sctp", 1, SHORT, None)
    with pytest.raises(ValueError):
        probe(lab.a, B_ADDR, "tcp", None, SHORT, None)
    with pytest.raises(ValueError):
        exec_in("../x", ["true"], 1)


def test_exec_in_runs_inside_and_is_bounded(lab: Lab) -> None:
    rc, out = exec_in(lab.b, ["ip", "-o", "-4", "addr", "show", "dev", "b0"], 5)
    assert rc == 0 and "10.0.0.2/24" in out, out
    rc, out = exec_in(lab.a, ["sh", "-c", "echo out; echo err >&2; exit 3"], 5)
    assert rc == 3 and "out" in out and "err" in out, (rc, out)
    t0 = time.monotonic()
    rc, out = exec_in(lab.a, ["sh", "-c", "echo started; sleep 5 & sleep 5"], 0.3)
    assert rc == 124 and "started" in out, (rc, out)
    assert time.monotonic() - t0 < 1.5
