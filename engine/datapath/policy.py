"""A segment policy's first match, evaluated as the kernel's maps evaluate it.

One evaluation for three users, so they cannot disagree: `trace` (the
entry that decides a hop), `show flows` (the entry that admitted a
connection) and the commit's check of live connections a new policy
refuses. It walks the same runs the compiler turns into verdict maps
(engine/compile/policy.py `blocks`): runs in sequence order, and within a
run the one element a packet can match; a packet no entry matches gets
the segment's default action.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from engine.compile.policy import active, blocks, resolve_terms
from engine.model import Config, Segment
from engine.origin import DEFAULT, Origin

Box = tuple[int, ...]


@dataclass(frozen=True)
class Decision:
    """The entry that decides a new connection, and its action."""

    origin: Origin  # `segment corp 10` / `segment corp default`: its counter's origin
    action: str  # permit | deny

    @property
    def rule(self) -> str:
        """The origin's text form, as hops and flow rows show it."""
        return str(self.origin)

    @property
    def seq(self) -> int | None:
        """The entry's sequence number; None for the default action."""
        return self.origin.seq


class PolicyJudge:
    """First-match evaluation of one segment's policy (None-safe: a segment
    without an active policy has no judge, see `judge_for`)."""

    def __init__(self, segment: Segment, runs: list[list[tuple[int, str, list[Box]]]]) -> None:
        self.segment = segment.name
        self.runs = runs
        self.default = Decision(Origin("segment", segment.name, DEFAULT), segment.default_action)
        self._memo: dict[tuple[int, int, int, int], Decision] = {}

    def decide(self, proto: int, src: int, dst: int, dport: int) -> Decision:
        """The deciding entry for a new connection (addresses as integers;
        `dport` 0 for icmp, whose `th dport` no entry can restrict)."""
        key = (proto, src, dst, dport)
        got = self._memo.get(key)
        if got is None:
            got = self._memo[key] = self._first(key)
        return got

    def _first(self, pkt: tuple[int, int, int, int]) -> Decision:
        p, s, d, port = pkt
        for run in self.runs:
            for seq, action, boxes in run:
                for b in boxes:
                    if b[0] <= p <= b[1] and b[2] <= s <= b[3] and b[4] <= d <= b[5] and b[6] <= port <= b[7]:
                        return Decision(Origin.of_entry("segment", self.segment, seq), action)
        return self.default


def judge_for(config: Config, segment: str) -> PolicyJudge | None:
    """The judge of a segment's running policy, or None when the segment
    has no policy chain (no entries and default permit: nothing is judged)."""
    seg = config.get("segment", segment)
    if seg is None or not active(seg):
        return None
    return _judge(seg, resolve_terms(config, seg))


@lru_cache(maxsize=64)
def _judge(seg: Segment, resolved: tuple[tuple[str, tuple[str, ...]], ...]) -> PolicyJudge:
    runs = [[(e.seq, e.action, boxes) for e, boxes in run] for run in blocks(seg, dict(resolved))]
    return PolicyJudge(seg, runs)  # type: ignore[arg-type]
