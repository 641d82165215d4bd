"""Compiler stage: segment policy as verdict maps.

Entries are evaluated first-match-wins on new connections only (the
forward chain accepts established traffic first). Each entry expands to
boxes in (protocol, source, destination, destination port) space, one per
pair of source and destination prefixes. Consecutive entries go into one
interval verdict map as long as their boxes are pairwise disjoint: then at
most one element of a map matches a packet, so one lookup per map gives
the first match of its run, and runs are consulted in sequence order. A
run's exact elements share one hash map and its ranged ones interval maps
of bounded size (policy_decls says why), so 10,000 disjoint host-to-host
entries are one lookup; overlapping entries start a new run. Every element
carries a counter and the comment `segment SEG SEQ`, which is how `show
policy hits` maps counters back.

Where the policy is enforced: in each router of the segment, on traffic
that enters from one of the segment's VPCs or from a share (traffic from
the backbone was judged on its first hub); and, with `micro-segmentation`,
in the VPC router on traffic between its subnets.
"""

from __future__ import annotations

import bisect
import socket
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Protocol, TypeVar

from engine.compile import naming
from engine.compile.cache import CompileCache
from engine.compile.nft import BACKBONE, POLICY, Rulesets, quote
from engine.compile.topology import Fabric
from engine.model import Config, PolicyEntry, Segment
from engine.origin import DEFAULT, Origin
from engine.prefixes import term_cidrs

PROTOCOLS = {"tcp": (6, 6), "udp": (17, 17), "icmp": (1, 1), "ip": (0, 255)}
# inspect entries accept where the policy is enforced: the connection was
# steered through the firewall before routing (compile/firewall.py), whose
# rules decide there (permit-and-inspect)
VERDICTS = {"permit": "accept", "deny": "drop", "inspect": "accept"}
LOG_GROUP = 1
# a logging entry logs at most LOG_RATE packets a second (LOG_BURST at once),
# per entry and namespace, so that a flood (a denied connection's retransmits,
# a scan) cannot fill the disk; its counters still count every packet
LOG_RATE, LOG_BURST = 10, 20
LOG_LIMIT = f"limit rate {LOG_RATE}/second burst {LOG_BURST} packets"
MATCH = "meta l4proto . ip saddr . ip daddr . th dport"

Box = tuple[int, int, int, int, int, int, int, int]  # proto, src, dst, port: lo/hi each
Resolved = tuple[tuple[str, tuple[str, ...]], ...]  # term -> its cidrs


def active(segment: Segment) -> bool:
    """A segment needs a policy chain when it has entries or denies by default."""
    return bool(segment.policies) or segment.default_action != "permit"


def build_policy(fab: Fabric, config: Config, rules: Rulesets, cache: CompileCache) -> None:
    """The policy chain in every router that enforces a segment's policy
    (the maps memoised on the segment and what its terms resolve to)."""
    for seg in config.segments:
        if not active(seg):
            continue
        resolved = resolve_terms(config, seg)
        decls = cache.policies.get((seg, resolved), lambda: policy_decls(seg, resolved))
        source = Origin("segment", seg.name)
        for cxp in fab.segment_cxps(seg.name):
            r = rules.ns(naming.segment_ns(fab.lab, seg.name, cxp), source)
            r.decls += decls
            r.forward.append((BACKBONE, 'iifname "bb*" accept'))
            r.forward.append((POLICY, "jump seg_policy"))
        for vpc in config.vpcs_in(seg.name):
            if vpc.micro_segmentation and len(vpc.subnets) > 1:
                r = rules.ns(naming.vpc_ns(fab.lab, vpc.name), source)
                r.decls += decls
                r.forward.append((POLICY, 'iifname "b*" oifname "b*" jump seg_policy'))


def resolve_terms(config: Config, seg: Segment) -> Resolved:
    """Every SRC/DST term of the policy with its prefixes (the only part of
    the config the compiled policy depends on besides the segment itself)."""
    terms = sorted({t for e in seg.policies for t in (e.src, e.dst)})
    return tuple((t, term_cidrs(config, t, seg.name)) for t in terms)


Element = tuple[Box, str, bool]  # box, "proto . src . dst . port", exact (no ranges)
E = TypeVar("E")


def blocks(seg: Segment, cidrs: dict[str, tuple[str, ...]]) -> list[list[tuple[PolicyEntry, list[Box]]]]:
    """Entries in sequence order, cut into runs whose boxes are pairwise
    disjoint; each run's elements go into maps consulted together."""
    return [[(e, [el[0] for el in els]) for e, els in run] for run in _runs(seg, cidrs)]


