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
from operator import itemgetter
from typing import Any

from rich.text import Text

from tui import units
from tui.rates import CounterRates, Rate

Row = dict[str, Any]
WINDOW = 500


Key = tuple[Any, ...]
# A connection's identity: its original tuple in its segment (tenants'
# addresses overlap, so the segment is part of it), with the echo id for
# icmp (pings between two hosts differ by it alone). An itemgetter: it runs
# 100,000 times per poll.
flow_key: Callable[[Row], Key] = itemgetter("segment", "protocol", "src", "sport", "dst", "dport", "icmp_id")
_counters = itemgetter("bytes_out", "bytes_in")
_volatile = itemgetter("state", "rule", "application")  # what may change in a flow's filter text


def row_key(key: Key) -> str:
    """A flow's key as a table row key (and the order of flows that sort
    alike: the parts are strings, ports or None, which do not compare)."""
    return "|".join("" if k is None else str(k) for k in key)


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


# the firewall next to the NAT (MONITOR.md's order; its text is short:
# `fw1/2`), then the rate and the bytes: a 150-column terminal shows them
COLUMNS: tuple[Column, ...] = (
    Column("segment", "Segment", lambda r, _: str(r.get("segment") or ""), lambda r, _: r.get("segment") or ""),
    Column("src", "Source", lambda r, _: endpoint(r.get("src"), r.get("sport")), lambda r, _: r.get("src") or ""),
    Column("dst", "Destination", lambda r, _: endpoint(r.get("dst"), r.get("dport")), lambda r, _: r.get("dst") or ""),
    Column("protocol", "Proto", lambda r, _: str(r.get("protocol") or "")),
    Column("application", "Application", lambda r, _: str(r.get("application") or ""), lambda r, _: r.get("application") or ""),
    Column("nat", "NAT", lambda r, _: nat_text(r)),
    Column("firewall", "Firewall", lambda r, _: firewall_text(r)),
    Column("rate", "Rate", lambda _, rate: units.rate(rate and _total(rate)), lambda _, rate: _total(rate), True),
    Column("bytes_out", "Bytes>", lambda r, _: units.size(r.get("bytes_out", 0)),
           lambda r, _: r.get("bytes_out", 0) + r.get("bytes_in", 0), True),
    Column("bytes_in", "<Bytes", lambda r, _: units.size(r.get("bytes_in", 0))),
    Column("rule", "Rule", lambda r, _: str(r.get("rule") or ""), lambda r, _: r.get("rule") or ""),
    Column("state", "State", lambda r, _: str(r.get("state") or ""), lambda r, _: r.get("state") or ""),
    Column("age", "Age", lambda r, _: units.age(r.get("age")), lambda r, _: r.get("age") or 0, True),
    Column("packets_out", "Pkts>", lambda r, _: units.count(r.get("packets_out", 0)),
           lambda r, _: r.get("packets_out", 0) + r.get("packets_in", 0), True),
    Column("packets_in", "<Pkts", lambda r, _: units.count(r.get("packets_in", 0))),
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
    reading: int = 0  # which reading it shows: a re-window of an older one is dropped
    where: str = ""  # the filter it was made with


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
    """What a filter looks at: the shown columns that are not counters, as
    shown (one f-string: a new filter builds it for 100,000 flows)."""
    return (f"{r.get('segment')} {endpoint(r.get('src'), r.get('sport'))} {endpoint(r.get('dst'), r.get('dport'))} "
            f"{r.get('protocol')} {r.get('application') or ''} {nat_text(r) if r.get('nat') else ''} "
            f"{firewall_text(r) if r.get('firewall') else ''} {r.get('rule') or ''} {r.get('state') or ''}")


def scoped(rows: list[Row], name: str | None) -> list[Row]:
    """The flows that name a Topology node no `show flows` filter covers (a
    hub: its name in the path), by whole word."""
    if not name:
        return rows
    word = re.compile(rf"\b{re.escape(name)}\b")
    return [r for r in rows if word.search(row_text(r) + " " + " ".join(map(str, r.get("path") or ())))]


@dataclass(frozen=True)
class Reading:
    """One poll's flows as parallel lists, published whole: the Flows
    screen's re-window (a new filter or sort, no new read) may run while
    the next poll reads."""

    seq: int
    rows: list[Row]
    keys: list[Key]
    rates: list[Rate | None]
    totals: list[float]  # bytes per second both ways, 0 when unknown


class FlowFeed:
    """The last flows reading, with rates per flow. Parallel lists, not one
    tuple per flow: picking the window then runs on C-level keys
    (`list.__getitem__`) over row indices."""

    def __init__(self) -> None:
        self._rates = CounterRates()
        self._texts: dict[Key, tuple[Any, str, str, bool]] = {}  # mark, text, filter, passed
        self.reading = Reading(0, [], [], [], [])

    def read(self, rows: list[Row], now: float) -> None:
        """Take a new reading: key every row and compute its rate."""
        keys = list(map(flow_key, rows))
        rates = self._rates.update(now, keys, map(_counters, rows))
        totals = [r[0] + r[1] if r else 0.0 for r in rates]
        self.reading = Reading(self.reading.seq + 1, rows, keys, rates, totals)

    @property
    def rows(self) -> list[Row]:
        return self.reading.rows

    @property
    def rates(self) -> list[Rate | None]:
        return self.reading.rates

    @property
    def items(self) -> list[tuple[Key, Row, Rate | None]]:
        """(key, row, rate) per flow of the last reading."""
        return list(zip(self.reading.keys, self.reading.rows, self.reading.rates))

    def forget(self) -> None:
        """Rates start again (the counters were cleared)."""
        self._rates.forget()

    def matching(self, where: Filter, reading: Reading | None = None) -> list[int] | range:
        """Indices of the flows of the last reading that pass the filter. A
        flow's text, and whether it passed, are kept across polls while its
        state, rule and application stay: a poll tests only the flows that
        are new or changed."""
        reading = reading or self.reading
        test = where.predicate()
        if test is None:
            return range(len(reading.rows))
        old = self._texts
        texts: dict[Key, tuple[Any, str, str, bool]] = {}
        wanted = where.text
        out = []
        for i, (key, row) in enumerate(zip(reading.keys, reading.rows)):
            mark = _volatile(row)
            known = old.get(key)
            if known is None or known[0] != mark:
                text = row_text(row)
                known = (mark, text, wanted, test(text))
            elif known[2] != wanted:
                known = (mark, known[1], wanted, test(known[1]))
            texts[key] = known
            if known[3]:
                out.append(i)
        self._texts = texts
        return out

    def window(self, where: Filter, sort: str = "rate", reverse: bool = False, limit: int = WINDOW) -> FlowWindow:
        """The first `limit` matching flows in sort order (numbers largest
        first, names alphabetically; `reverse` turns it round; ties by key)."""
        col = next(c for c in SORTS if c.key == sort)
        reading = self.reading
        keep = self.matching(where, reading)
        rows, rates, keys = reading.rows, reading.rates, reading.keys
        if sort == "rate":
            values: list[Any] = reading.totals
        else:
            value = col.sort
            assert value is not None
            values = list(map(value, rows, rates))
        descending = col.numeric != reverse
        pick = heapq.nlargest if descending else heapq.nsmallest
        chosen = pick(limit, keep, key=values.__getitem__)
        chosen.sort(key=lambda i: (values[i], row_key(keys[i])), reverse=descending)
        out = tuple(Shown(row_key(keys[i]), cells(rows[i], rates[i]), rows[i], rates[i]) for i in chosen)
        moving = [rates[i] for i in keep] if isinstance(keep, list) else rates
        rate_out = sum(r[0] for r in moving if r)
        rate_in = sum(r[1] for r in moving if r)
        return FlowWindow(out, len(rows), len(keep), rate_out, rate_in, sort, reverse, reading.seq, where.text)


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
