"""One real probe from a namespace, and whether it reached the host meant.

A probe is one ICMP echo, one TCP handshake or one UDP datagram sent from a
socket created inside the source namespace. When the target is a named
host, an AF_PACKET socket inside that host's namespace watches for the probe
before it is sent: with overlapping addresses the same IP can be another
host elsewhere, and an answer from there must not count.

Packets are recognised by a signature that NAT leaves alone: a random token
in the ICMP and UDP payloads, the source port of the TCP SYN (nftables' snat
keeps ports unless two flows clash). A udp-echo service sends the token
back, so a UDP probe also carries a TOS of its own (PROBE_TOS) that the
answer does not: wherever both are seen (a host that traces its own
address answers itself over lo) only the probe is the probe. AF_PACKET sees a packet on the way in,
before the host's own netfilter, so "arrived" means it reached the host's
interface.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import random
import select
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from engine.ports import ProbeResult
from lab import netns
from lab.execns import check_ns, exec_in

PROTOCOLS = ("icmp", "tcp", "udp")
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
ARRIVING = (0, 1, 2)  # PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)
SO_EE_ORIGIN_ICMP = 2
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
SOL_RAW = 255
ICMP_FILTER = 1
ICMP_ECHOREPLY, ICMP_UNREACH, ICMP_ECHO, ICMP_TIMXCEED = 0, 3, 8, 11
PORT_UNREACH = 3
# DSCP CS1 ("lower effort"): the UDP probe's mark; an echo service answers
# with the TOS of its own socket (0). Nothing in a lab matches on DSCP.
PROBE_TOS = 0x20
# The observer captures the probe before the target even answers it, so
# after an answer only scheduling delay can hold its copy back.
OBSERVER_GRACE = 0.05
UNREACH_NAMES = {
    0: "network unreachable",
    1: "host unreachable",
    2: "protocol unreachable",
    3: "port unreachable",
    4: "fragmentation needed",
    9: "network administratively prohibited",
    10: "host administratively prohibited",
    13: "administratively prohibited",
}


@dataclass(frozen=True)
class Answer:
    """What came back to the source socket (or why nothing was sent)."""

    kind: str  # answered | rst | icmp | local | silent
    detail: str = ""
    rtt_ms: float | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    offender: str | None = None


@dataclass(frozen=True)
class Packet:
    """The parts of an IPv4 packet a signature needs."""

    proto: int
    src: str
    dst: str
    l4: bytes
    tos: int = 0


def parse_ipv4(data: bytes) -> Packet | None:
    """The IPv4 header of `data`, or None when it is not IPv4."""
    if len(data) < 20 or data[0] >> 4 != 4:
        return None
    ihl = (data[0] & 0x0F) * 4
    return Packet(data[9], socket.inet_ntoa(data[12:16]), socket.inet_ntoa(data[16:20]), data[ihl:], data[1])


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def icmp_answer(icmp_type: int, code: int, offender: str | None, t0: float) -> Answer:
    """An ICMP error that came back, named."""
    if icmp_type == ICMP_TIMXCEED:
        name = "time exceeded (a routing loop?)"
    else:
        name = UNREACH_NAMES.get(code, f"unreachable code {code}")
    return Answer(
        "icmp",
        f"ICMP {name} from {offender or 'an unknown sender'}",
        rtt_ms=(time.monotonic() - t0) * 1000,
        icmp_type=icmp_type,
        icmp_code=code,
        offender=offender,
    )


def local_answer(err: int) -> Answer:
    """The source namespace refused to send at all."""
    return Answer("local", f"the source could not send: {os.strerror(err)}")


def read_errqueue(sock: socket.socket, t0: float) -> Answer | None:
    """The ICMP error queued on `sock` by IP_RECVERR, if any."""
    try:
        _, ancdata, _, _ = sock.recvmsg(512, 512, MSG_ERRQUEUE | socket.MSG_DONTWAIT)
    except OSError:
        return None
    for level, ctype, data in ancdata:
        if level != socket.IPPROTO_IP or ctype != IP_RECVERR or len(data) < 16:
            continue
        ee_errno, origin, icmp_type, code = struct.unpack_from("=IBBB", data)
        offender = None
        if len(data) >= 24 and struct.unpack_from("=H", data, 16)[0] == socket.AF_INET:
            offender = socket.inet_ntoa(data[20:24])
        if origin == SO_EE_ORIGIN_ICMP:
            return icmp_answer(icmp_type, code, offender, t0)
        return local_answer(ee_errno)
    return None


class Observer:
    """An AF_PACKET socket in the target's namespace that waits for the probe."""

    def __init__(self, ns: str, with_lo: bool) -> None:
        self.sock = netns.socket_in(ns, socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
        self.sock.setblocking(False)
        try:  # a busy host must not make us miss the probe
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
        except OSError:
            pass
        self.with_lo = with_lo
        self.arrived = False
        self.answered_by_target = False
        self.seen: Packet | None = None

    def fileno(self) -> int:
        """For select()."""
        return self.sock.fileno()

    def read(self, sender: Sender) -> None:
        """Consume every captured packet, noting the probe and its answer."""
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            if addr[0] == "lo" and not self.with_lo:
                continue
            pkt = parse_ipv4(data) if addr[1] == 0x0800 else None
            if pkt is None:
                continue
            if addr[2] in ARRIVING and sender.is_probe(pkt):
                self.arrived = True
                self.seen = pkt
            elif addr[2] == PACKET_OUTGOING and self.seen and is_reply(self.seen, pkt):
                self.answered_by_target = True

    def wait(self, sender: Sender, seconds: float) -> None:
        """Read until the probe has been seen or `seconds` pass."""
        deadline = time.monotonic() + seconds
        while True:
            self.read(sender)
            remaining = deadline - time.monotonic()
            if self.arrived or remaining <= 0:
                return
            select.select([self.sock], [], [], remaining)

    def close(self) -> None:
        """Release the socket."""
        self.sock.close()


def is_reply(probe: Packet, pkt: Packet) -> bool:
    """True when `pkt` is a UDP answer to the datagram `probe`, as sent."""
    if probe.proto != socket.IPPROTO_UDP or pkt.proto != socket.IPPROTO_UDP or len(pkt.l4) < 4:
        return False
    sport, dport = struct.unpack_from("!HH", pkt.l4)
    psport, pdport = struct.unpack_from("!HH", probe.l4)
    return (pkt.src, pkt.dst, sport, dport) == (probe.dst, probe.src, pdport, psport)


class Sender:
    """One probe socket in the source namespace."""

    sock: socket.socket
    wants_write = False

    def __init__(self, address: str, port: int | None) -> None:
        self.address = address
        self.port = port
        self.t0 = 0.0

    def fileno(self) -> int:
        """For select()."""
        return self.sock.fileno()

    def start(self) -> Answer | None:
        """Send the probe; an Answer when it could not be sent."""
        raise NotImplementedError

    def ready(self) -> Answer | None:
        """The socket is readable (or writable); an Answer when one is final."""
        raise NotImplementedError

    def is_probe(self, pkt: Packet) -> bool:
        """True when a packet captured elsewhere is this probe."""
        raise NotImplementedError

    def rtt(self) -> float:
        """Milliseconds since the probe was sent."""
        return (time.monotonic() - self.t0) * 1000

    def close(self) -> None:
        """Release the socket."""
        self.sock.close()


class IcmpSender(Sender):
    """An echo request with a random id, sequence and token."""

    def __init__(self, ns: str, address: str, port: int | None, sport: int | None = None) -> None:
        super().__init__(address, port)
        self.ident, self.seq = random.getrandbits(16), random.getrandbits(16)
        self.payload = b"vpclab-probe:" + os.urandom(16)
        self.sock = netns.socket_in(ns, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self.sock.setblocking(False)
        wanted = (1 << ICMP_ECHOREPLY) | (1 << ICMP_UNREACH) | (1 << ICMP_TIMXCEED)
        self.sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("=I", ~wanted & 0xFFFFFFFF))

    def start(self) -> Answer | None:
        header = struct.pack("!BBHHH", ICMP_ECHO, 0, 0, self.ident, self.seq)
        csum = checksum(header + self.payload)
        packet = struct.pack("!BBHHH", ICMP_ECHO, 0, csum, self.ident, self.seq) + self.payload
        self.t0 = time.monotonic()
        try:
            self.sock.sendto(packet, (self.address, 0))
        except OSError as exc:
            return local_answer(exc.errno or errno.EIO)
        return None

    def ready(self) -> Answer | None:
        while True:
            try:
                data = self.sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return None
            pkt = parse_ipv4(data)
            if pkt is None or len(pkt.l4) < 8:
                continue
            icmp_type, code = pkt.l4[0], pkt.l4[1]
            if icmp_type == ICMP_ECHOREPLY and self.is_ours(pkt.l4) and self.payload in pkt.l4[8:]:
                return Answer("answered", f"echo answered by {pkt.src}", rtt_ms=self.rtt())
            inner = parse_ipv4(pkt.l4[8:]) if icmp_type in (ICMP_UNREACH, ICMP_TIMXCEED) else None
            if inner and inner.proto == socket.IPPROTO_ICMP and len(inner.l4) >= 8 and self.is_ours(inner.l4):
                return icmp_answer(icmp_type, code, pkt.src, self.t0)

    def is_ours(self, l4: bytes) -> bool:
        """True when an ICMP header carries this probe's id and sequence."""
        return struct.unpack_from("!HH", l4, 4) == (self.ident, self.seq)

    def is_probe(self, pkt: Packet) -> bool:
        return pkt.proto == socket.IPPROTO_ICMP and pkt.l4[:1] == bytes([ICMP_ECHO]) and self.payload in pkt.l4[8:]


class TcpSender(Sender):
    """A non-blocking connect; the SYN is known by its source port."""

    wants_write = True

    def __init__(self, ns: str, address: str, port: int | None, sport: int | None = None) -> None:
        super().__init__(address, port)
        self.sock = netns.socket_in(ns, socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
        self.sock.bind(("0.0.0.0", sport or 0))
        self.sport = self.sock.getsockname()[1]

    def start(self) -> Answer | None:
        self.t0 = time.monotonic()
        rc = self.sock.connect_ex((self.address, self.port))
        if rc in (errno.EINPROGRESS, errno.EALREADY):
            return None
        return self.ready() if rc == 0 else local_answer(rc)

    def ready(self) -> Answer | None:
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err == 0:
            # Abort rather than close: no FIN exchange and no TIME_WAIT left behind.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return Answer("answered", "handshake completed", rtt_ms=self.rtt())
        icmp = read_errqueue(self.sock, self.t0)
        if icmp is not None:
            return icmp
        if err == errno.ECONNREFUSED:
            return Answer("rst", "a TCP RST came back", rtt_ms=self.rtt())
        return local_answer(err)

    def is_probe(self, pkt: Packet) -> bool:
        if pkt.proto != socket.IPPROTO_TCP or len(pkt.l4) < 14:
            return False
        sport, flags = struct.unpack_from("!H", pkt.l4)[0], pkt.l4[13]
        return sport == self.sport and flags & 0x12 == 0x02  # SYN without ACK


class UdpSender(Sender):
    """One datagram with a random token and PROBE_TOS, from a connected socket."""

    def __init__(self, ns: str, address: str, port: int | None, sport: int | None = None) -> None:
        super().__init__(address, port)
        self.payload = b"vpclab-probe:" + os.urandom(16)
        self.sock = netns.socket_in(ns, socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, PROBE_TOS)
        self.sock.bind(("0.0.0.0", sport or 0))

    def start(self) -> Answer | None:
        self.t0 = time.monotonic()
        try:
            self.sock.connect((self.address, self.port))
            self.sock.send(self.payload)
        except OSError as exc:
            return local_answer(exc.errno or errno.EIO)
        return None

    def ready(self) -> Answer | None:
        icmp = read_errqueue(self.sock, self.t0)
        if icmp is not None:
            return icmp
        try:
            self.sock.recv(65535)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            if exc.errno == errno.ECONNREFUSED:
                return icmp_answer(ICMP_UNREACH, PORT_UNREACH, None, self.t0)
            return local_answer(exc.errno or errno.EIO)
        return Answer("answered", "a service answered", rtt_ms=self.rtt())

    def is_probe(self, pkt: Packet) -> bool:
        # the token alone would also match an echo service's answer
        return pkt.proto == socket.IPPROTO_UDP and pkt.l4[8:] == self.payload and pkt.tos & 0xFC == PROBE_TOS


# each takes (ns, address, port, sport=None)
SENDERS: dict[str, Callable[..., Sender]] = {"icmp": IcmpSender, "tcp": TcpSender, "udp": UdpSender}


def probe(
    src_ns: str,
    address: str,
    protocol: str,
    port: int | None = None,
    timeout: float = 1.0,
    observe_ns: str | None = None,
) -> ProbeResult:
    """Send one real probe from `src_ns` to `address`; watch for it in `observe_ns`.

    Takes at most about `timeout` seconds. Raises ValueError for arguments
    that cannot make a probe (unknown namespace, protocol, port or address).
    """
    check_ns(src_ns)
    if observe_ns is not None:
        check_ns(observe_ns)
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    if protocol != "icmp" and (port is None or not 0 < port < 65536):
        raise ValueError(f"{protocol} needs a port between 1 and 65535")
    address = str(ipaddress.IPv4Address(address))
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    observer = Observer(observe_ns, with_lo=observe_ns == src_ns) if observe_ns else None
    try:
        sender = SENDERS[protocol](src_ns, address, port)
        try:
            answer = exchange(sender, observer, timeout)
        finally:
            sender.close()
    finally:
        if observer is not None:
            observer.close()
    return judge(protocol, address, timeout, answer, observer, observe_ns)


def exchange(sender: Sender, observer: Observer | None, timeout: float) -> Answer:
    """Send, then wait for an answer at the source and the probe at the target."""
    deadline = time.monotonic() + timeout
    answer = sender.start()
    while answer is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        readers: list[Sender | Observer] = [] if sender.wants_write else [sender]
        writers: list[Sender] = [sender] if sender.wants_write else []
        if observer is not None:
            readers.append(observer)
        readable, writable, _ = select.select(readers, writers, [], remaining)
        if observer is not None and observer in readable:
            observer.read(sender)
        if sender in readable or sender in writable:
            answer = sender.ready()
    if observer is not None:
        grace = OBSERVER_GRACE if answer is not None and answer.kind != "local" else 0.0
        observer.wait(sender, grace)
    return answer or Answer("silent", f"nothing came back within {timeout:g} s")


class Watched(Protocol):
    """What `judge` reads of an observer: lab/probeset.py shares one socket
    between many probes and keeps these per probe."""

    arrived: bool
    answered_by_target: bool


def judge(
    protocol: str,
    address: str,
    timeout: float,
    answer: Answer,
    observer: Watched | None,
    observe_ns: str | None,
) -> ProbeResult:
    """CLI.md's "reachable", from what came back and what the target saw."""
    arrived = observer.arrived if observer is not None else None
    refused = answer.kind in ("rst", "icmp") and answer.icmp_type != ICMP_TIMXCEED

    def result(reachable: bool, detail: str) -> ProbeResult:
        return ProbeResult(reachable, arrived, detail, refused=refused, rtt_ms=answer.rtt_ms)

    if answer.kind == "local":
        return result(False, answer.detail)
    if arrived is False:
        if answer.kind == "silent":
            return result(False, f"{answer.detail}; the probe never reached {observe_ns}")
        return result(False, f"the reply came from elsewhere ({answer.detail}); the probe never reached {observe_ns}")
    where = f" to {observe_ns}" if arrived else ""
    delivered_no_service = answer.kind == "icmp" and answer.icmp_type == ICMP_UNREACH and answer.icmp_code == PORT_UNREACH
    if protocol == "udp":
        if answer.kind == "answered":
            return result(True, f"delivered{where}; {answer.detail}")
        if delivered_no_service and (arrived or answer.offender == address):
            refused = False
            return result(True, f"delivered{where}; no service answered ({answer.detail})")
        if answer.kind == "silent" and arrived:
            if observer is not None and observer.answered_by_target:
                return result(False, f"delivered{where}; a service answered but its answer did not come back")
            return result(True, f"delivered{where}; nothing answered within {timeout:g} s")
        if answer.kind == "silent":
            return result(False, f"{answer.detail}; delivery not confirmed (no target host to observe)")
    if answer.kind == "answered":
        seen = f"; the probe arrived at {observe_ns}" if arrived else ""
        return result(True, f"{answer.detail}{seen}")
    if answer.kind == "rst" or (refused and arrived):
        return result(False, f"the packet arrived at {observe_ns or address} but was refused ({answer.detail})")
    if arrived:
        return result(False, f"the packet arrived at {observe_ns} but {answer.detail.lower()}")
    return result(False, answer.detail)


__all__ = ["exec_in", "probe"]
