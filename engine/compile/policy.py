"""Compiler stage: segment policy as verdict maps.

Entries are evaluated first-match-wins on new connections only (the
forward chain accepts established traffic first). Each entry expands to
boxes in (protocol, source, destination, destination port) space, one per
pair of source and destination prefixes. Consecutive entries go into one
interval verdict map as long as their boxes are pairwise disjoint: then at
most one element of a map matches a packet, so one lookup per map gives
the first match of its run, and maps are consulted in sequence order. A
policy of 10,000 disjoint entries is one map and one lookup; overlapping
entries start a new map. Every element carries a counter and the comment
`segment SEG SEQ`, which is how `show policy hits` maps counters back.

Where the policy is enforced: in each router of the segment, on traffic
that enters from one of the segment's VPCs or from a share (traffic from
the backbone was judged on its first hub); and, with `micro-segmentation`,
in the VPC router on traffic between its subnets.
"""

from __future__ import annotations

import bisect
from functools import lru_cache

from engine.compile import naming
from engine.compile.nft import BACKBONE, POLICY, Rulesets, quote
from engine.compile.topology import Fabric
from engine.model import Config, PolicyEntry, Segment
from engine.prefixes import term_cidrs

PROTOCOLS = {"tcp": (6, 6), "udp": (17, 17), "icmp": (1, 1), "ip": (0, 255)}
VERDICTS = {"permit": "accept", "deny": "drop"}
LOG_GROUP = 1
MATCH = "meta l4proto . ip saddr . ip daddr . th dport"

Box = tuple[int, int, int, int, int, int, int, int]  # proto, src, dst, port: lo/hi each
Resolved = tuple[tuple[str, tuple[str, ...]], ...]  # term -> its cidrs


def active(segment: Segment) -> bool:
    """A segment needs a policy chain when it has entries or denies by default."""
    return bool(segment.policies) or segment.default_action != "permit"


def build_policy(fab: Fabric, config: Config, rules: Rulesets) -> None:
    """The policy chain in every router that enforces a segment's policy."""
    for seg in config.segments:
        if not active(seg):
            continue
        decls = policy_decls(seg, resolve_terms(config, seg))
        source = f"segment {seg.name}"
        for cxp in fab.segment_cxps(seg.name):
            r = rules.ns(naming.segment_ns(fab.lab, seg.name, cxp), source)
            r.decls += decls
            r.forward.append((BACKBONE, 'iifname "bb*" accept'))
            r.forward.append((POLICY, "jump seg_policy"))
        for vpc in config.vpcs:
            if vpc.segment == seg.name and vpc.micro_segmentation and len(vpc.subnets) > 1:
                r = rules.ns(naming.vpc_ns(fab.lab, vpc.name), source)
                r.decls += decls
                r.forward.append((POLICY, 'iifname "b*" oifname "b*" jump seg_policy'))


def resolve_terms(config: Config, seg: Segment) -> Resolved:
    """Every SRC/DST term of the policy with its prefixes (the only part of
    the config the compiled policy depends on besides the segment itself)."""
    terms = sorted({t for e in seg.policies for t in (e.src, e.dst)})
    return tuple((t, term_cidrs(config, t)) for t in terms)


def blocks(seg: Segment, cidrs: dict[str, tuple[str, ...]]) -> list[list[tuple[PolicyEntry, list[Box]]]]:
    """Entries in sequence order, cut into runs whose boxes are pairwise
    disjoint; each run becomes one verdict map."""
    out: list[list[tuple[PolicyEntry, list[Box]]]] = []
    index = _Block()
    for entry in sorted(seg.policies, key=lambda e: e.seq):
        if entry.action not in VERDICTS:  # inspect: enforced once firewalls exist
            continue
        boxes = entry_boxes(entry, cidrs)
        if not out or index.overlaps(boxes):
            out.append([])
            index = _Block()
        out[-1].append((entry, boxes))
        index.add(boxes)
    return out


@lru_cache(maxsize=64)
def policy_decls(seg: Segment, resolved: Resolved) -> tuple[str, ...]:
    """Maps, log chains and the `seg_policy` chain of one segment."""
    cidrs = dict(resolved)
    decls: list[str] = []
    chain: list[str] = []
    for i, run in enumerate(blocks(seg, cidrs), 1):
        elements = [el for entry, _ in run for el in _elements(seg, entry, cidrs, _verdict(seg, entry, decls))]
        if elements:
            decls.append(f"map pol_{i} {{ typeof {MATCH} : verdict; flags interval; counter; elements = {{ " + ", ".join(elements) + " } }")
            chain.append(f"{MATCH} vmap @pol_{i}")
    default = VERDICTS.get(seg.default_action, "accept")
    chain.append(f"counter {default} comment {quote(f'segment {seg.name} default')}")
    decls.append("chain seg_policy { " + "; ".join(chain) + "; }")
    return tuple(decls)


