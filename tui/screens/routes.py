"""Screen 4, Routes: every segment router's table, checked against the kernel."""

from __future__ import annotations

import ipaddress
from typing import Any

from textual.app import ComposeResult

from tui.flowwindow import Filter, cell
from tui.scope import Scope
from tui.screens.polling import PollingScreen, Row, filtered, ordered
from tui.source import Snapshot
from tui.widgets.keyed_table import KeyedTable

COLUMNS = [("segment", "Segment", None), ("cxp", "Hub", None), ("prefix", "Prefix", 18), ("origin", "Origin", 9),
           ("via", "Via", None), ("group", "Group", None), ("original_prefix", "Original", 18),
           ("translated_prefix", "Translated", 18), ("installed", "Installed", 9)]
SORT_VALUES: dict[str, Any] = {
    "table": None,  # the engine's order: segment, hub, prefix
    "prefix": lambda r: ipaddress.ip_network(r["prefix"]), "origin": lambda r: (r["origin"], r["segment"]),
    "installed": lambda r: (r["installed"], r["segment"]),
}


def route_key(r: Row) -> str:
    """A route's identity: its table (segment on a hub) and prefix."""
    return f"{r['segment']} {r['cxp']} {r['prefix']}"


def route_text(r: Row) -> str:
    return " ".join(str(r.get(k) or "") for k, _l, _w in COLUMNS if k != "installed") + (" installed" if r.get("installed") else " missing")


class RoutesScreen(PollingScreen):
    """Routes per segment and hub; a route not in the kernel is red."""

    VIEW = "routes"
    TITLE_TEXT = "Routes"
    SORTS = (("table", "table"), ("prefix", "prefix"), ("origin", "origin"), ("installed", "installed"))

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Row] = []

    def body(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="routes")

    def read(self, snap: Snapshot, scope: Scope | None, where: Filter, sort: str, reverse: bool) -> list[Row]:
        rows = self.monitor.source.routes(snap, **(scope.route_filters() if scope else {}))
        return ordered(filtered(rows, where, route_text, scope.text("routes") if scope else None), SORT_VALUES[sort], reverse)

    def apply(self, payload: list[Row]) -> None:
        self.rows = payload
        self.query_one(KeyedTable).show([(route_key(r), _cells(r)) for r in payload])

    def summary(self) -> str:
        missing = sum(1 for r in self.rows if not r.get("installed"))
        return f"{len(self.rows)} routes" + (f", {missing} NOT INSTALLED" if missing else "")

    def export_rows(self) -> list[Row]:
        return list(self.rows)


def _cells(r: Row) -> tuple:  # type: ignore[type-arg]
    style = "" if r.get("installed") else "bold red"
    return tuple(cell(("yes" if r.get(k) else "NO") if k == "installed" else str(r.get(k) or ""), style) for k, _l, _w in COLUMNS)
