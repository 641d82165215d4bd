"""The conntrack decoder on dumps made here (no kernel): a read whose
messages all have one layout is decoded at once, and a message of the same
length but another layout in it sends the read to the per-message path,
which gives every entry as the generic decoder reads it alone."""

from __future__ import annotations

import socket
import struct

from lab import ctnetlink as ct
from lab.ctnetlink import _attr


def message(sport: int, mark_kind: int = ct.CTA_MARK, zone: int | None = None) -> bytes:
    """A dump message of a udp entry 10.0.0.1:sport -> 10.0.0.2:53 with
    counters; `mark_kind` lets a test put another attribute of the same
    size where the mark is; `zone` adds an original-direction zone."""

    def tuple_of(src: str, dst: str, sp: int, dp: int, kind: int, z: int | None) -> bytes:
        ip = _attr(ct.CTA_IP_V4_SRC, socket.inet_aton(src)) + _attr(ct.CTA_IP_V4_DST, socket.inet_aton(dst))
        proto = _attr(ct.CTA_PROTO_NUM, b"\x11") + _attr(ct.CTA_PROTO_SRC_PORT, struct.pack(">H", sp)) \
            + _attr(ct.CTA_PROTO_DST_PORT, struct.pack(">H", dp))  # fmt: skip
        body = _attr(ct.CTA_TUPLE_IP, ip) + _attr(ct.CTA_TUPLE_PROTO, proto)
        body += _attr(ct.CTA_TUPLE_ZONE, struct.pack(">H", z)) if z is not None else b""
        return _attr(kind, body)

    def counters(kind: int, packets: int, nbytes: int) -> bytes:
        return _attr(kind, _attr(ct.CTA_COUNTERS_PACKETS, struct.pack(">Q", packets)) + _attr(ct.CTA_COUNTERS_BYTES, struct.pack(">Q", nbytes)))

    attrs = (tuple_of("10.0.0.1", "10.0.0.2", sport, 53, ct.CTA_TUPLE_ORIG, zone)
             + tuple_of("10.0.0.2", "10.0.0.1", 53, sport, ct.CTA_TUPLE_REPLY, None)
             + _attr(mark_kind, struct.pack(">I", 2)) + counters(ct.CTA_COUNTERS_ORIG, 1, 60) + counters(ct.CTA_COUNTERS_REPLY, 2, 90))  # fmt: skip
    body = struct.pack("=BBH", socket.AF_INET, 0, 0) + attrs
    return struct.pack("=IHHII", 16 + len(body), (ct.NFNL_SUBSYS_CTNETLINK << 8) | ct.IPCTNL_MSG_CT_NEW, 2, 1, 0) + body


def decoded(buf: bytes) -> list[ct.Tracked]:
    out: list[ct.Tracked] = []
    ct.Decoder().messages(memoryview(buf), len(buf), out)  # learns the layout from the first message
    again: list[ct.Tracked] = []
    decoder = ct.Decoder()
    first = struct.unpack_from("=I", buf)[0]
    decoder.messages(memoryview(buf[:first]), first, [])
    decoder.messages(memoryview(buf), len(buf), again)  # a known layout: the whole read at once when it can
    assert again == out
    return out


def test_a_read_of_one_layout_decodes_whole_and_another_layout_of_that_length_is_caught() -> None:
    uniform = b"".join(message(p) for p in range(1000, 1100))
    got = decoded(uniform)
    assert [e.o_sport for e in got] == list(range(1000, 1100)) and {e.mark for e in got} == {2}
    assert got[0].r_packets == 2 and got[0].o_bytes == 60 and got[0].state is None and got[0].o_id is None
    # same length, but a status where the mark was: the bulk check fails and each message is read as it is
    odd = uniform[: 50 * len(message(1))] + message(1050, ct.CTA_STATUS) + uniform[51 * len(message(1)) :]
    got = decoded(odd)
    assert [e.o_sport for e in got] == list(range(1000, 1100))
    assert [e.mark for e in got].count(None) == 1 and got[50].mark is None


def test_a_zone_of_the_original_direction_is_the_entrys_zone() -> None:
    [e] = decoded(message(7, zone=3))
    assert e.zone == 3 and e.o_sport == 7