def _runs(seg: Segment, cidrs: dict[str, tuple[str, ...]]) -> list[list[tuple[PolicyEntry, list[Element]]]]:
    """The hot loop of a big policy (10,000 entries in about 0.1 s here):
    spans are computed once per distinct prefix, and an entry of one source
    and one destination prefix, the common case, takes the short path."""
    spans = {c: _span(c) for terms in cidrs.values() for c in terms}

    def entries() -> Iterator[tuple[PolicyEntry, list[Element]]]:
        for entry in sorted(seg.policies, key=lambda e: e.seq):
            srcs, dsts = cidrs.get(entry.src, ()), cidrs.get(entry.dst, ())
            if len(srcs) == 1 and len(dsts) == 1:
                yield entry, [_element(entry, srcs[0], dsts[0], spans)]
            else:
                yield entry, [_element(entry, src, dst, spans) for src in srcs for dst in dsts]

    return cut_runs(entries())


def cut_runs(items: Iterable[tuple[E, list[Element]]], block: Callable[[], BoxIndex] | None = None) -> list[list[tuple[E, list[Element]]]]:
    """Entries in order, cut into runs whose boxes are pairwise disjoint
    (a segment's policy, a firewall's rules): within a run at most one
    element matches a packet, so its maps may be consulted in any order.
    `block` makes the overlap index of a run (by source prefix unless told)."""
    new_block: Callable[[], BoxIndex] = block or _Block
    out: list[list[tuple[E, list[Element]]]] = []
    index = new_block()
    current: list[tuple[E, list[Element]]] = []
    for entry, elements in items:
        if len(elements) == 1:
            box = elements[0][0]
            if not out or index.overlaps_one(box):
                current = []
                out.append(current)
                index = new_block()
            current.append((entry, elements))
            index.add_one(box)
            continue
        boxes = [el[0] for el in elements]
        if not out or index.overlaps(boxes):
            current = []
            out.append(current)
            index = new_block()
        current.append((entry, elements))
        index.add(boxes)
    return out


def _element(entry: PolicyEntry, src: str, dst: str, spans: dict[str, tuple[int, int]]) -> Element:
    proto, port, plo, phi, dlo, dhi = _proto_port(entry.protocol, entry.ports)
    s_lo, s_hi = spans[src]
    d_lo, d_hi = spans[dst]
    box = (plo, phi, s_lo, s_hi, d_lo, d_hi, dlo, dhi)
    if plo == phi and dlo == dhi and s_lo == s_hi and d_lo == d_hi:
        return box, f"{proto} . {src[:-3]} . {dst[:-3]} . {port}", True
    return box, f"{proto} . {src} . {dst} . {port}", False


@lru_cache(maxsize=65536)
def _proto_port(protocol: str, ports: str | None) -> tuple[str, str, int, int, int, int]:
    plo, phi = PROTOCOLS.get(protocol, (0, 255))
    dlo, dhi = _port_span(ports)
    proto = str(plo) if plo == phi else f"{plo}-{phi}"
    port = str(dlo) if dlo == dhi else f"{dlo}-{dhi}"
    return proto, port, plo, phi, dlo, dhi


# pipapo (the kernel's set for concatenated ranges) costs more per element
# as it grows; 10,000 elements in maps of this size load 4x faster than in one
# 10,000-element map (docs/benchmarks.md)
INTERVAL_CHUNK = 128


def policy_decls(seg: Segment, resolved: Resolved) -> tuple[str, ...]:
    """Maps, log chains and the `seg_policy` chain of one segment.

    Within a run every element is disjoint from the others, so the run may
    be spread over several maps and they may be consulted in any order:
    exact elements (one protocol, host to host, one port) go into a hash
    map, the rest into interval maps of bounded size."""
    decls: list[str] = []
    origin = Origin("segment", seg.name)
    chain = run_maps(_runs(seg, dict(resolved)), MATCH, "pol", decls,
                     lambda e: f' counter comment "{origin.entry_text(e.seq)}" : {_verdict(seg, e, decls)}')  # names hold no quotes
    default = VERDICTS.get(seg.default_action, "accept")
    chain.append(f"counter {default} comment {quote(origin.entry_text(DEFAULT))}")
    decls.append("chain seg_policy { " + "; ".join(chain) + "; }")
    return tuple(decls)


def run_maps(runs: list[list[tuple[E, list[Element]]]], match: str, prefix: str, decls: list[str],
             tail: Callable[[E], str]) -> list[str]:
    """The verdict maps of runs (added to `decls`) and the chain lines that
    consult them in run order; `tail(entry)` is what follows each of an
    entry's element keys (counter, comment, `: verdict`)."""
    chain: list[str] = []
    for i, run in enumerate(runs, 1):
        exact: list[str] = []
        ranged: list[str] = []
        for entry, elements in run:
            after = tail(entry)
            for _box, key, is_exact in elements:
                (exact if is_exact else ranged).append(key + after)
        if exact:
            decls.append(_map(f"{prefix}_{i}x", exact, False, match))
            chain.append(f"{match} vmap @{prefix}_{i}x")
        for k in range(0, len(ranged), INTERVAL_CHUNK):
            name = f"{prefix}_{i}_{k // INTERVAL_CHUNK}"
            decls.append(_map(name, ranged[k : k + INTERVAL_CHUNK], True, match))
            chain.append(f"{match} vmap @{name}")
    return chain


