"""The monitor's one door to the engine: snapshots of the running lab and its views.

Every other tui module takes its data from a `Source`, so the screens can
be driven by a real lab (`LabSource`, wired in by the program's entry
point) or by a fixed data set (the snapshot tests and the benchmark).
`LabSource` reads through the engine's thread-safe `LabReader`
(`LabApi.reader`).
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

Row = dict[str, Any]


def paused_gc() -> AbstractContextManager[None]:
    """The engine's counted pause of the cyclic garbage collector, for a
    poll's worker: a poll builds 100,000 row dicts and tuples, and every
    full collection would walk all of them (it doubled the time of a Flows
    refresh). Reference counting still frees each reading."""
    from engine.session import gc_paused

    return gc_paused()


@dataclass(frozen=True)
class Snapshot:
    """The running state a poll reads against: commit `number` of `lab`.

    `config` is the engine's running Config (None for sources without one);
    `state` is whatever the source needs to answer views for exactly this
    commit (the engine's RunningSnapshot when it has a reader)."""

    lab: str
    number: int
    taken: float
    config: Any = None
    state: Any = field(default=None, compare=False, repr=False)


class Source(Protocol):
    """What the screens read. All calls run in worker threads."""

    lab: str

    def snapshot(self) -> Snapshot:
        """The running commit now; cheap when nothing was committed since."""

    def flows(self, snap: Snapshot, **filters: Any) -> list[Row]:
        """`show flows` rows (CLI.md's fields), filtered as `show flows` filters."""

    def routes(self, snap: Snapshot, **filters: Any) -> list[Row]:
        """`show ip route` rows."""

    def policy_hits(self, snap: Snapshot, scope: str | None = None, name: str | None = None) -> list[Row]:
        """`show policy hits` rows."""

    def topology(self, snap: Snapshot) -> list[Row]:
        """Tree rows `{id, parent, kind, name, detail}`, parents before children."""

    def groups(self, snap: Snapshot) -> list[Row]:
        """`show groups` rows: `{group, segment, prefixes, ...}`."""

    def share_traffic(self, snap: Snapshot) -> list[Row]:
        """Per share: `{share, a_to_b, b_to_a}` bytes on its link since the last clear."""

    def clear_counters(self, scope: str | None = None, name: str | None = None) -> int:
        """`clear counters [scope name]`; how many tables were reset."""

    def trace(self, snap: Snapshot, flow: Row) -> Row | None:
        """The model's trace of a flow's 5-tuple (CLI.md's shape), None when the
        engine has no `trace` yet."""


class LabSource:
    """A `Source` over a real lab's `LabApi` (engine.api): its views through
    the api's `LabReader` (engine/reader.py, thread-safe, one stat per
    snapshot while nothing was committed); counters, share link statistics
    and `trace` through the api itself, under one lock (a `LabApi` holds a
    session and is not meant for two threads at once)."""

    def __init__(self, api: Any):
        self.api = api
        self.reader = api.reader
        self.lab: str = api.name
        self._lock = threading.RLock()

    def snapshot(self) -> Snapshot:
        """The running commit (the reader's snapshot, shared between threads)."""
        snap = self.reader.snapshot()
        return Snapshot(snap.lab, snap.number, snap.taken, snap.config, snap)

    def flows(self, snap: Snapshot, **filters: Any) -> list[Row]:
        """`show flows` rows of this snapshot."""
        return list(self.reader.flows(snap.state, **filters))

    def routes(self, snap: Snapshot, **filters: Any) -> list[Row]:
        """`show ip route` rows of this snapshot."""
        return list(self.reader.routes(snap.state, **filters))

    def policy_hits(self, snap: Snapshot, scope: str | None = None, name: str | None = None) -> list[Row]:
        """`show policy hits` rows of this snapshot."""
        return list(self.reader.policy_hits(snap.state, scope=scope, name=name))

    def topology(self, snap: Snapshot) -> list[Row]:
        """The lab as a tree (engine/tree.py's rows)."""
        return list(self.reader.topology(snap.state))

    def groups(self, snap: Snapshot) -> list[Row]:
        """`show groups` rows of this snapshot."""
        from engine.views import group_rows

        return group_rows(snap.config)

    def share_traffic(self, snap: Snapshot) -> list[Row]:
        """Bytes each way on every share's link (`show share NAME statistics`)."""
        out = []
        with self._lock:
            for share in snap.config.shares:
                try:
                    stats = self.api.share_statistics(share.name)
                except Exception:  # noqa: BLE001 - removed by a commit since the snapshot
                    continue
                if len(stats) >= 2:
                    out.append({"share": share.name, "a_to_b": stats[0]["bytes"], "b_to_a": stats[1]["bytes"],
                                "end_a": share.end_a.segment if share.end_a else None,
                                "end_b": share.end_b.segment if share.end_b else None})
        return out

    def clear_counters(self, scope: str | None = None, name: str | None = None) -> int:
        """`clear counters`, under the engine's commit lock."""
        with self._lock:
            return int(self.api.clear_counters(scope, name))

    def trace(self, snap: Snapshot, flow: Row) -> Row | None:
        """The engine's `trace` of this flow's 5-tuple, when the engine has one."""
        tracer = getattr(self.reader, "trace", None) or getattr(self.api, "trace", None)
        host = host_of(snap.config, flow.get("segment"), flow.get("src"))
        if tracer is None or host is None:
            return None
        with self._lock:
            result = tracer(flow["dst"], host, protocol=flow.get("protocol"), port=flow.get("dport"))
        return result if isinstance(result, dict) else result.as_dict()  # engine/trace.py TraceResult: CLI.md's shape

    @property
    def has_trace(self) -> bool:
        """True when the engine can trace (issue 11)."""
        return hasattr(self.reader, "trace") or hasattr(self.api, "trace")


def host_of(config: Any, segment: str | None, address: str | None) -> str | None:
    """The host holding `address` in `segment` (addresses overlap across tenants)."""
    if config is None:
        return None
    return next((h.name for v, h in config.hosts() if v.segment == segment and h.address == address), None)
