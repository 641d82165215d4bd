"""Screen 3, Policy: hits per policy entry, firewall rule and share, with rates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.widgets import DataTable

from tui import units
from tui.flowwindow import Filter, cell
from tui.rates import CounterRates, Rate
from tui.scope import Scope
from tui.screens.polling import PollingScreen, Row, filtered, ordered
from tui.source import Snapshot
from tui.widgets.keyed_table import KeyedTable

COLUMNS = [("scope", "Scope", 9), ("name", "Name", None), ("seq", "Seq", 8), ("action", "Action", None),
           ("match", "Match", None), ("packets", "Packets", 9), ("bytes", "Bytes", 10), ("pps", "Pkts/s", 8), ("bps", "Rate", 11)]
SORT_VALUES: dict[str, Any] = {
    "entry": None,  # the engine's order: scope, name, sequence
    "packets": lambda h: -h.row["packets"], "bytes": lambda h: -h.row["bytes"],
    "rate": lambda h: -(h.rate[1] if h.rate else 0), "action": lambda h: h.row["action"],
}


def entry_key(r: Row) -> str:
    """An entry's identity: scope, name, sequence (`default` for the default action)."""
    return f"{r['scope']} {r['name']} {r['seq'] if r['seq'] is not None else 'default'}"


def hit_text(r: Row) -> str:
    return f"{entry_key(r)} {r.get('action')} {r.get('match')}"


@dataclass(frozen=True)
class Hit:
    """A policy hits row and its rate (packets, bytes per second) since the last poll."""

    row: Row
    rate: Rate | None

    @property
    def key(self) -> str:
        return entry_key(self.row)


class PolicyScreen(PollingScreen):
    """Counters of every entry; entries that never matched are dimmed, and a
    counter that restarted (cleared, or its entry changed by a commit) shows
    no rate for one poll."""

    VIEW = "policy"
    TITLE_TEXT = "Policy"
    SORTS = (("entry", "entry"), ("packets", "packets"), ("bytes", "bytes"), ("rate", "rate"), ("action", "action"))

    def __init__(self) -> None:
        super().__init__()
        self.rates = CounterRates()
        self.hits: list[Hit] = []

    def body(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="policy")

    def read(self, snap: Snapshot, scope: Scope | None, where: Filter, sort: str, reverse: bool) -> list[Hit]:
        kind, name = scope.policy_scope() if scope else (None, None)
        rows = self.monitor.source.policy_hits(snap, kind, name)
        keys = [entry_key(r) for r in rows]
        rates = dict(zip(keys, self.rates.update(self.monitor.clock(), keys, [(r["packets"], r["bytes"]) for r in rows])))
        rows = filtered(rows, where, hit_text, scope.text("policy") if scope else None)
        return ordered([Hit(r, rates[entry_key(r)]) for r in rows], SORT_VALUES[sort], reverse)

    def apply(self, payload: list[Hit]) -> None:
        self.hits = payload
        self.query_one(KeyedTable).show([(h.key, _cells(h)) for h in payload])

    def summary(self) -> str:
        never = sum(1 for h in self.hits if not h.row["packets"])
        return f"{len(self.hits)} entries, {never} never hit (dimmed)"

    def export_rows(self) -> list[Row]:
        return [{**h.row, "pps": h.rate[0] if h.rate else None, "bps": h.rate[1] if h.rate else None} for h in self.hits]

    def cleared(self) -> None:
        """`clear counters` ran: every rate starts again."""
        self.rates.forget()

    @on(DataTable.RowSelected)
    def _drill(self, event: DataTable.RowSelected) -> None:
        """Enter on a segment entry: Flows that this entry admitted."""
        key = str(event.row_key.value)
        if not key.startswith("segment "):
            self.notify("only segment entries name the flows they admit", severity="information")
            return
        self.monitor.show_flows(Filter(rf"\b{key}\b"))


def _cells(h: Hit) -> tuple:  # type: ignore[type-arg]
    r = h.row
    style = "" if r["packets"] else "dim"
    rate = h.rate
    return (cell(r["scope"], style), cell(r["name"], style), cell(str(r["seq"]) if r["seq"] is not None else ("default" if r["scope"] == "segment" else ""), style),
            cell(str(r["action"]), style), cell(str(r["match"]), style), cell(units.count(r["packets"]), style),
            cell(units.size(r["bytes"]), style), cell(f"{rate[0]:.1f}" if rate else "-", style), cell(units.rate(rate[1] if rate else None), style))
