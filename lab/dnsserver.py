"""A small authoritative DNS server that answers by the asker's source address.

`python -m lab.servers dns --address A --port 53 --data FILE`: FILE holds
`{"zone": Z, "views": [{"sources": [PREFIX, ...], "names": {NAME: ADDRESS}}]}`;
a query is answered from the view whose source prefix holds the asker's
address most specifically (split-horizon DNS). It answers `NAME.Z.` and the
bare `NAME.` with an A record, NOERROR without records for other types of
a known name, NXDOMAIN for an unknown name of the zone, and REFUSED for
names outside it or an asker no view knows; it forwards nothing.

Why not dnsmasq, which served the lab before: dnsmasq has no views by
source address, so it would take one instance per view, each on its own
port, behind a DNAT by source prefix in the host's namespace (and another
for the host's own queries), restarted or signalled one by one when a view
changes. Here one process per dns service serves every view, the packets
stay what they look like (port 53 end to end, for `show flows` and
`trace`), and the file is read again when it changes (one stat per query),
so a commit that adds an endpoint changes the answers without a restart.
dnspython parses and builds the messages; UDP and TCP (RFC 7766 framing)
are served on threads.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import socketserver
import struct
import threading
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

TTL = 5  # seconds: answers change with commits


class Views:
    """The views of one data file, read again whenever the file changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._lock = threading.Lock()
        self.zone = dns.name.root
        self._table: list[tuple[int, int, dict[str, str]]] = []  # (network, mask, names), longest first

    def _fresh(self) -> None:
        try:
            st = os.stat(self.path)
        except OSError:
            self._stamp, self._table = None, []
            return
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        with open(self.path) as fh:
            doc: dict[str, Any] = json.load(fh)
        table = []
        for view in doc.get("views", []):
            names = {str(k).lower(): str(v) for k, v in view.get("names", {}).items()}
            for prefix in view.get("sources", []):
                net = ipaddress.IPv4Network(prefix)
                table.append((int(net.network_address), int(net.netmask), names))
        table.sort(key=lambda row: -bin(row[1]).count("1"))
        self.zone = dns.name.from_text(str(doc.get("zone", "")))
        self._table, self._stamp = table, stamp

    def lookup(self, source: str) -> tuple[dns.name.Name, dict[str, str] | None]:
        """The zone and the names that `source` is answered from (None: no view)."""
        with self._lock:
            try:
                self._fresh()
            except (OSError, ValueError):
                self._stamp, self._table = None, []
            addr = int(ipaddress.IPv4Address(source))
            names = next((n for net, mask, n in self._table if addr & mask == net), None)
            return self.zone, names


def answer(views: Views, source: str, wire: bytes) -> bytes | None:
    """The response to one query from `source` (None for what is not a query)."""
    try:
        query = dns.message.from_wire(wire)
    except Exception:  # dnspython raises many kinds for malformed input; a query we cannot read gets no answer
        return None
    if query.flags & dns.flags.QR or len(query.question) != 1:
        return None
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    question = query.question[0]
    zone, names = views.lookup(source)
    label = _label(question.name, zone)
    if names is None or label is None:
        response.set_rcode(dns.rcode.REFUSED)
        response.flags &= ~dns.flags.AA
    elif label == "":
        pass  # the zone's apex: it exists, it holds no address
    elif label not in names:
        response.set_rcode(dns.rcode.NXDOMAIN)
    elif question.rdtype in (dns.rdatatype.A, dns.rdatatype.ANY):
        response.answer.append(dns.rrset.from_text(question.name, TTL, "IN", "A", names[label]))
    return response.to_wire()  # type: ignore[no-any-return]


def _label(name: dns.name.Name, zone: dns.name.Name) -> str | None:
    """`NAME` of `NAME.ZONE.` or of a bare `NAME.`, "" for the zone itself,
    None for anything else (not ours to answer)."""
    if name == zone:
        return ""
    if name.parent() == zone or len(name.labels) == 2:  # NAME.ZONE. or NAME. (and the root label)
        return name.labels[0].decode(errors="replace").lower()
    return None


def serve(address: str, port: int, path: str, ready_fd: int | None) -> None:
    """Serve UDP and TCP on (address, port) until killed."""
    views = Views(path)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((address, port))

    class Stream(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            source = self.client_address[0]
            while head := _read(self.request, 2):
                wire = _read(self.request, struct.unpack(">H", head)[0])
                reply = answer(views, source, wire) if wire else None
                if reply is None:
                    return
                self.request.sendall(struct.pack(">H", len(reply)) + reply)

    tcp = type("S", (socketserver.ThreadingMixIn, socketserver.TCPServer),
               {"daemon_threads": True, "allow_reuse_address": True})((address, port), Stream)
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    if ready_fd is not None:
        os.write(ready_fd, b"1")
        os.close(ready_fd)
    while True:
        wire, (source, sport) = udp.recvfrom(4096)
        reply = answer(views, source, wire)
        if reply is not None:
            udp.sendto(reply, (source, sport))


def _read(sock: socket.socket, n: int) -> bytes:
    """Exactly `n` bytes, or b"" when the peer closes first."""
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return b""
        data += chunk
    return data
