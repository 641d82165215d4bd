"""What every polling screen shares: the poll cycle, filter, sort, export.

A screen says what it reads (`read`, in a worker thread, returning a
payload) and how it shows it (`apply`, on the UI thread). This base runs
the cycle: a `Poller` starts the worker while the screen is visible, the
worker posts `Polled` or `PollFailed`, the handler renders and re-arms.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

from tui.flowwindow import Filter
from tui.messages import Polled, PollFailed
from tui.poller import Poller
from tui.scope import Scope
from tui.source import Snapshot, paused_gc
from tui.widgets.filter_bar import FilterBar
from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from tui.app import MonitorApp

Row = dict[str, Any]


class PollingScreen(Screen[None]):
    """A screen that polls its view while it is shown."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("S", "sort_reverse", "Reverse sort", key_display="S"),
        Binding("e", "export", "Export"),
        Binding("escape", "back", "Back", show=False),
    ]
    VIEW = "view"  # name in the status line and in export file names
    TITLE_TEXT = "View"
    SORTS: ClassVar[tuple[tuple[str, str], ...]] = ()  # (key, label); the first is the default

    def __init__(self) -> None:
        super().__init__()
        self.where = Filter()
        self.sort_index = 0
        self.reverse = False
        self.snapshot: Snapshot | None = None
        self.error: str | None = None
        self.read_seconds: float | None = None
        self.refresh_seconds: float | None = None  # poll start to table updated
        self.apply_seconds: float | None = None  # the UI thread's part of it
        self.polls = 0
        self._started = 0.0

    @property
    def monitor(self) -> MonitorApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    # layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield from self.body()
        yield FilterBar()
        yield Footer()

    def body(self) -> ComposeResult:
        """The screen's own widgets."""
        yield from ()

    def on_mount(self) -> None:
        self.poller = Poller(self, self.monitor.settings, self._poll)
        self.monitor.views[self.VIEW] = self
        self.query_one(FilterBar).display = False
        self.update_status()

    # the poll cycle --------------------------------------------------------------------

    def on_screen_resume(self) -> None:
        self.poller.resume()
        self.update_status()

    def on_screen_suspend(self) -> None:
        self.poller.suspend()

    def _poll(self) -> None:
        self._started = time.perf_counter()
        self._read(self.monitor.scope, self.where, self.sort_key, self.reverse)

    @work(thread=True, exclusive=True, group="poll", exit_on_error=False)
    def _read(self, scope: Scope | None, where: Filter, sort: str, reverse: bool) -> None:
        start = time.perf_counter()
        try:
            with paused_gc():
                snap = self.monitor.source.snapshot()
                payload = self.read(snap, scope, where, sort, reverse)
        except Exception as err:  # noqa: BLE001 - shown on the screen, the next poll tries again
            self.post_message(PollFailed(f"{type(err).__name__}: {err}" if not str(err).startswith("%") else str(err)))
            return
        self.post_message(Polled(payload, snap, time.perf_counter() - start))

    def read(self, snap: Snapshot, scope: Scope | None, where: Filter, sort: str, reverse: bool) -> Any:
        """Read and compute what the screen shows (worker thread)."""
        raise NotImplementedError

    def apply(self, payload: Any) -> None:
        """Show what `read` returned (UI thread)."""
        raise NotImplementedError

    @on(Polled)
    def _polled(self, message: Polled) -> None:
        message.stop()
        self.error = None
        self.monitor.saw_commit(message.snapshot)
        self.snapshot = message.snapshot
        start = time.perf_counter()
        self.apply(message.payload)
        self.apply_seconds = time.perf_counter() - start
        self.polls += 1
        self.read_seconds = message.seconds
        self.refresh_seconds = time.perf_counter() - self._started
        self.poller.finished()
        self.update_status()

    @on(PollFailed)
    def _failed(self, message: PollFailed) -> None:
        message.stop()
        self.error = message.error
        self.poller.finished()
        self.update_status()

    # the status line ---------------------------------------------------------------------

    def summary(self) -> str:
        """What the screen holds, for the status line."""
        return ""

    def update_status(self) -> None:
        """Lab, commit, screen, what it shows, filter, sort, scope, interval."""
        app = self.monitor
        sort = f"sort {self.SORTS[self.sort_index][1]}{' (reversed)' if self.reverse else ''}" if self.SORTS else ""
        parts = [
            f"lab {app.source.lab}",
            f"commit {self.snapshot.number}" if self.snapshot else "reading...",
            self.TITLE_TEXT,
            self.summary(),
            f"filter /{self.where.text}/" if self.where.text else "",
            sort,
            f"scope {app.scope.label}" if app.scope else "",
            f"every {app.settings.interval:g}s",
            f"read {self.read_seconds:.2f}s" if self.read_seconds is not None and app.timings else "",
        ]
        self.query_one(StatusBar).show(parts, paused=app.settings.paused, error=self.error)

    # keys ----------------------------------------------------------------------------------

    @property
    def sort_key(self) -> str:
        return self.SORTS[self.sort_index][0] if self.SORTS else ""

    def action_filter(self) -> None:
        """`/`: open the filter line."""
        self.query_one(FilterBar).open(self.where.text)

    @on(FilterBar.Applied)
    def _filter_applied(self, message: FilterBar.Applied) -> None:
        self.where = message.where
        self.view_changed()

    def action_sort(self) -> None:
        """`s`: the next sort column."""
        if not self.SORTS:
            self.notify(f"{self.TITLE_TEXT} has no sort", severity="warning")
            return
        self.sort_index = (self.sort_index + 1) % len(self.SORTS)
        self.view_changed()

    def action_sort_reverse(self) -> None:
        """`S`: reverse the sort."""
        self.reverse = not self.reverse
        self.view_changed()

    def action_back(self) -> None:
        """Esc: drop the filter (a pushed screen goes back instead)."""
        if self.where.text:
            self.where = Filter()
            self.view_changed()

    def view_changed(self) -> None:
        """Filter, sort or scope changed: read again now, even when paused."""
        self.update_status()
        self.poller.poll_now(force=True)

    def export_rows(self) -> list[Row]:
        """The current table as JSON rows."""
        return []

    def action_export(self) -> None:
        """`e`: the current table as JSON, to a file in the current directory."""
        rows = self.export_rows()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path.cwd() / f"vpclab-{self.monitor.source.lab}-{self.VIEW}-{stamp}.json"
        try:
            path.write_text(json.dumps(rows, indent=1, default=str) + "\n", encoding="utf-8")
        except OSError as err:
            self.notify(f"export failed: {path}: {err.strerror}", severity="error", markup=False)
            return
        self.notify(f"exported {len(rows)} rows to {path}", markup=False)


def filtered(rows: Iterable[Row], where: Filter, text: Callable[[Row], str], scope_text: str | None = None) -> list[Row]:
    """Rows whose text passes the filter (and holds the scope's name, when given)."""
    test = where.predicate()
    word = re.compile(rf"\b{re.escape(scope_text)}\b") if scope_text else None
    return [r for r in rows if (test is None or test(text(r))) and (word is None or word.search(text(r)))]


def ordered(rows: list[Any], order: Callable[[Any], Any] | None, reverse: bool) -> list[Any]:
    """Rows sorted by `order` (None: as the engine gave them), reversed on `S`."""
    if order is not None:
        rows = sorted(rows, key=order)
    return rows[::-1] if reverse else rows
