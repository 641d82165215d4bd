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

    def __init__(self, buckets: int = 15) -> None:
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
        """Every table's rows, busiest first. Each flow is summed once per
        source, destination, application and group it touches (a flow
        inside one group counts once there, from its source's side);
        segments are summed from the sources. GroupIndex caches each
        address's group: a lookup per flow is a dict hit."""
        self.flows.read(flows, now)
        by_src: dict[Any, list[float]] = {}
        by_dst: dict[Any, list[float]] = {}
        by_app: dict[Any, list[float]] = {}
        by_group: dict[Any, list[float]] = {}
        for r, rate in zip(self.flows.rows, self.flows.rates):
            out, into = rate if rate else (0.0, 0.0)
            seg = r.get("segment")
            src, dst = (seg, r.get("src")), (seg, r.get("dst"))
            _bump(by_src, src, out, into)
            _bump(by_dst, dst, into, out)
            _bump(by_app, r.get("application") or app_name(r), out, into)
            if self.groups is not None:
                g_src, g_dst = self.groups.group(*src), self.groups.group(*dst)  # cached per address
                if g_src:
                    _bump(by_group, g_src, out, into)
                if g_dst and g_dst != g_src:
                    _bump(by_group, g_dst, into, out)
        sums: dict[tuple[str, str], list[float]] = {}
        for table, ends in (("sources", by_src), ("destinations", by_dst)):
            for (seg, address), (out, into, n) in ends.items():
                _bump(sums, (table, f"{address} ({seg})"), out, into, n)
                if table == "sources":
                    _bump(sums, ("segments", str(seg)), out, into, n)
        for group, (out, into, n) in by_group.items():
            _bump(sums, ("groups", group), out, into, n)
        for app, (out, into, n) in by_app.items():
            _bump(sums, ("applications", str(app)), out, into, n)
        rates = self.shares.update(now, [s["share"] for s in shares], [(s["a_to_b"], s["b_to_a"]) for s in shares])
        for s, rate in zip(shares, rates):
            _bump(sums, ("shares", f"{s['share']} ({s.get('end_a')} > {s.get('end_b')})"), *(rate or (0.0, 0.0)))
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


def app_name(r: Row) -> str:
    """A flow's application where no service or well-known port names it:
    `tcp/8443`, or the bare protocol (icmp has no port)."""
    port = r.get("dport")
    return f"{r.get('protocol')}/{port}" if port is not None else str(r.get("protocol"))


def _bump(sums: dict[Any, list[float]], key: Any, out: float, into: float, flows: float = 1) -> None:
    """Add bytes per second each way and a flow count under `key`."""
    cur = sums.get(key)
    if cur is None:
        sums[key] = [out, into, flows]
    else:
        cur[0] += out
        cur[1] += into
        cur[2] += flows