def _verdict(seg: Segment, entry: PolicyEntry, decls: list[str]) -> str:
    base = VERDICTS[entry.action]
    if not entry.log:
        return base
    chain = f"log_{entry.seq}"
    prefix = quote(f"segment {seg.name} {entry.seq} {entry.action}: ")
    decls.append(f"chain {chain} {{ log group {LOG_GROUP} prefix {prefix}; {base}; }}")
    return f"jump {chain}"


def _ports(entry: PolicyEntry) -> tuple[int, int]:
    return _port_span(entry.ports)


@lru_cache(maxsize=4096)
def _port_span(ports: str | None) -> tuple[int, int]:
    if not ports:
        return 0, 65535
    numbers = [int(x) for x in ports.split()[1:]]
    return numbers[0], numbers[-1]


def entry_boxes(entry: PolicyEntry, cidrs: dict[str, tuple[str, ...]]) -> list[Box]:
    """The boxes of one entry: (protocol, source, destination, port) ranges."""
    plo, phi = PROTOCOLS.get(entry.protocol, (0, 255))
    dlo, dhi = _ports(entry)
    return [(plo, phi, *_span(s), *_span(d), dlo, dhi) for s in cidrs.get(entry.src, ()) for d in cidrs.get(entry.dst, ())]


def _elements(seg: Segment, entry: PolicyEntry, cidrs: dict[str, tuple[str, ...]], verdict: str) -> list[str]:
    """Map elements of one entry, each counted and commented."""
    plo, phi = PROTOCOLS.get(entry.protocol, (0, 255))
    dlo, dhi = _ports(entry)
    proto = str(plo) if plo == phi else f"{plo}-{phi}"
    port = str(dlo) if dlo == dhi else f"{dlo}-{dhi}"
    tail = f"counter comment {quote(f'segment {seg.name} {entry.seq}')} : {verdict}"
    return [f"{proto} . {s} . {d} . {port} {tail}" for s in cidrs.get(entry.src, ()) for d in cidrs.get(entry.dst, ())]


@lru_cache(maxsize=65536)
def _span(cidr: str) -> tuple[int, int]:
    addr, _, plen = cidr.partition("/")
    a, b, c, d = (int(x) for x in addr.split("."))
    lo = (a << 24) | (b << 16) | (c << 8) | d
    size = 1 << (32 - int(plen or 32))
    return lo, lo + size - 1


class _Block:
    """Boxes of one map, indexed by source prefix so that checking a new
    box for overlap looks only at sources that overlap its source: the
    prefixes holding it (at most 33) and the prefixes inside it."""

    def __init__(self) -> None:
        self.by_src: dict[tuple[int, int], list[Box]] = {}
        self.keys: list[tuple[int, int]] = []
        self.sizes: set[int] = set()  # source prefix sizes present

    def _candidates(self, lo: int, hi: int) -> list[Box]:
        out: list[Box] = []
        own = hi - lo + 1
        for size in self.sizes:
            if size >= own:
                base = lo - lo % size
                out += self.by_src.get((base, base + size - 1), ())
        i = bisect.bisect_left(self.keys, (lo, lo))
        while i < len(self.keys) and self.keys[i][0] <= hi:
            key = self.keys[i]
            if key[1] < hi or key[0] > lo:  # strictly inside (equal handled above)
                out += self.by_src[key]
            i += 1
        return out

    def overlaps(self, boxes: list[Box]) -> bool:
        """True when any of `boxes` intersects a box of this block."""
        for box in boxes:
            for other in self._candidates(box[2], box[3]):
                if box[0] <= other[1] and other[0] <= box[1] and box[4] <= other[5] and other[4] <= box[5] and box[6] <= other[7] and other[6] <= box[7]:
                    return True
        return False

    def add(self, boxes: list[Box]) -> None:
        """Add boxes already checked (or of one entry, which never overlap)."""
        for box in boxes:
            key = (box[2], box[3])
            if key not in self.by_src:
                self.by_src[key] = []
                bisect.insort(self.keys, key)
                self.sizes.add(key[1] - key[0] + 1)
            self.by_src[key].append(box)
