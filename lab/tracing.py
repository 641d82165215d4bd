"""One probe watched in many namespaces at once, for `trace`.

An AF_PACKET socket in every namespace the model predicts (and in their
neighbours, where a wrong turn would take the packet) records each copy
of the probe: the interface, which way it went (PACKET_OUTGOING or
arriving), the kernel's timestamp and the addresses as NAT has made them
there. A classic BPF filter keeps only IPv4 packets of the probe's
protocol, so a busy lab does not flood the observers.

Copies are recognised by what NAT leaves alone: the random token in the
ICMP and UDP payloads (or the SYN of TCP), and the IP identification of
the copy that left the source namespace, which routers and NAT keep: an
echo service sends the token back, but in a packet of its own.
"""

from __future__ import annotations

import ctypes
import socket
import struct
from dataclasses import dataclass

from engine.ports import ProbeResult, Sighting, TraceProbe
from lab import netns
from lab.execns import check_ns
from lab.probes import (
    ETH_P_ALL,
    PACKET_OUTGOING,
    SENDERS,
    SO_RCVBUFFORCE,
    Observer,
    Packet,
    Sender,
    TcpSender,
    exchange,
    judge,
    parse_ipv4,
)

SO_ATTACH_FILTER = 26
SO_TIMESTAMPNS = 35
PROTO_NUMBERS = {"icmp": 1, "tcp": 6, "udp": 17}
SKF_AD_PROTOCOL = 0xFFFFF000  # SKF_AD_OFF + SKF_AD_PROTOCOL: skb->protocol


def _filter(proto: int) -> tuple[bytes, ctypes.Array[ctypes.c_char]]:
    """`ip proto P` as classic BPF for a SOCK_DGRAM packet socket."""
    insns = [
        (0x28, 0, 0, SKF_AD_PROTOCOL),  # ldh skb->protocol
        (0x15, 0, 3, 0x0800),  # jeq IPv4, else reject
        (0x30, 0, 0, 9),  # ldb [9] (IP protocol)
        (0x15, 0, 1, proto),  # jeq proto, else reject
        (0x06, 0, 0, 0x40000),  # accept
        (0x06, 0, 0, 0),  # reject
    ]
    code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in insns))
    return struct.pack("HL", len(insns), ctypes.addressof(code)), code


@dataclass(frozen=True)
class Copy:
    """One captured copy of a packet."""

    ns: str
    ifname: str
    outgoing: bool
    time_ns: int
    pkt: Packet
    ip_id: int


class Capture:
    """Packet sockets in many namespaces, filtered to one protocol."""

    def __init__(self, namespaces: tuple[str, ...], protocol: str) -> None:
        self.socks: dict[str, socket.socket] = {}
        prog, _keep = _filter(PROTO_NUMBERS[protocol])
        try:
            for ns in namespaces:
                sock = netns.socket_in(ns, socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
                self.socks[ns] = sock
                sock.setblocking(False)
                sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, prog)
                sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                try:
                    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 1 << 20)
                except OSError:
                    pass
        except BaseException:
            self.close()
            raise

    def drain(self) -> list[Copy]:
        """Every packet queued so far."""
        out = []
        for ns, sock in self.socks.items():
            while True:
                try:
                    data, anc, _flags, addr = sock.recvmsg(65535, 64)
                except (BlockingIOError, InterruptedError):
                    break
                pkt = parse_ipv4(data)
                if pkt is None:
                    continue
                stamp = next((d for level, kind, d in anc if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS), None)
                t = 0
                if stamp is not None and len(stamp) >= 16:
                    sec, nsec = struct.unpack_from("qq", stamp)
                    t = sec * 1_000_000_000 + nsec
                out.append(Copy(ns, addr[0], addr[2] == PACKET_OUTGOING, t, pkt, int.from_bytes(data[4:6], "big")))
        return out

    def close(self) -> None:
        """Release every socket."""
        for sock in self.socks.values():
            sock.close()


def _ports(pkt: Packet) -> tuple[int | None, int | None]:
    if pkt.proto in (6, 17) and len(pkt.l4) >= 4:
        sport, dport = struct.unpack_from("!HH", pkt.l4)
        return sport, dport
    return None, None


def _is_syn(pkt: Packet) -> bool:
    """A SYN without ACK: a connection's first packet (NAT may change its ports)."""
    return pkt.proto == 6 and len(pkt.l4) >= 14 and pkt.l4[13] & 0x12 == 0x02


def _probe_copies(sender: Sender, src_ns: str, seen: list[Copy]) -> list[Sighting]:
    """The captured copies of this probe: its signature and the IP
    identification it left the source with."""
    matches = _is_syn if isinstance(sender, TcpSender) else sender.is_probe
    first = next((c for c in sorted(seen, key=lambda c: c.time_ns) if c.ns == src_ns and c.outgoing and sender.is_probe(c.pkt)), None)
    if first is None:
        return []
    mine = [c for c in seen if c.ip_id == first.ip_id and matches(c.pkt)]
    return [Sighting(c.ns, c.ifname, c.outgoing, c.time_ns, c.pkt.src, c.pkt.dst, *_ports(c.pkt)) for c in mine]


def trace_probe(req: TraceProbe) -> tuple[ProbeResult, list[Sighting]]:
    """Send one probe and return CLI.md's judgement with every copy seen."""
    for ns in (req.src_ns, *req.watch):
        check_ns(ns)
    capture = Capture(tuple(dict.fromkeys((req.src_ns, *req.watch))), req.protocol)
    observer = None
    try:
        observer = Observer(req.observe_ns, with_lo=req.observe_ns == req.src_ns) if req.observe_ns else None
        sender = SENDERS[req.protocol](req.src_ns, req.address, req.port, req.sport)
        try:
            answer = exchange(sender, observer, req.timeout)
            copies = _probe_copies(sender, req.src_ns, capture.drain())
        finally:
            sender.close()
    finally:
        capture.close()
        if observer is not None:
            observer.close()
    result = judge(req.protocol, req.address, req.timeout, answer, observer, req.observe_ns)
    return result, sorted(copies, key=lambda s: s.time_ns)
