"""Many probes at once, for `verify`: one event loop, shared observers.

`lab/probes.py` sends one probe and waits for it; `verify` has hundreds,
most of which finish in a millisecond and some of which (a silent drop, a
datagram nobody answers) only end at the timeout. Sending them all at once
and waiting in one epoll loop makes the whole matrix cost about one
timeout. Each target namespace gets one AF_PACKET observer shared by every
probe aimed at it; a captured packet is handed to the probes it may belong
to (their signatures are unique). Judgement is lab/probes.py's, unchanged.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

from engine.ports import ProbeResult, ProbeSpec
from lab import netns
from lab.execns import check_ns
from lab.probes import (
    ARRIVING,
    ETH_P_ALL,
    OBSERVER_GRACE,
    PACKET_OUTGOING,
    SENDERS,
    SO_RCVBUFFORCE,
    Answer,
    Packet,
    Sender,
    is_reply,
    judge,
    parse_ipv4,
)


@dataclass
class _Watch:
    """What one probe's target saw of it (the shape lab/probes.judge reads)."""

    arrived: bool = False
    answered_by_target: bool = False
    seen: Packet | None = None


@dataclass
class Probe:
    """One probe of the set: what to send, its socket, what came back."""

    spec: ProbeSpec
    sender: Sender | None = None
    answer: Answer | None = None
    watch: _Watch | None = None
    error: str | None = None


@dataclass
class _Target:
    """One observer socket and the probes waiting to be seen by it."""

    sock: socket.socket
    probes: list[Probe] = field(default_factory=list)


def close_later(socks: list[socket.socket]) -> None:
    """Close packet sockets in a background thread: the kernel waits an RCU
    grace period (about 12 ms) for each (packet_release: synchronize_net),
    a third of a second for a trace's 26 observers, none of it needed
    before the answer is shown."""
    def close() -> None:
        for sock in socks:
            sock.close()

    if socks:
        threading.Thread(target=close, name="close-observers", daemon=True).start()


def _observer(ns: str) -> socket.socket:
    sock = netns.socket_in(ns, socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    sock.setblocking(False)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
    except OSError:
        pass
    return sock


def _observe(target: _Target) -> None:
    """Hand every captured packet to the probe it belongs to."""
    while True:
        try:
            data, addr = target.sock.recvfrom(65535)
        except (BlockingIOError, InterruptedError):
            return
        pkt = parse_ipv4(data) if addr[1] == 0x0800 and addr[0] != "lo" else None
        if pkt is None:
            continue
        for p in target.probes:
            w, s = p.watch, p.sender
            if w is None or s is None:
                continue
            if addr[2] in ARRIVING and not w.arrived and s.is_probe(pkt) and p.spec.observe_src in (None, pkt.src):
                w.arrived, w.seen = True, pkt
                break
            if addr[2] == PACKET_OUTGOING and w.seen is not None and is_reply(w.seen, pkt):
                w.answered_by_target = True
                break


def probe_many(specs: list[ProbeSpec], timeout: float) -> list[ProbeResult]:
    """Send every probe at once; results in the order of `specs`."""
    return [result(p, timeout) for p in run(specs, timeout)]


def run(specs: list[ProbeSpec], timeout: float) -> list[Probe]:
    """Send every probe at once and wait for them; the probes, judged by
    `result`, with their (closed) senders, whose signatures `trace` uses."""
    probes = [Probe(s) for s in specs]
    targets: dict[str, _Target] = {}
    sel = selectors.DefaultSelector()
    try:
        for p in probes:
            _open(p, targets, sel)
        _run(probes, targets, sel, timeout)
    finally:
        for p in probes:
            if p.sender is not None:
                p.sender.close()
        close_later([t.sock for t in targets.values()])
        sel.close()
    return probes


def _open(p: Probe, targets: dict[str, _Target], sel: selectors.BaseSelector) -> None:
    s = p.spec
    try:
        check_ns(s.src_ns)
        if s.observe_ns is not None and s.observe_ns not in targets:
            check_ns(s.observe_ns)
            targets[s.observe_ns] = _Target(_observer(s.observe_ns))
            sel.register(targets[s.observe_ns].sock, selectors.EVENT_READ, targets[s.observe_ns])
        p.sender = SENDERS[s.protocol](s.src_ns, s.address, s.port, s.sport)
    except (OSError, ValueError) as exc:
        p.error = str(exc)
        return
    if s.observe_ns is not None:
        p.watch = _Watch()
        targets[s.observe_ns].probes.append(p)


def _run(probes: list[Probe], targets: dict[str, _Target], sel: selectors.BaseSelector, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = 0
    for p in probes:
        if p.sender is None:
            continue
        p.answer = p.sender.start()
        if p.answer is None:
            sel.register(p.sender.sock, selectors.EVENT_WRITE if p.sender.wants_write else selectors.EVENT_READ, p)
            pending += 1
    while pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        for key, _ev in sel.select(remaining):
            if isinstance(key.data, _Target):
                _observe(key.data)
                continue
            p = key.data
            p.answer = p.sender.ready()
            if p.answer is not None:
                sel.unregister(p.sender.sock)
                pending -= 1
    # an answer can overtake its copy at the target by a scheduling delay
    end = time.monotonic() + OBSERVER_GRACE
    while any(p.watch and not p.watch.arrived and p.answer for p in probes) and time.monotonic() < end:
        for t in targets.values():
            _observe(t)
        time.sleep(0.005)
    for t in targets.values():
        _observe(t)


def result(p: Probe, timeout: float) -> ProbeResult:
    """CLI.md's judgement of one probe (lab/probes.py `judge`)."""
    s = p.spec
    if p.error is not None:
        return ProbeResult(False, None, f"the probe could not be sent: {p.error}")
    answer = p.answer or Answer("silent", f"nothing came back within {timeout:g} s")
    where = s.observe_ns if s.observe_src is None else f"{s.observe_ns} from {s.observe_src}"
    return judge(s.protocol, s.address, timeout, answer, p.watch, where)
