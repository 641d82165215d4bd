"""Screen 1, Flows: one row per connection, the busiest first."""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.widgets import DataTable

from tui import units
from tui.flowwindow import COLUMNS, SORT_ORDER, WINDOW, Filter, FlowFeed, FlowWindow, export_row, scoped
from tui.messages import Rewindowed
from tui.scope import Scope
from tui.screens.polling import PollingScreen, Row
from tui.source import Snapshot, paused_gc
from tui.widgets.keyed_table import KeyedTable

WIDTHS = {"segment": 10, "src": 21, "dst": 21, "protocol": 5, "application": 16, "nat": 24, "firewall": 8, "rule": 18,
          "state": 11, "age": 6, "packets_out": 6, "bytes_out": 9, "packets_in": 6, "bytes_in": 9, "rate": 11}


class FlowsScreen(PollingScreen):
    """The live table of connections: a window of the top WINDOW by the sort
    column, with totals over every connection that matches."""

    VIEW = "flows"
    TITLE_TEXT = "Flows"
    SORTS = tuple((c.key, c.label.strip("<>").lower() if c.key != "rate" else "rate") for c in SORT_ORDER)

    def __init__(self) -> None:
        super().__init__()
        self.feed = FlowFeed()
        self.window: FlowWindow | None = None

    def body(self) -> ComposeResult:
        yield KeyedTable([(c.key, c.label, WIDTHS.get(c.key)) for c in COLUMNS], id="flows")

    def read(self, snap: Snapshot, scope: Scope | None, where: Filter, sort: str, reverse: bool) -> FlowWindow:
        rows = self.monitor.source.flows(snap, **(scope.flow_filters() if scope else {}))
        self.feed.read(scoped(rows, scope.text("flows") if scope else None), self.monitor.clock())
        return self.feed.window(where, sort, reverse, WINDOW)

    def apply(self, payload: FlowWindow) -> None:
        """Show the window, unless the filter or sort changed since it was
        made, or it comes from an older reading than the one shown."""
        if (payload.where, payload.sort, payload.reverse) != (self.where.text, self.sort_key, self.reverse):
            return
        if self.window is not None and payload.reading < self.window.reading:
            return
        self.window = payload
        self.query_one(KeyedTable).show([(s.key, s.cells) for s in payload.rows])

    def view_changed(self) -> None:
        """A new filter or sort: pick the window again from the last reading
        at once (the lab is not read again); the next poll reads as usual."""
        self.update_status()
        if self.feed.reading.seq == 0:
            super().view_changed()
            return
        self._rewindow(self.where, self.sort_key, self.reverse)

    @work(thread=True, exclusive=True, group="window", exit_on_error=False)
    def _rewindow(self, where: Filter, sort: str, reverse: bool) -> None:
        with paused_gc():
            window = self.feed.window(where, sort, reverse, WINDOW)
        self.post_message(Rewindowed(window))

    @on(Rewindowed)
    def _rewindowed(self, message: Rewindowed) -> None:
        message.stop()
        self.apply(message.window)
        self.update_status()

    def summary(self) -> str:
        w = self.window
        if w is None:
            return ""
        shown = f"{w.matching:,} of {w.total:,} flows" if w.matching != w.total else f"{w.total:,} flows"
        cut = f", top {len(w.rows)} shown" if w.matching > len(w.rows) else ""
        return f"{shown}{cut} · out {units.rate(w.rate_out)} in {units.rate(w.rate_in)}"

    def export_rows(self) -> list[Row]:
        return [export_row(s) for s in self.window.rows] if self.window else []

    def shown_row(self, key: str) -> Any:
        """The shown flow with this key (None when it left the window)."""
        return next((s for s in self.window.rows if s.key == key), None) if self.window else None

    @on(DataTable.RowSelected)
    def _drill(self, event: DataTable.RowSelected) -> None:
        """Enter: the flow's detail."""
        from tui.screens.flow_detail import FlowDetailScreen

        shown = self.shown_row(str(event.row_key.value))
        if shown is not None:
            self.app.push_screen(FlowDetailScreen(shown.key, shown.row))
