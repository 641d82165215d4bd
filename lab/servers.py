"""The small servers a lab runs in its namespaces: `python -m lab.servers KIND`.

http, tcp-echo and udp-echo are the standard library's socketserver and
http.server (threaded, so concurrent clients each get their own answer);
dns answers by the asker's source address (lab/dnsserver.py);
`policy-log` reads the namespace's NFLOG group and appends one line per
logged packet to the lab's policy log. pyroute2 has no NFLOG support, so
that part speaks the netlink protocol itself (nfnetlink_log: one config
message to bind the group, then packets with a prefix and the IP header).

Each server writes one byte to `--ready-fd` once it listens, so a commit
returns only when its services answer. A lab starts dozens of these at
once (a provider per endpoint service), so each imports only what its kind
needs: http.server alone costs more than the rest of a start.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import socketserver
import struct
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

NETLINK_NETFILTER = 12
NFNL_SUBSYS_ULOG = 4
NFULNL_MSG_PACKET, NFULNL_MSG_CONFIG = 0, 1
NFULA_CFG_CMD, NFULA_CFG_MODE, NFULA_CFG_QTHRESH = 1, 2, 5
SOL_NETLINK, NETLINK_NO_ENOBUFS = 270, 5
NFULNL_CFG_CMD_BIND = 1
NFULNL_COPY_PACKET = 2
NFULA_PAYLOAD, NFULA_PREFIX = 9, 10
NLM_F_REQUEST, NLM_F_ACK = 1, 4


def _ready(fd: int | None) -> None:
    if fd is not None:
        os.write(fd, b"1")
        os.close(fd)


class _Threaded(socketserver.ThreadingMixIn):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver listens with a backlog of 5: `verify` opens a connection from
    # every other group at once, and SYNs beyond the backlog wait a 1 s retransmit
    request_queue_size = 256


class _TcpEcho(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


class _UdpEcho(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        sock.sendto(data, self.client_address)


def _http_handler(page: bytes) -> type[BaseHTTPRequestHandler]:
    """A page served as is, where `{client}` becomes the client's address as
    this server sees it (a provider shows each endpoint its own)."""

    from http.server import BaseHTTPRequestHandler

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page.replace(b"{client}", str(self.client_address[0]).encode())
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    return Page


def serve(kind: str, port: int, data: bytes, ready_fd: int | None) -> None:
    """Run one tcp/udp server until killed."""
    if kind == "http":
        from http.server import HTTPServer

        server: socketserver.BaseServer = type("S", (_Threaded, HTTPServer), {})(("0.0.0.0", port), _http_handler(data))
    elif kind == "tcp-echo":
        server = type("S", (_Threaded, socketserver.TCPServer), {})(("0.0.0.0", port), _TcpEcho)
    elif kind == "udp-echo":
        server = type("S", (_Threaded, socketserver.UDPServer), {})(("0.0.0.0", port), _UdpEcho)
    else:
        raise SystemExit(f"unknown kind {kind}")
    _ready(ready_fd)
    server.serve_forever()


# policy log ----------------------------------------------------------------


def _nlattr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def _bind_nflog(group: int) -> socket.socket:
    """Bind NFLOG `group`: copy 80 bytes of each packet (its headers), and
    send each one at once (queue threshold 1: the kernel otherwise batches
    for up to a second, and `show log` right after a probe would miss it)."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)  # a flood loses lines, not the collector
    sock.bind((0, 0))
    msg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG
    for seq, attr in enumerate(
        (
            _nlattr(NFULA_CFG_CMD, struct.pack("B3x", NFULNL_CFG_CMD_BIND)),
            _nlattr(NFULA_CFG_MODE, struct.pack(">IBx", 80, NFULNL_COPY_PACKET)),
            _nlattr(NFULA_CFG_QTHRESH, struct.pack(">I", 1)),
        ),
        1,
    ):
        body = struct.pack("BBH", socket.AF_UNSPEC, 0, socket.htons(group)) + attr
        sock.send(struct.pack("IHHII", 16 + len(body), msg_type, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body)
        reply = sock.recv(65536)
        err = struct.unpack_from("i", reply, 16)[0] if struct.unpack_from("H", reply, 4)[0] == 2 else 0
        if err:
            raise OSError(-err, "nflog bind refused")
    return sock


def _describe(prefix: str, packet: bytes) -> str:
    if len(packet) < 20:
        return prefix
    ihl = (packet[0] & 0x0F) * 4
    proto = packet[9]
    src, dst = socket.inet_ntoa(packet[12:16]), socket.inet_ntoa(packet[16:20])
    names = {1: "icmp", 6: "tcp", 17: "udp"}
    if proto in (6, 17) and len(packet) >= ihl + 4:
        sport, dport = struct.unpack_from(">HH", packet, ihl)
        return f"{prefix} {names[proto]} {src}:{sport} -> {dst}:{dport}"
    return f"{prefix} {names.get(proto, str(proto))} {src} -> {dst}"


def policy_log(group: int, out: str, where: str, ready_fd: int | None) -> None:
    """Append a line per packet logged to NFLOG `group` in this namespace."""
    sock = _bind_nflog(group)
    _ready(ready_fd)
    packet_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    while True:
        try:
            data = sock.recv(1 << 20)
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                continue
            raise
        off = 0
        while off + 16 <= len(data):
            length, mtype = struct.unpack_from("IH", data, off)
            if length < 16 or off + length > len(data):
                break
            if mtype == packet_type:
                attrs = _attrs(data[off + 20 : off + length])
                prefix = attrs.get(NFULA_PREFIX, b"").rstrip(b"\0").decode(errors="replace").strip().rstrip(":")
                line = _describe(prefix, attrs.get(NFULA_PAYLOAD, b""))
                stamp = time.strftime("%Y-%m-%d %H:%M:%S")
                os.write(fd, f"{stamp} {line} ({where})\n".encode())
            off += (length + 3) & ~3


def _attrs(blob: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    off = 0
    while off + 4 <= len(blob):
        length, kind = struct.unpack_from("HH", blob, off)
        if length < 4:
            break
        out[kind & 0x3FFF] = blob[off + 4 : off + length]  # without NLA_F_NESTED / NET_BYTEORDER
        off += (length + 3) & ~3
    return out


def main(argv: list[str] | None = None) -> None:
    """Entry point of the server processes."""
    p = argparse.ArgumentParser(prog="python -m lab.servers")
    p.add_argument("kind")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--data", default="")
    p.add_argument("--out", default="")
    p.add_argument("--where", default="")
    p.add_argument("--ready-fd", type=int)
    p.add_argument("--group", type=int, default=1)
    p.add_argument("--marker", default="")
    p.add_argument("--address", default="0.0.0.0")
    args = p.parse_args(argv)
    if args.kind == "policy-log":
        policy_log(args.group, args.out, args.where, args.ready_fd)
        return
    if args.kind == "dns":
        from lab import dnsserver

        dnsserver.serve(args.address, args.port, args.data, args.ready_fd)
        return
    data = open(args.data, "rb").read() if args.kind == "http" else b""
    serve(args.kind, args.port, data, args.ready_fd)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
