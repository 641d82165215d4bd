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
from engine.prefixes import term_addresses

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
    return tuple((t, tuple(str(c) for c in term_addresses(config, t).iter_cidrs())) for t in terms)


@lru_cache(maxsize=64)
def policy_decls(seg: Segment, resolved: Resolved) -> tuple[str, ...]:
    """Maps, log chains and the `seg_policy` chain of one segment."""
    cidrs = dict(resolved)
    blocks: list[list[str]] = []
    index = _Block()
    decls: list[str] = []
    for entry in sorted(seg.policies, key=lambda e: e.seq):
        verdict = _verdict(seg, entry, decls)
        if verdict is None:
            continue
        elements, boxes = _expand(seg, entry, cidrs, verdict)
        if not blocks or index.overlaps(boxes):
            blocks.append([])
            index = _Block()
        blocks[-1] += elements
        index.add(boxes)
    chain = [f"{MATCH} vmap @pol_{i}" for i, b in enumerate(blocks, 1) if b]
    for i, elements in enumerate(blocks, 1):
        if elements:
            decls.append(
                f"map pol_{i} {{ typeof {MATCH} : verdict; flags interval; counter; elements = {{ " + ", ".join(elements) + " } }"
            )
    default = VERDICTS.get(seg.default_action, "accept")
    chain.append(f"counter {default} comment {quote(f'segment {seg.name} default')}")
    decls.append("chain seg_policy { " + "; ".join(chain) + "; }")
    return tuple(decls)


def _verdict(seg: Segment, entry: PolicyEntry, decls: list[str]) -> str | None:
    base = VERDICTS.get(entry.action)
    if base is None:  # inspect: enforced once firewalls exist
        return None
    if not entry.log:
        return base
    chain = f"log_{entry.seq}"
    prefix = quote(f"segment {seg.name} {entry.seq} {entry.action}: ")
    decls.append(f"chain {chain} {{ log group {LOG_GROUP} prefix {prefix}; {base}; }}")
    return f"jump {chain}"


def _ports(entry: PolicyEntry) -> tuple[int, int]:
    if not entry.ports:
        return 0, 65535
    numbers = [int(x) for x in entry.ports.split()[1:]]
    return numbers[0], numbers[-1]


def _expand(seg: Segment, entry: PolicyEntry, cidrs: dict[str, tuple[str, ...]], verdict: str) -> tuple[list[str], list[Box]]:
    """Map elements and boxes of one entry."""
    plo, phi = PROTOCOLS.get(entry.protocol, (0, 255))
    dlo, dhi = _ports(entry)
    proto = str(plo) if plo == phi else f"{plo}-{phi}"
    port = str(dlo) if dlo == dhi else f"{dlo}-{dhi}"
    comment = quote(f"segment {seg.name} {entry.seq}")
    elements, boxes = [], []
    for src in cidrs.get(entry.src, ()):
        s_lo, s_hi = _span(src)
        for dst in cidrs.get(entry.dst, ()):
            d_lo, d_hi = _span(dst)
            elements.append(f"{proto} . {src} . {dst} . {port} counter comment {comment} : {verdict}")
            boxes.append((plo, phi, s_lo, s_hi, d_lo, d_hi, dlo, dhi))
    return elements, boxes


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

    def _candidates(self, lo: int, hi: int) -> list[Box]:
        out: list[Box] = []
        size = hi - lo + 1
        while size <= 1 << 32:
            base = lo - lo % size
            out += self.by_src.get((base, base + size - 1), ())
            size <<= 1
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
            self.by_src[key].append(box)
