"""Rates from counters read at intervals, and the last minute of them per key.

The lab's counters (conntrack bytes, nft hits, link statistics) only grow,
except when they restart: `clear counters`, a commit that changed a policy
entry, a connection that ended and a new one with the same tuple. A
counter that went down starts again from its new value: its rate for that
interval is unknown (None), never negative.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Sequence

Rate = tuple[float, float]


class CounterRates:
    """Per-key rates between two readings of monotonic counters."""

    def __init__(self) -> None:
        self._last: dict[Hashable, tuple[int, int]] = {}
        self._when: float | None = None

    def update(self, now: float, keys: Sequence[Hashable], values: Iterable[tuple[int, int]]) -> list[Rate | None]:
        """Rates per second of each key's pair of counters (packets and
        bytes, or bytes each way) since the previous reading, in the order
        of `keys`; None for a key seen for the first time or whose counters
        restarted. Keys absent from this reading are forgotten. Written
        with C-level maps and one comprehension: the Flows screen calls it
        with 100,000 keys per poll."""
        seconds = now - self._when if self._when is not None and now > self._when else None
        values = list(values)
        before = list(map(self._last.get, keys))
        self._last, self._when = dict(zip(keys, values)), now
        if seconds is None:
            return [None] * len(values)
        return [
            None if b is None or v[0] < b[0] or v[1] < b[1] else ((v[0] - b[0]) / seconds, (v[1] - b[1]) / seconds)
            for v, b in zip(values, before)
        ]

    def forget(self) -> None:
        """Start again (after `clear counters`)."""
        self._last, self._when = {}, None


class History:
    """Time-stamped samples of the last `span` seconds for each key, so a
    sparkline covers the last minute whatever the refresh interval."""

    def __init__(self, span: float = 60.0) -> None:
        self.span = span
        self._samples: dict[Hashable, deque[tuple[float, float]]] = {}

    def add(self, now: float, values: dict[Hashable, float]) -> None:
        """Record this poll's values; keys not given get 0 (they were idle),
        and keys idle for a whole span are dropped."""
        cutoff = now - self.span
        for key, value in values.items():
            self._samples.setdefault(key, deque()).append((now, value))
        for key in list(self._samples):
            samples = self._samples[key]
            if key not in values:
                samples.append((now, 0.0))
            while samples and samples[0][0] < cutoff:
                samples.popleft()
            if not any(v for _, v in samples):
                del self._samples[key]

    def series(self, key: Hashable, now: float, buckets: int) -> list[float]:
        """The key's samples of the last span in `buckets` equal time slots
        (the largest sample in each slot; 0 where none)."""
        out = [0.0] * buckets
        width = self.span / buckets
        for when, value in self._samples.get(key, ()):
            slot = int((when - (now - self.span)) / width)
            slot = min(max(slot, 0), buckets - 1)
            out[slot] = max(out[slot], value)
        return out

    def __contains__(self, key: Hashable) -> bool:
        return key in self._samples
