"""Rates from counters read at intervals, and the last minute of them per key.

The lab's counters (conntrack bytes, nft hits, link statistics) only grow,
except when they restart: `clear counters`, a commit that changed a policy
entry, a connection that ended and a new one with the same tuple. A
counter that went down starts again from its new value: its rate for that
interval is unknown (None), never negative.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable

Rate = tuple[float, float]


class CounterRates:
    """Per-key rates between two readings of monotonic counters."""

    def __init__(self) -> None:
        self._last: dict[Hashable, tuple[int, int]] = {}
        self._when: float | None = None
        self.elapsed: float | None = None  # seconds between the last two readings

    def update(self, now: float, readings: Iterable[tuple[Hashable, tuple[int, int]]]) -> dict[Hashable, Rate | None]:
        """Rates per second of each key's pair of counters (packets and
        bytes, or bytes each way) since the previous reading; None for a key
        seen for the first time or whose counters restarted. Keys absent
        from `readings` are forgotten."""
        seconds = now - self._when if self._when is not None and now > self._when else None
        last = self._last
        out: dict[Hashable, Rate | None] = {}
        current: dict[Hashable, tuple[int, int]] = {}
        for key, value in readings:
            current[key] = value
            before = last.get(key)
            if before is None or seconds is None or value[0] < before[0] or value[1] < before[1]:
                out[key] = None
            else:
                out[key] = ((value[0] - before[0]) / seconds, (value[1] - before[1]) / seconds)
        self._last, self._when, self.elapsed = current, now, seconds
        return out

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
