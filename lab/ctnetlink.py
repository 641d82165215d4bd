"""Conntrack tables read through ctnetlink directly: a lean decoder.

Why not pyroute2: its conntrack decoding is about 80x slower than the
`conntrack` tool (LINUX-NOTES); why not the tool: a process per namespace
per poll, and text to parse again. This reads the dump with one netlink
socket per namespace, kept open between polls, and decodes with `struct`.

Most messages of a table have one of a few layouts (IPv4 tcp or udp with
accounting and timestamps): the first message of a layout is decoded
attribute by attribute, which also records where each value and every
attribute header sits; later messages of the same length are read with
one precompiled `struct` and accepted only when all their attribute
headers are byte for byte those of the recorded layout (else the generic
decoder reads them). lab/conntrack.py's `conntrack -L` parser is the
reference a test holds this decoder against.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat
from operator import add, itemgetter
from typing import Any

from engine.marks import REFUSED
from engine.ports import PROTO_NAMES, TCP_STATES, Tracked
from lab import netns

NETLINK_NETFILTER = 12
NFNL_SUBSYS_CTNETLINK = 1
IPCTNL_MSG_CT_NEW, IPCTNL_MSG_CT_GET, IPCTNL_MSG_CT_DELETE = 0, 1, 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLA_F_NESTED = 0x8000
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLA_TYPE_MASK = 0x3FFF
SO_RCVBUFFORCE = 33
# attributes (linux/netfilter/nfnetlink_conntrack.h)
CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, CTA_STATUS, CTA_PROTOINFO = 1, 2, 3, 4
CTA_MARK, CTA_COUNTERS_ORIG, CTA_COUNTERS_REPLY, CTA_ZONE, CTA_TIMESTAMP, CTA_MARK_MASK = 8, 9, 10, 18, 20, 21
CTA_TUPLE_IP, CTA_TUPLE_PROTO, CTA_TUPLE_ZONE = 1, 2, 3
CTA_IP_V4_SRC, CTA_IP_V4_DST = 1, 2
CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT = 1, 2, 3
CTA_PROTO_ICMP_ID, CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMP_CODE = 4, 5, 6
CTA_PROTOINFO_TCP, CTA_PROTOINFO_TCP_STATE = 1, 1
CTA_COUNTERS_PACKETS, CTA_COUNTERS_BYTES = 1, 2
CTA_TIMESTAMP_START = 1


def reference(e: Tracked) -> dict[str, Any]:
    """An entry in the shape lab/conntrack.py's `conntrack -L` parser gives."""
    out: dict[str, Any] = {"protocol": PROTO_NAMES.get(e.proto, str(e.proto)),
                           "state": TCP_STATES.get(e.state) if e.state is not None else None,
                           "orig": {"src": address(e.o_src), "dst": address(e.o_dst)},
                           "reply": {"src": address(e.r_src), "dst": address(e.r_dst)},
                           "mark": e.mark or 0}  # fmt: skip
    for side, values in (("orig", e[7:11] + e[17:20]), ("reply", e[13:17] + e[20:23])):
        d = out[side]
        sport, dport, packets, nbytes, *icmp = values
        if sport is not None:
            d["sport"], d["dport"] = sport, dport
        d.update({k: v for k, v in zip(("type", "code", "id"), icmp, strict=True) if v is not None})
        d["packets"], d["bytes"] = packets or 0, nbytes or 0
    return out


address = socket.inet_ntoa
FIELDS = Tracked._fields
# values a layout reads, with their struct codes (network byte order)
CODES = {"proto": "B", "state": "B", "mark": "I", "zone": "H", "start_ns": "Q", "o_src": "4s", "o_dst": "4s",
         "o_sport": "H", "o_dport": "H", "o_packets": "Q", "o_bytes": "Q", "r_src": "4s", "r_dst": "4s",
         "r_sport": "H", "r_dport": "H", "r_packets": "Q", "r_bytes": "Q", "o_type": "B", "o_code": "B", "o_id": "H",
         "r_type": "B", "r_code": "B", "r_id": "H"}  # fmt: skip