def _map(name: str, elements: list[str], interval: bool, match: str = MATCH) -> str:
    flags = "flags interval; " if interval else ""
    return f"map {name} {{ typeof {match} : verdict; {flags}counter; elements = {{ " + ", ".join(elements) + " } }"


def _verdict(seg: Segment, entry: PolicyEntry, decls: list[str]) -> str:
    return logged(Origin.of_entry("segment", seg.name, entry.seq), entry.action, VERDICTS[entry.action], entry.log, decls, "log")


def logged(origin: Origin, action: str, verdict: str, log: bool, decls: list[str], prefix: str) -> str:
    """An entry's verdict; with `log`, a chain `PREFIX_SEQ` (added to `decls`)
    that logs the packet to NFLOG as `ORIGIN ACTION:` first (`show log`),
    within LOG_LIMIT: `limit` is a match, so a packet over the rate skips
    the log rule only and the verdict, on a rule of its own, still applies."""
    if not log:
        return verdict
    chain = f"{prefix}_{origin.entry}"
    decls.append(f"chain {chain} {{ {LOG_LIMIT} log group {LOG_GROUP} prefix {quote(f'{origin} {action}: ')}; {verdict}; }}")
    return f"jump {chain}"


@lru_cache(maxsize=65536)
def _port_span(ports: str | None) -> tuple[int, int]:
    if not ports:
        return 0, 65535
    numbers = [int(x) for x in ports.split()[1:]]
    return numbers[0], numbers[-1]


def _span(cidr: str) -> tuple[int, int]:
    addr, _, plen = cidr.partition("/")
    lo = int.from_bytes(socket.inet_aton(addr), "big")
    return lo, lo + (1 << (32 - int(plen or 32))) - 1


class BoxIndex(Protocol):
    """The boxes of one run, asked whether a new box overlaps any of them."""

    def overlaps_one(self, box: Box) -> bool: ...

    def overlaps(self, boxes: list[Box]) -> bool: ...

    def add_one(self, box: Box) -> None: ...

    def add(self, boxes: list[Box]) -> None: ...


def intersect(a: Box, b: Box) -> bool:
    """Do two boxes share a point?"""
    return a[0] <= b[1] and b[0] <= a[1] and a[2] <= b[3] and b[2] <= a[3] and a[4] <= b[5] and b[4] <= a[5] and a[6] <= b[7] and b[6] <= a[7]


class _Block:
    """Boxes of one map, indexed by source prefix so that checking a new
    box for overlap looks only at sources that overlap its source: the
    prefixes holding it (at most 33) and the prefixes inside it."""

    def __init__(self) -> None:
        self.by_src: dict[tuple[int, int], list[Box]] = {}
        self.keys: list[tuple[int, int]] = []  # sorted lazily: only wider sources need it
        self.dirty = False
        self.sizes: set[int] = set()  # source prefix sizes present

    def _candidates(self, lo: int, hi: int) -> list[Box]:
        out: list[Box] = []
        own = hi - lo + 1
        by_src = self.by_src
        for size in self.sizes:
            if size >= own:
                base = lo - lo % size
                got = by_src.get((base, base + size - 1))
                if got:
                    out += got
        if own == 1 or min(self.sizes, default=own) >= own:
            return out  # nothing can lie strictly inside this source
        if self.dirty:
            self.keys.sort()
            self.dirty = False
        keys = self.keys
        i = bisect.bisect_left(keys, (lo, lo))
        while i < len(keys) and keys[i][0] <= hi:
            key = keys[i]
            if key[1] < hi or key[0] > lo:  # strictly inside (equal handled above)
                out += by_src[key]
            i += 1
        return out

    def overlaps_one(self, box: Box) -> bool:
        """True when `box` intersects a box of this block."""
        for other in self._candidates(box[2], box[3]):
            if box[0] <= other[1] and other[0] <= box[1] and box[4] <= other[5] and other[4] <= box[5] and box[6] <= other[7] and other[6] <= box[7]:
                return True
        return False

    def overlaps(self, boxes: list[Box]) -> bool:
        """True when any of `boxes` intersects a box of this block."""
        return any(self.overlaps_one(box) for box in boxes)

    def add_one(self, box: Box) -> None:
        """Add a box already checked."""
        key = (box[2], box[3])
        got = self.by_src.get(key)
        if got is None:
            got = self.by_src[key] = []
            self.keys.append(key)
            self.dirty = True
            self.sizes.add(key[1] - key[0] + 1)
        got.append(box)

    def add(self, boxes: list[Box]) -> None:
        """Add boxes already checked (or of one entry, which never overlap)."""
        for box in boxes:
            self.add_one(box)
