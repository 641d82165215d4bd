"""The Flows screen's data: every connection read, and the window it shows.

A lab can hold 100,000 connections; a DataTable costs about a millisecond
per row to add and lay out, so the screen never holds them all. `FlowFeed`
keeps the last reading (with each flow's rate since the reading before),
and `window` picks the rows that match the filter, sorted, the first
`limit` of them, with totals over all that match. Both run in a worker
thread; the UI thread only applies the window to its table.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from tui import units
from tui.rates import CounterRates, Rate

Row = dict[str, Any]
WINDOW = 500


def flow_key(r: Row) -> str:
    """A connection's identity: its original tuple in its segment (tenants'
    addresses overlap, so the segment is part of it)."""
    return f"{r.get('segment')}|{r.get('protocol')}|{r.get('src')}|{r.get('sport')}|{r.get('dst')}|{r.get('dport')}"


def endpoint(addr: Any, port: Any) -> str:
    """`10.1.1.10:443`, or the bare address for protocols without ports."""
    return f"{addr}:{port}" if port is not None else str(addr)


def nat_text(r: Row) -> str:
    """The translated side of a connection: what the other end sees."""
    nat = r.get("nat")
    if not nat:
        return ""
    src, dst = endpoint(nat.get("src"), nat.get("sport")), endpoint(nat.get("dst"), nat.get("dport"))
    before_src, before_dst = endpoint(r.get("src"), r.get("sport")), endpoint(r.get("dst"), r.get("dport"))
    parts = [f"src {src}" if src != before_src else "", f"dst {dst}" if dst != before_dst else ""]
    return " ".join(p for p in parts if p)


def firewall_text(r: Row) -> str:
    """`fw1/2`: the firewall and the instance that holds the connection."""
    fw = r.get("firewall")
    if not fw:
        return ""
    inst = r.get("firewall_instance")
    return f"{fw}/{inst}" if inst is not None else str(fw)


@dataclass(frozen=True)
class Column:
    """A column of the Flows table: how to show a row, how to sort by it."""

    key: str
    label: str
    text: Callable[[Row, Rate | None], str]
    sort: Callable[[Row, Rate | None], Any] | None = None
    numeric: bool = False


def _total(rate: Rate | None) -> float:
    return rate[0] + rate[1] if rate else 0.0


COLUMNS: tuple[Column, ...] = (
    Column("segment", "Segment", lambda r, _: str(r.get("segment") or ""), lambda r, _: r.get("segment") or ""),
    Column("src", "Source", lambda r, _: endpoint(r.get("src"), r.get("sport")), lambda r, _: r.get("src") or ""),
    Column("dst", "Destination", lambda r, _: endpoint(r.get("dst"), r.get("dport")), lambda r, _: r.get("dst") or ""),
    Column("protocol", "Proto", lambda r, _: str(r.get("protocol") or "")),
    Column("application", "Application", lambda r, _: str(r.get("application") or ""), lambda r, _: r.get("application") or ""),
    Column("nat", "NAT", lambda r, _: nat_text(r)),
    Column("firewall", "Firewall", lambda r, _: firewall_text(r)),
    Column("rule", "Rule", lambda r, _: str(r.get("rule") or ""), lambda r, _: r.get("rule") or ""),
    Column("state", "State", lambda r, _: str(r.get("state") or ""), lambda r, _: r.get("state") or ""),
    Column("age", "Age", lambda r, _: units.age(r.get("age")), lambda r, _: r.get("age") or 0, True),
    Column("packets_out", "Pkts>", lambda r, _: units.count(r.get("packets_out", 0)),
           lambda r, _: r.get("packets_out", 0) + r.get("packets_in", 0), True),
    Column("bytes_out", "Bytes>", lambda r, _: units.size(r.get("bytes_out", 0)),
           lambda r, _: r.get("bytes_out", 0) + r.get("bytes_in", 0), True),
    Column("packets_in", "<Pkts", lambda r, _: units.count(r.get("packets_in", 0))),
    Column("bytes_in", "<Bytes", lambda r, _: units.size(r.get("bytes_in", 0))),
    Column("rate", "Rate", lambda _, rate: units.rate(rate and _total(rate)), lambda _, rate: _total(rate), True),
)
SORTS = tuple(c for c in COLUMNS if c.sort is not None)
ORDER = ("rate", "bytes_out", "packets_out", "age", "segment", "src", "dst", "application", "rule", "state")
SORT_ORDER = tuple(next(c for c in SORTS if c.key == k) for k in ORDER)


@dataclass(frozen=True)
class Shown:
    """One row of the window: its key, its cells, and the data behind them."""

    key: str
    cells: tuple[Text, ...]
    row: Row
    rate: Rate | None


@dataclass(frozen=True)
class FlowWindow:
    """What the Flows table shows, with totals over every matching flow."""

    rows: tuple[Shown, ...]
    total: int
    matching: int
    rate_out: float
    rate_in: float
    sort: str
    reverse: bool


@dataclass(frozen=True)
class Filter:
    """A regular expression over a row's shown text; `!` in front inverts it."""

    text: str = ""

    @property
    def pattern(self) -> re.Pattern[str] | None:
        body = self.text[1:] if self.inverted else self.text
        return re.compile(body, re.IGNORECASE) if body else None

    @property
    def inverted(self) -> bool:
        return self.text.startswith("!")

    def error(self) -> str | None:
        """Why the expression does not compile, or None."""
        try:
            self.pattern
        except re.error as err:
            return f"bad filter {self.text!r}: {err}"
        return None

    def predicate(self) -> Callable[[str], bool] | None:
        """A test on a row's text (None: everything matches)."""
        pattern = self.pattern
        if pattern is None:
            return None
        search, inverted = pattern.search, self.inverted
        return lambda text: (search(text) is None) == inverted