def _attrs(buf: bytes | memoryview, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(type, payload offset, payload length) of each attribute in [start, end)."""
    while start + 4 <= end:
        length, kind = struct.unpack_from("=HH", buf, start)
        if length < 4:
            return
        yield kind & NLA_TYPE_MASK, start + 4, length - 4
        start += (length + 3) & ~3


class _Walk:
    """The generic decoder of one message: values and where each sits."""

    TUPLE = {CTA_TUPLE_ORIG: "o", CTA_TUPLE_REPLY: "r"}

    def __init__(self, buf: bytes | memoryview, start: int, end: int) -> None:
        self.buf = buf
        self.at: dict[str, int] = {}  # value name -> offset
        self.headers: list[int] = []  # offsets of every attribute header walked
        self._top(start, end)

    def _each(self, start: int, end: int) -> Iterator[tuple[int, int, int]]:
        for kind, off, n in _attrs(self.buf, start, end):
            self.headers.append(off - 4)
            yield kind, off, n

    def _top(self, start: int, end: int) -> None:
        nested = {CTA_PROTOINFO: self._protoinfo, CTA_COUNTERS_ORIG: self._counters("o"),
                  CTA_COUNTERS_REPLY: self._counters("r"), CTA_TIMESTAMP: self._timestamp}  # fmt: skip
        for kind, off, n in self._each(start, end):
            if kind in self.TUPLE:
                self._tuple(self.TUPLE[kind], off, off + n)
            elif kind in nested:
                nested[kind](off, off + n)
            elif kind == CTA_MARK:
                self.at["mark"] = off
            elif kind == CTA_ZONE:
                self.at["zone"] = off

    def _tuple(self, side: str, start: int, end: int) -> None:
        for kind, off, n in self._each(start, end):
            if kind == CTA_TUPLE_IP:
                for k, o, _n in self._each(off, off + n):
                    if k in (CTA_IP_V4_SRC, CTA_IP_V4_DST):
                        self.at[f"{side}_{'src' if k == CTA_IP_V4_SRC else 'dst'}"] = o
            elif kind == CTA_TUPLE_ZONE and side == "o":
                self.at["zone"] = off  # a zone of the original direction only (`ct original zone`)
            elif kind == CTA_TUPLE_PROTO:
                names = {CTA_PROTO_NUM: "proto", CTA_PROTO_SRC_PORT: f"{side}_sport", CTA_PROTO_DST_PORT: f"{side}_dport",
                         CTA_PROTO_ICMP_TYPE: f"{side}_type", CTA_PROTO_ICMP_CODE: f"{side}_code", CTA_PROTO_ICMP_ID: f"{side}_id"}  # fmt: skip
                for k, o, _n in self._each(off, off + n):
                    if k in names:
                        self.at[names[k]] = o

    def _protoinfo(self, start: int, end: int) -> None:
        for kind, off, n in self._each(start, end):
            if kind == CTA_PROTOINFO_TCP:
                for k, o, _n in self._each(off, off + n):
                    if k == CTA_PROTOINFO_TCP_STATE:
                        self.at["state"] = o

    def _counters(self, side: str) -> Any:
        def read(start: int, end: int) -> None:
            for kind, off, _n in self._each(start, end):
                if kind == CTA_COUNTERS_PACKETS:
                    self.at[f"{side}_packets"] = off
                elif kind == CTA_COUNTERS_BYTES:
                    self.at[f"{side}_bytes"] = off

        return read

    def _timestamp(self, start: int, end: int) -> None:
        for kind, off, _n in self._each(start, end):
            if kind == CTA_TIMESTAMP_START:
                self.at["start_ns"] = off


class Layout:
    """A message layout: one struct reading every header and needed value.

    Offsets are relative to the message start; headers are read as raw
    4-byte strings and must equal the recorded ones for the layout to apply."""

    def __init__(self, walk: _Walk, msg_start: int, length: int) -> None:
        # nlmsg_len and every attribute header must match; values are read where the first message had them
        parts: list[tuple[int, str, str | None]] = [(0, "4s", None), *((o - msg_start, "4s", None) for o in walk.headers)]
        parts += [(o - msg_start, CODES[name], name) for name, o in walk.at.items()]
        parts.sort(key=lambda p: p[0])
        fmt, vfmt, pos = ">", ">", 0
        names: list[str | None] = []
        heads: list[int] = []
        aligned = (length + 3) & ~3
        mask = bytearray(aligned)
        mask[4:6] = b"\xff\xff"  # the message type
        for off, code, name in parts:
            if off < pos:
                continue  # a value inside a header span cannot happen; be safe
            gap = f"{off - pos}x" if off > pos else ""
            fmt += gap + code
            vfmt += gap + (code if name is not None else "4x")
            pos = off + struct.calcsize(">" + code)
            if name is None:
                heads.append(len(names))
                mask[off : off + 4] = b"\xff" * 4
            names.append(name)
        tail = f"{aligned - pos}x" if aligned > pos else ""  # the whole message: consecutive ones unpack in one pass
        self.struct = struct.Struct(fmt + tail)
        self.heads = itemgetter(*heads)
        self.expected = self.heads(self.struct.unpack_from(walk.buf, msg_start))
        index = {n: i for i, n in enumerate(names) if n is not None}
        missing = len(names)  # read as None: unpacked values get a None appended
        self.get = itemgetter(*[index.get(f, missing) for f in FIELDS])
        # the same, for a whole read of messages of this layout at once (Decoder._uniform): the
        # values alone, and the bytes every message must have under `mask` (its length, type and
        # every attribute header), compared for the whole read as one masked integer
        values = [n for n in names if n is not None]
        self.values = struct.Struct(vfmt + tail)
        self.vget = itemgetter(*[values.index(f) if f in values else len(values) for f in FIELDS])
        sample = bytes(walk.buf[msg_start : msg_start + aligned]).ljust(aligned, b"\0")
        self.mask, self.masked = bytes(mask), bytes(a & b for a, b in zip(sample, mask, strict=True))
        self.bulk: dict[int, tuple[int, int]] = {}  # messages in a read -> (mask, masked) as integers

    def matches(self, buf: memoryview, count: int) -> bool:
        """Do all `count` messages at the start of `buf` have this layout?"""
        got = self.bulk.get(count)
        if got is None:
            got = self.bulk[count] = (int.from_bytes(self.mask * count, "little"), int.from_bytes(self.masked * count, "little"))
        return int.from_bytes(buf[: count * len(self.mask)], "little") & got[0] == got[1]

    def read(self, buf: bytes | memoryview, start: int) -> Tracked | None:
        """The entry at `start` when it has this layout, else None."""
        vals = self.struct.unpack_from(buf, start)
        if self.heads(vals) != self.expected:
            return None
        return make(self.get((*vals, None)))


make = Tracked._make


class Decoder:
    """Messages to entries, with layouts learnt on the way (by message length)."""

    def __init__(self) -> None:
        self.layouts: dict[int, list[Layout]] = {}
        self.latest: dict[int, Layout] = {}  # the last layout that read a message of this length

    def entry(self, buf: bytes | memoryview, start: int, length: int) -> Tracked | None:
        """The entry of the message at `start` (nlmsghdr 16 + nfgenmsg 4 bytes)."""
        for layout in self.layouts.get(length, ()):
            got = layout.read(buf, start)
            if got is not None:
                self.latest[length] = layout
                return got
        walk = _Walk(buf, start + 20, start + length)
        if not all(n in walk.at for n in ("proto", "o_src", "o_dst", "r_src", "r_dst")):
            return None  # not IPv4, or a message we do not understand
        layout = Layout(walk, start, length)
        self.layouts.setdefault(length, []).append(layout)
        self.latest[length] = layout
        return layout.read(buf, start)

    def messages(self, buf: memoryview, n: int, out: list[Tracked]) -> int | None:
        """Decode the messages of one read into `out`; the error number of an
        NLMSG_ERROR, 0 at NLMSG_DONE, None when more reads follow. The
        common case (a known layout) is inlined: 300,000 entries pass here."""
        if self._uniform(buf, n, out):
            return None
        pos = 0
        latest, header = self.latest, HEADER.unpack_from
        while pos + 16 <= n:
            length, kind = header(buf, pos)
            if kind == NLMSG_DONE:
                return 0
            if kind == NLMSG_ERROR:
                err = struct.unpack_from("=i", buf, pos + 16)[0]
                if err:
                    return -err  # type: ignore[no-any-return]
            elif kind & 0xFF == IPCTNL_MSG_CT_NEW:
                lay = latest.get(length)
                vals = lay.struct.unpack_from(buf, pos) if lay is not None else None
                if vals is not None and lay.heads(vals) == lay.expected:  # type: ignore[union-attr]
                    out.append(make(lay.get((*vals, None))))  # type: ignore[union-attr]
                else:
                    got = self.entry(buf, pos, length)
                    if got is not None:
                        out.append(got)
            pos += (length + 3) & ~3
        return None


    def _uniform(self, buf: memoryview, n: int, out: list[Tracked]) -> bool:
        """A read whose messages all have one known layout (the usual case:
        a table of udp, or of tcp, flows) is decoded with one `iter_unpack`
        over the whole read; False, with nothing added, when it is not."""
        length, kind = HEADER.unpack_from(buf, 0)
        lay = self.latest.get(length)
        step = (length + 3) & ~3
        if lay is None or n % step or kind & 0xFF != IPCTNL_MSG_CT_NEW or lay.struct.size != step or not lay.matches(buf, n // step):
            return False
        out += map(make, map(lay.vget, map(add, lay.values.iter_unpack(buf[:n]), repeat(NONE))))  # no bytecode per entry
        return True


HEADER = struct.Struct("=IH")
NONE = (None,)  # what a layout's missing fields read
BATCH = 256  # requests per send: their acknowledgements fit any receive buffer


def _attr(kind: int, payload: bytes) -> bytes:
    """One netlink attribute, padded to 4 bytes."""
    size = 4 + len(payload)
    return struct.pack("=HH", size, kind) + payload + bytes(-size % 4)


def _original(e: Tracked) -> bytes:
    """CTA_TUPLE_ORIG of an entry, with its zone (as an original-direction
    zone, which finds an entry of a zone of both directions too)."""
    ip = _attr(CTA_IP_V4_SRC, e.o_src) + _attr(CTA_IP_V4_DST, e.o_dst)
    proto = _attr(CTA_PROTO_NUM, bytes([e.proto]))
    if e.o_sport is not None and e.o_dport is not None:
        proto += _attr(CTA_PROTO_SRC_PORT, struct.pack(">H", e.o_sport)) + _attr(CTA_PROTO_DST_PORT, struct.pack(">H", e.o_dport))
    elif e.o_id is not None:
        proto += (_attr(CTA_PROTO_ICMP_ID, struct.pack(">H", e.o_id)) + _attr(CTA_PROTO_ICMP_TYPE, bytes([e.o_type or 0]))
                  + _attr(CTA_PROTO_ICMP_CODE, bytes([e.o_code or 0])))  # fmt: skip
    body = _attr(CTA_TUPLE_IP | NLA_F_NESTED, ip) + _attr(CTA_TUPLE_PROTO | NLA_F_NESTED, proto)
    if e.zone:
        body += _attr(CTA_TUPLE_ZONE, struct.pack(">H", e.zone))
    return _attr(CTA_TUPLE_ORIG | NLA_F_NESTED, body)


def _request(e: Tracked, seq: int, refuse: bool) -> bytes:
    """An update that sets the REFUSED bit of the ct mark (an update of an
    existing entry: no NLM_F_CREATE), or a delete; acknowledged."""
    attrs = _original(e)
    if refuse:
        attrs += _attr(CTA_MARK, struct.pack(">I", REFUSED)) + _attr(CTA_MARK_MASK, struct.pack(">I", REFUSED))
    kind = (NFNL_SUBSYS_CTNETLINK << 8) | (IPCTNL_MSG_CT_NEW if refuse else IPCTNL_MSG_CT_DELETE)
    body = struct.pack("=BBH", socket.AF_INET, 0, 0) + attrs
    return struct.pack("=IHHII", 16 + len(body), kind, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body


class Table:
    """A namespace's conntrack table through one netlink socket kept open."""

    def __init__(self, ns: str) -> None:
        self.ns = ns
        self.sock = netns.socket_in(ns, socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.bind((0, 0))
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
        except OSError:
            pass
        self.decoder = Decoder()
        self.seq = 0
        self.buf = bytearray(1 << 20)

    def dump(self, mark: int | None = None, mask: int = 0xFFFFFFFF) -> list[Tracked]:
        """Every IPv4 entry (only those with `mark` under `mask` when given:
        the kernel filters, so the others are never sent)."""
        self.seq += 1
        attrs = b""
        if mark is not None:
            attrs = struct.pack("=HH", 8, CTA_MARK) + struct.pack(">I", mark) + struct.pack("=HH", 8, CTA_MARK_MASK) + struct.pack(">I", mask)
        kind = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET
        msg = struct.pack("=IHHII", 20 + len(attrs), kind, NLM_F_REQUEST | NLM_F_DUMP, self.seq, 0)
        self.sock.send(msg + struct.pack("=BBH", socket.AF_INET, 0, 0) + attrs)
        return self._collect()

    def change(self, entries: list[Tracked], refuse: bool) -> int:
        """Mark these connections refused (set the REFUSED bit of their ct
        mark: the tables drop them) or delete them; how many the kernel
        changed (one already gone is not counted). Each is addressed by its
        original tuple and zone, so two tenants' connections with the same
        addresses in one namespace are never confused."""
        done = 0
        for start in range(0, len(entries), BATCH):
            chunk = entries[start : start + BATCH]
            first = self.seq + 1
            self.seq += len(chunk)
            self.sock.send(b"".join(_request(e, first + i, refuse) for i, e in enumerate(chunk)))
            done += self._acks(first, len(chunk))
        return done

    def forget(self) -> None:
        """Delete every entry but those marked refused, in one request (a
        flush with a mark filter): what `clear flows` forgets is picked up
        again by its next packet, which a refused connection must not be."""
        self.seq += 1
        attrs = _attr(CTA_MARK, struct.pack(">I", 0)) + _attr(CTA_MARK_MASK, struct.pack(">I", REFUSED))
        body = struct.pack("=BBH", socket.AF_INET, 0, 0) + attrs
        kind = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE
        self.sock.send(struct.pack("=IHHII", 16 + len(body), kind, NLM_F_REQUEST | NLM_F_ACK, self.seq, 0) + body)
        if not self._acks(self.seq, 1):
            raise OSError(f"conntrack flush in {self.ns} refused")

    def _acks(self, first: int, count: int) -> int:
        """Read the acknowledgements of `count` requests numbered from `first`:
        how many succeeded."""
        ok = seen = 0
        while seen < count:
            n = self.sock.recv_into(self.buf)
            pos = 0
            while pos + 20 <= n:
                length, kind, _flags, seq = struct.unpack_from("=IHHI", self.buf, pos)
                if kind == NLMSG_ERROR and first <= seq < first + count:
                    seen += 1
                    ok += struct.unpack_from("=i", self.buf, pos + 16)[0] == 0
                pos += (length + 3) & ~3
        return ok

    def _collect(self) -> list[Tracked]:
        out: list[Tracked] = []
        view = memoryview(self.buf)
        while True:
            n = self.sock.recv_into(self.buf)
            err = self.decoder.messages(view, n, out)
            if err == 0:
                return out
            if err is not None:
                raise OSError(err, f"conntrack dump in {self.ns}: {os.strerror(err)}")

    def close(self) -> None:
        """Release the socket."""
        self.sock.close()


class Tables:
    """One open `Table` per namespace, reused poll after poll.

    A socket keeps its namespace alive, so a table is reopened when its
    namespace was replaced (another inode under /run/netns) and closed when
    the namespace is gone. Opening a table turns on conntrack timestamps in
    its namespace (a flow's age; entries made before have none). Safe for
    threads: each table is dumped by one thread at a time."""

    def __init__(self) -> None:
        self._tables: dict[str, tuple[int, Table, threading.Lock]] = {}
        self._lock = threading.Lock()

    def _table(self, ns: str) -> tuple[Table, threading.Lock] | None:
        try:
            inode = os.stat(netns.path(ns)).st_ino
        except FileNotFoundError:
            return None
        with self._lock:
            got = self._tables.get(ns)
            if got is not None and got[0] == inode:
                return got[1], got[2]
            if got is not None:
                got[1].close()
            netns.write_sysctls(ns, {"net.netfilter.nf_conntrack_timestamp": "1", "net.netfilter.nf_conntrack_acct": "1"})
            entry = (inode, Table(ns), threading.Lock())
            self._tables[ns] = entry
            return entry[1], entry[2]

    def read(self, namespaces: list[str], mark: int | None = None, mask: int = 0xFFFFFFFF) -> dict[str, list[Tracked]]:
        """Entries of each namespace that exists. Tables are dumped by a few
        threads at once: the kernel fills one socket (GIL released in
        recv) while Python decodes another."""
        tables = {ns: got for ns in namespaces if (got := self._table(ns)) is not None}

        def dump(ns: str) -> list[Tracked]:
            table, lock = tables[ns]
            with lock:
                return table.dump(mark, mask)

        if len(tables) > 1:
            with ThreadPoolExecutor(min(4, len(tables))) as pool:
                out = dict(zip(tables, pool.map(dump, tables), strict=True))
        else:
            out = {ns: dump(ns) for ns in tables}
        self._prune()
        return out

    def change(self, entries: dict[str, list[Tracked]], refuse: bool) -> int:
        """Mark refused, or delete, these entries of each namespace that
        exists (`Table.change`); how many the kernel changed."""
        done = 0
        for ns, rows in entries.items():
            got = self._table(ns) if rows else None
            if got is not None:
                with got[1]:
                    done += got[0].change(rows, refuse)
        return done

    def forget(self, namespaces: list[str]) -> None:
        """Delete every entry but the refused ones in each namespace that exists."""
        for ns in namespaces:
            got = self._table(ns)
            if got is not None:
                with got[1]:
                    got[0].forget()

    def _prune(self) -> None:
        with self._lock:
            for ns in [ns for ns in self._tables if not netns.exists(ns)]:
                self._tables.pop(ns)[1].close()

    def close(self) -> None:
        """Close every socket."""
        with self._lock:
            for _inode, table, _lock in self._tables.values():
                table.close()
            self._tables.clear()
