"""Which of N a kernel `jhash ... mod N seed S` picks, predicted in Python.

The lab spreads connections over firewall instances and load-balancer
backends with nft's `jhash` over the connection's first packet, so the
data-path model (engine/datapath/) can say which instance a flow takes
only by computing the same hash. nft hashes the concatenation of its
operands as the kernel keeps them in registers: every element padded to 4
bytes (addresses in network order; `meta l4proto` one byte and three
zeros; each port two bytes big-endian and two zeros), with Linux's jhash
(Bob Jenkins' lookup3, 32-bit words read little-endian), and maps the hash
onto 0..N-1 with `reciprocal_scale`: (hash * N) >> 32. No library packages
lookup3 with Linux's exact tail handling and seed use, hence this module;
tests/test_lab_firewall.py checks it against the kernel.
"""

from __future__ import annotations

import socket
import struct

from engine.marks import JHASH_SEED

MASK = 0xFFFFFFFF
PORTED = (6, 17)  # tcp, udp: hashed with their ports; other protocols by addresses alone


def _rol(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & MASK


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    for ra, rb, rc in ((4, 6, 8), (16, 19, 4)):
        a = ((a - c) & MASK) ^ _rol(c, ra)
        c = (c + b) & MASK
        b = ((b - a) & MASK) ^ _rol(a, rb)
        a = (a + c) & MASK
        c = ((c - b) & MASK) ^ _rol(b, rc)
        b = (b + a) & MASK
    return a, b, c


# __jhash_final: (x, y, r) means x ^= y; x -= rol(y, r), on the words a=0, b=1, c=2
_FINAL = ((2, 1, 14), (0, 2, 11), (1, 0, 25), (2, 1, 16), (0, 2, 4), (1, 0, 14), (2, 1, 24))


def _final(a: int, b: int, c: int) -> int:
    w = [a, b, c]
    for x, y, r in _FINAL:
        w[x] = ((w[x] ^ w[y]) - _rol(w[y], r)) & MASK
    return w[2]


def jhash(key: bytes, initval: int) -> int:
    """Linux's jhash() of `key` (include/linux/jhash.h)."""
    length = len(key)
    a = b = c = (0xDEADBEEF + length + initval) & MASK
    offset = 0
    while length > 12:
        x, y, z = struct.unpack_from("<III", key, offset)
        a, b, c = _mix((a + x) & MASK, (b + y) & MASK, (c + z) & MASK)
        length -= 12
        offset += 12
    if length == 0:
        return c
    x, y, z = struct.unpack("<III", key[offset:] + b"\0" * (12 - length))
    return _final((a + x) & MASK, (b + y) & MASK, (c + z) & MASK)


def flow_key(src: str, dst: str, proto: int, sport: int | None = None, dport: int | None = None) -> bytes:
    """The bytes nft hashes for a connection: addresses and protocol, and
    for tcp and udp the two ports (as `hash_expression` in compile/steering)."""
    key = socket.inet_aton(src) + socket.inet_aton(dst) + bytes((proto, 0, 0, 0))
    if proto in PORTED:
        key += struct.pack("!H2x", sport or 0) + struct.pack("!H2x", dport or 0)
    return key


def choose(src: str, dst: str, proto: int, sport: int | None, dport: int | None, count: int, seed: int = JHASH_SEED) -> int:
    """The index (0..count-1) that `jhash ... mod count seed S` gives this connection."""
    return (jhash(flow_key(src, dst, proto, sport, dport), seed) * count) >> 32
