"""Probes watched in many namespaces at once, for `trace`.

An AF_PACKET socket in every namespace the model predicts (and in their
neighbours, where a wrong turn would take the packet) records each copy
of the probe: the interface, which way it went (PACKET_OUTGOING or
arriving), its place in that namespace's capture order and the addresses
as NAT has made them there. A classic BPF filter keeps only IPv4 packets
of the probe's protocol, so a busy lab does not flood the observers.

Copies are recognised by what NAT leaves alone: the random token in the
ICMP and UDP payloads (or the SYN of TCP), and the IP identification of
the copy that left the source namespace, which routers and NAT keep. An
echo service sends the token back in a packet of its own; a UDP probe
also carries its own TOS (lab/probes.py PROBE_TOS), which the echo's
answer does not, so the two never mix, whatever identification the kernel
gave each.

Copies are not ordered by the kernel's timestamps: the kernel stamps
packets only once its global timestamping switch is on, which it turns on
in a deferred work item after the first socket asks (net_enable_timestamp);
until then a copy gets the time it is read instead (__sock_recv_timestamp).
A probe sent right after the observers opened then looked later than the
echo's answer to it, and a host tracing its own address (answered by its
own udp-echo over lo) saw the answer as its probe (sport 7). Within one
namespace the order the socket queued the copies in is the kernel's own
order, and the hops need no other (engine/datapath/observe.py orders
namespaces by veth peers).
"""

from __future__ import annotations

import ctypes
import socket
import struct
from dataclasses import dataclass

from engine.ports import ProbeResult, ProbeSpec, Sighting, TraceProbe
from lab import netns, probeset
from lab.execns import check_ns
from lab.probes import ETH_P_ALL, PACKET_OUTGOING, SO_RCVBUFFORCE, Packet, Sender, TcpSender, parse_ipv4

SO_ATTACH_FILTER = 26
PROTO_NUMBERS = {"icmp": 1, "tcp": 6, "udp": 17}
SKF_AD_PROTOCOL = 0xFFFFF000  # SKF_AD_OFF + SKF_AD_PROTOCOL: skb->protocol


def _filter(protos: tuple[int, ...]) -> tuple[bytes, ctypes.Array[ctypes.c_char]]:
    """`ip proto { P, ... }` as classic BPF for a SOCK_DGRAM packet socket."""
    n = len(protos)
    insns = [(0x28, 0, 0, SKF_AD_PROTOCOL), (0x15, 0, n + 1, 0x0800), (0x30, 0, 0, 9)]  # IPv4? load IP protocol
    insns += [(0x15, n - i, 0, p) for i, p in enumerate(protos)]  # jeq P: jump to accept
    insns += [(0x06, 0, 0, 0), (0x06, 0, 0, 0x40000)]  # reject, accept
    code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in insns))
    return struct.pack("HL", len(insns), ctypes.addressof(code)), code


@dataclass(frozen=True)
class Copy:
    """One captured copy of a packet."""

    ns: str
    ifname: str
    outgoing: bool
    order: int  # place in its namespace's capture order
    pkt: Packet
    ip_id: int


class Capture:
    """Packet sockets in many namespaces, filtered to one protocol."""

    def __init__(self, namespaces: tuple[str, ...], protocols: tuple[str, ...]) -> None:
        self.socks: dict[str, socket.socket] = {}
        prog, _keep = _filter(tuple(sorted({PROTO_NUMBERS[p] for p in protocols})))
        try:
            for ns in namespaces:
                sock = netns.socket_in(ns, socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
                self.socks[ns] = sock
                sock.setblocking(False)
                sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, prog)
                try:
                    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 1 << 20)
                except OSError:
                    pass
        except BaseException:
            self.close()
            raise

    def drain(self) -> list[Copy]:
        """Every packet queued so far, each namespace's in the order captured."""
        out = []
        for ns, sock in self.socks.items():
            order = 0
            while True:
                try:
                    data, addr = sock.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                pkt = parse_ipv4(data)
                if pkt is None:
                    continue
                order += 1
                out.append(Copy(ns, addr[0], addr[2] == PACKET_OUTGOING, order, pkt, int.from_bytes(data[4:6], "big")))
        return out

    def close(self) -> None:
        """Release every socket (in the background: probeset.close_later)."""
        probeset.close_later(list(self.socks.values()))


def _ports(pkt: Packet) -> tuple[int | None, int | None]:
    if pkt.proto in (6, 17) and len(pkt.l4) >= 4:
        sport, dport = struct.unpack_from("!HH", pkt.l4)
        return sport, dport
    return None, None


def _syn_seq(pkt: Packet) -> int | None:
    """The sequence number of a SYN without ACK: a connection's first packet."""
    if pkt.proto != 6 or len(pkt.l4) < 14 or pkt.l4[13] & 0x12 != 0x02:
        return None
    return int(struct.unpack_from("!I", pkt.l4, 4)[0])


class _Copies:
    """Captured copies indexed for assignment to many probes at once: a TCP
    probe by its SYN's sequence number, others by IP identification (their
    payload token then tells concurrent probes apart). Each namespace's
    copies stay in the order they were captured."""

    def __init__(self, copies: list[Copy]) -> None:
        self.copies = copies
        self.by_seq: dict[int, list[Copy]] = {}
        self.by_id: dict[int, list[Copy]] = {}
        for c in self.copies:
            seq = _syn_seq(c.pkt)
            if seq is not None:
                self.by_seq.setdefault(seq, []).append(c)
            else:
                self.by_id.setdefault(c.ip_id, []).append(c)

    def of(self, sender: Sender, src_ns: str) -> list[Sighting]:
        """The copies of one probe, each namespace's in capture order."""
        first = next((c for c in self.copies if c.ns == src_ns and c.outgoing and sender.is_probe(c.pkt)), None)
        if first is None:
            return []
        if isinstance(sender, TcpSender):
            mine = self.by_seq.get(_syn_seq(first.pkt) or -1, [])
        else:
            mine = [c for c in self.by_id.get(first.ip_id, []) if sender.is_probe(c.pkt)]
        return [Sighting(c.ns, c.ifname, c.outgoing, c.order, c.pkt.src, c.pkt.dst, *_ports(c.pkt)) for c in mine]


def trace_probes(reqs: list[TraceProbe]) -> list[tuple[ProbeResult, list[Sighting]]]:
    """Send every probe at once, each judged as CLI.md says, and every copy
    of each seen in the namespaces watched (lab/probeset.py does the sending)."""
    for req in reqs:
        for ns in (req.src_ns, *req.watch):
            check_ns(ns)
    watch = tuple(dict.fromkeys(ns for r in reqs for ns in (r.src_ns, *r.watch)))
    timeout = max((r.timeout for r in reqs), default=0.0)
    capture = Capture(watch, tuple({r.protocol for r in reqs}))
    try:
        specs = [ProbeSpec(r.src_ns, r.address, r.protocol, r.port, r.sport, r.observe_ns) for r in reqs]
        probes = probeset.run(specs, timeout)
        copies = _Copies(capture.drain())
    finally:
        capture.close()
    return [(probeset.result(p, timeout), copies.of(p.sender, p.spec.src_ns) if p.sender else []) for p in probes]
