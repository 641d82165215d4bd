"""The Top screen's data: bandwidth per talker, application and share.

Each poll turns the flows' byte counters into rates (`FlowFeed`), sums
them per source, destination, segment, group and application, reads the
shares' link counters, and keeps the last minute of every key's total so
each row has its sparkline. Runs in the Top screen's worker.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tui.flowwindow import FlowFeed
from tui.rates import CounterRates, History

Row = dict[str, Any]
TABLES = (
    ("sources", "Top sources"),
    ("destinations", "Top destinations"),
    ("segments", "Segments"),
    ("groups", "Groups"),
    ("applications", "Applications"),
    ("shares", "Shares"),
)
LIMIT = 50


@dataclass(frozen=True)
class Talker:
    """One row of a Top table: bytes per second each way, flows, history.

    `out` is what the talker sent (a share: end-a to end-b), `in` what it
    received."""

    table: str
    name: str
    out: float
    into: float
    flows: int
    history: tuple[float, ...]

    @property
    def total(self) -> float:
        return self.out + self.into

    def export(self) -> Row:
        """As JSON."""
        return {"table": self.table, "name": self.name, "rate_out": self.out, "rate_in": self.into,
                "flows": self.flows, "last_minute": list(self.history)}


class GroupIndex:
    """Which group an address belongs to, per segment (from `show groups`)."""

    def __init__(self, rows: Iterable[Row]):
        self.nets: dict[str, list[tuple[Any, str]]] = {}
        for r in rows:
            for prefix in r.get("prefixes") or ():
                self.nets.setdefault(r["segment"], []).append((ipaddress.ip_network(prefix, strict=False), r["group"]))
        self._cache: dict[tuple[str, str], str | None] = {}

    def group(self, segment: str | None, address: str | None) -> str | None:
        """The group of `address` in `segment`, None when it is in none."""
        key = (segment or "", address or "")
        if key not in self._cache:
            found = None
            if address and segment in self.nets:
                addr = ipaddress.ip_address(address)
                found = next((g for net, g in self.nets[segment] if addr in net), None)
            self._cache[key] = found
        return self._cache[key]


class TopFeed:
    """Sums, rates and history for the Top tables (one per Top screen)."""

    def __init__(self, buckets: int = 20) -> None:
        self.flows = FlowFeed()
        self.shares = CounterRates()
        self.history = History(60.0)
        self.buckets = buckets
        self.groups: GroupIndex | None = None
        self._groups_of: int | None = None

    def set_groups(self, number: int, rows: list[Row]) -> None:
        """The groups of commit `number` (rebuilt only when it changes)."""
        if self._groups_of != number:
            self.groups, self._groups_of = GroupIndex(rows), number

    def read(self, now: float, flows: list[Row], shares: list[Row]) -> dict[str, list[Talker]]:
        """Every table's rows, busiest first."""
        self.flows.read(flows, now)
        sums: dict[tuple[str, str], list[float]] = {}

        def add(table: str, name: Any, out: float, into: float) -> None:
            if name is None or name == "":
                return
            cur = sums.setdefault((table, str(name)), [0.0, 0.0, 0])
            cur[0] += out
            cur[1] += into
            cur[2] += 1

        groups = self.groups
        for r, rate in zip(self.flows.rows, self.flows.rates):
            out, into = rate if rate else (0.0, 0.0)
            seg = r.get("segment")
            add("sources", f"{r.get('src')} ({seg})", out, into)
            add("destinations", f"{r.get('dst')} ({seg})", into, out)
            add("segments", seg, out, into)
            add("applications", r.get("application") or f"{r.get('protocol')}/{r.get('dport')}", out, into)
            if groups is not None:
                add("groups", groups.group(seg, r.get("src")), out, into)
                add("groups", groups.group(seg, r.get("dst")), into, out)
        rates = self.shares.update(now, [s["share"] for s in shares], [(s["a_to_b"], s["b_to_a"]) for s in shares])
        for s, rate in zip(shares, rates):
            add("shares", f"{s['share']} ({s.get('end_a')} > {s.get('end_b')})", *(rate or (0.0, 0.0)))
        return self._tables(now, sums)

    def _tables(self, now: float, sums: dict[tuple[str, str], list[float]]) -> dict[str, list[Talker]]:
        """The busiest LIMIT of each table. Only those enter the history: a
        lab with 100,000 sources would otherwise keep a minute of samples
        for each (a key that climbs into a table starts its sparkline then)."""
        ranked: dict[str, list[tuple[str, list[float]]]] = {t: [] for t, _ in TABLES}
        for (table, name), sums_of in sums.items():
            ranked[table].append((name, sums_of))
        kept: dict[str, list[tuple[str, list[float]]]] = {}
        for table, entries in ranked.items():
            kept[table] = heapq.nsmallest(LIMIT, entries, key=lambda e: (-(e[1][0] + e[1][1]), -e[1][2], e[0]))
        self.history.add(now, {(t, name): v[0] + v[1] for t, rows in kept.items() for name, v in rows})
        return {
            table: [Talker(table, name, o, i, int(n), tuple(self.history.series((table, name), now, self.buckets)))
                    for name, (o, i, n) in rows]
            for table, rows in kept.items()
        }
