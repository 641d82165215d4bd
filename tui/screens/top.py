"""Screen 2, Top: who moves the bytes, each with the last minute as a sparkline."""

from __future__ import annotations

import re

from textual import on
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.widgets import DataTable, Label

from tui import units
from tui.flowwindow import Filter, cell, scoped
from tui.scope import Scope
from tui.screens.polling import PollingScreen, Row
from tui.source import Snapshot
from tui.talkers import TABLES, Talker, TopFeed
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.sparkline import sparkline

COLUMNS = [("name", "Name", None), ("out", "Out/s", 10), ("in", "In/s", 10), ("flows", "Flows", 5), ("minute", "Last minute", 15)]
SORT_VALUES = {
    "total": lambda t: -t.total, "out": lambda t: -t.out, "in": lambda t: -t.into, "flows": lambda t: -t.flows,
    "name": lambda t: t.name,
}


class TopScreen(PollingScreen):
    """Top sources, destinations, segments, groups, applications and shares."""

    VIEW = "top"
    TITLE_TEXT = "Top"
    SORTS = (("total", "total"), ("out", "out"), ("in", "in"), ("flows", "flows"), ("name", "name"))

    def __init__(self) -> None:
        super().__init__()
        self.feed = TopFeed()
        self.tables: dict[str, list[Talker]] = {}

    def body(self) -> ComposeResult:
        with Grid(id="top"):
            for key, title in TABLES:
                with Vertical(classes="top-table"):
                    yield Label(title, classes="top-title")
                    yield KeyedTable(COLUMNS, id=f"top-{key}")

    def read(self, snap: Snapshot, scope: Scope | None, where: Filter, sort: str, reverse: bool) -> dict[str, list[Talker]]:
        source = self.monitor.source
        flows = scoped(source.flows(snap, **(scope.flow_filters() if scope else {})), scope.text("flows") if scope else None)
        self.feed.set_groups(snap.number, source.groups(snap))
        tables = self.feed.read(self.monitor.clock(), flows, source.share_traffic(snap))
        test = where.predicate()
        order = SORT_VALUES[sort]
        return {
            key: sorted((t for t in rows if test is None or test(t.name)), key=order, reverse=reverse)  # type: ignore[arg-type]
            for key, rows in tables.items()
        }

    def apply(self, payload: dict[str, list[Talker]]) -> None:
        self.tables = payload
        for key, rows in payload.items():
            self.query_one(f"#top-{key}", KeyedTable).show([(t.name, _cells(t)) for t in rows])

    def summary(self) -> str:
        rates = self.feed.flows.rates
        out = sum(r[0] for r in rates if r)
        into = sum(r[1] for r in rates if r)
        return f"{len(rates):,} flows · out {units.rate(out)} in {units.rate(into)}"

    def export_rows(self) -> list[Row]:
        return [t.export() for rows in self.tables.values() for t in rows]

    @on(DataTable.RowSelected)
    def _drill(self, event: DataTable.RowSelected) -> None:
        """Enter: Flows, filtered to this talker."""
        table = event.data_table.id or ""
        name = str(event.row_key.value)
        if table == "top-shares":
            self.notify("a share's flows: select the share in Topology (5)", severity="information")
            return
        word = name.split(" (")[0]
        self.monitor.show_flows(Filter(rf"(^|[\s:]){re.escape(word)}([\s:]|$)"))


def _cells(t: Talker) -> tuple:  # type: ignore[type-arg]
    return (cell(t.name), cell(units.rate(t.out)), cell(units.rate(t.into)),
            cell(str(t.flows) if t.table != "shares" else ""), sparkline(t.history))
