"""Policy hit counters: nft counters mapped back to policy entries.

The compiler gives every counted map element and rule its origin as
comment (engine/origin.py: `segment corp 10`, `segment corp default`,
`share x direction`); here the counters of every table that enforces an
entry are summed under that origin, so an entry enforced in three routers
reports one total.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from engine.compile.policy import active
from engine.items import NftItem
from engine.model import Config, PolicyEntry
from engine.origin import DEFAULT, DIRECTION, Origin, within
from engine.plan import Plan

Counts = dict[str, list[int]]  # comment -> [packets, bytes]


def collect(per_ns: dict[str, dict[str, list[int]]]) -> Counts:
    """Sum the counters of every table read, by comment."""
    out: Counts = {}
    for counts in per_ns.values():
        for comment, (packets, nbytes) in counts.items():
            cur = out.setdefault(comment, [0, 0])
            cur[0] += packets
            cur[1] += nbytes
    return out


def in_scope(scope: str | None, name: str | None) -> Callable[[str], bool]:
    """Which counter comments a `[SCOPE [NAME]]` selection covers (for
    `clear counters`: the lab zeroes those, keeps the others)."""
    return lambda comment: within(comment, scope, name)


def entry_match(e: PolicyEntry) -> str:
    """The match part of an entry, as written in the configuration."""
    return " ".join(x for x in (e.protocol, e.src, e.dst, e.ports or "", "log" if e.log else "") if x)


def enforcing(plan: Plan, scope: str | None, name: str | None) -> list[str]:
    """Namespaces whose tables hold counters of the scope (all when None)."""
    want = Origin(scope, name) if scope and name else None
    return [i.ns for i in plan.of_kind("nft") if isinstance(i, NftItem) and (want is None or want in i.sources)]


def rows(config: Config, counts: Counts, scope: str | None = None, name: str | None = None, nonzero: bool = False) -> list[dict[str, Any]]:
    """`show policy hits`: CLI.md's {scope, name, seq, action, match, packets, bytes}."""
    out = list(_segment_rows(config, counts, name if scope in (None, "segment") else None, scope in (None, "segment")))
    out += _share_rows(config, counts, name if scope in (None, "share") else None, scope in (None, "share"))
    return [r for r in out if not nonzero or r["packets"]]


def _segment_rows(config: Config, counts: Counts, name: str | None, wanted: bool) -> Iterable[dict[str, Any]]:
    if not wanted:
        return
    for seg in config.segments:
        if name and seg.name != name or not active(seg):
            continue
        for e in sorted(seg.policies, key=lambda p: p.seq):
            pk, by = counts.get(str(Origin.of_entry("segment", seg.name, e.seq)), [0, 0])
            action = e.action + (f" {e.firewall}" if e.firewall else "")
            yield {"scope": "segment", "name": seg.name, "seq": e.seq, "action": action, "match": entry_match(e), "packets": pk, "bytes": by}
        pk, by = counts.get(str(Origin("segment", seg.name, DEFAULT)), [0, 0])
        yield {"scope": "segment", "name": seg.name, "seq": None, "action": seg.default_action, "match": "default-action", "packets": pk, "bytes": by}


def _share_rows(config: Config, counts: Counts, name: str | None, wanted: bool) -> Iterable[dict[str, Any]]:
    if not wanted:
        return
    for share in config.shares:
        if name and share.name != name or share.direction == "bidirectional":
            continue
        closed = "end-b" if share.direction == "a-to-b" else "end-a"
        pk, by = counts.get(str(Origin("share", share.name, DIRECTION)), [0, 0])
        yield {
            "scope": "share", "name": share.name, "seq": None, "action": "deny",
            "match": f"new connections from {closed} (direction {share.direction})", "packets": pk, "bytes": by,
        }  # fmt: skip