def row_text(r: Row) -> str:
    """What a filter looks at: every shown column that is not a counter."""
    return " ".join(c.text(r, None) for c in COLUMNS[:9])


class FlowFeed:
    """The last flows reading, with rates per flow (used by one screen's worker)."""

    def __init__(self) -> None:
        self._rates = CounterRates()
        self.items: list[tuple[str, Row, Rate | None]] = []

    def read(self, rows: list[Row], now: float) -> None:
        """Take a new reading: key every row and compute its rate."""
        keyed = [(flow_key(r), r) for r in rows]
        rates = self._rates.update(now, ((k, (r.get("bytes_out", 0), r.get("bytes_in", 0))) for k, r in keyed))
        self.items = [(k, r, rates.get(k)) for k, r in keyed]

    def forget(self) -> None:
        """Rates start again (the counters were cleared)."""
        self._rates.forget()

    def matching(self, where: Filter) -> list[tuple[str, Row, Rate | None]]:
        """The flows of the last reading that pass the filter."""
        test = where.predicate()
        if test is None:
            return self.items
        return [item for item in self.items if test(row_text(item[1]))]

    def window(self, where: Filter, sort: str = "rate", reverse: bool = False, limit: int = WINDOW) -> FlowWindow:
        """The first `limit` matching flows in sort order (numbers largest
        first, names alphabetically; `reverse` turns it round)."""
        col = next(c for c in SORTS if c.key == sort)
        keep = self.matching(where)
        value = col.sort
        assert value is not None
        descending = col.numeric != reverse
        pick = heapq.nlargest if descending else heapq.nsmallest
        chosen = pick(limit, keep, key=lambda item: (value(item[1], item[2]), item[0]))
        out = tuple(Shown(k, cells(r, rate), r, rate) for k, r, rate in chosen)
        rate_out = sum(rate[0] for _, _, rate in keep if rate)
        rate_in = sum(rate[1] for _, _, rate in keep if rate)
        return FlowWindow(out, len(self.items), len(keep), rate_out, rate_in, sort, reverse)


def cells(r: Row, rate: Rate | None) -> tuple[Text, ...]:
    """A row's cells; new connections green, those that moved since the
    last reading bold (the newest activity stands out)."""
    style = "bold green" if rate is None else ("bold" if _total(rate) > 0 else "")
    return tuple(cell(c.text(r, rate), style) for c in COLUMNS)


def cell(text: str, style: str = "") -> Text:
    """A cell as Text (never parsed as markup: names may hold brackets). The
    style goes in a span, because Text equality, which decides whether a
    cell is redrawn, compares spans and not the base style."""
    out = Text(text, no_wrap=True, end="")
    if style:
        out.stylize(style)
    return out


def export_row(shown: Shown) -> Row:
    """A shown flow as JSON: `show flows`' fields and its current rate."""
    rate = shown.rate
    return {**shown.row, "rate_out": rate[0] if rate else None, "rate_in": rate[1] if rate else None}
