"""`vpclab monitor`: the full-screen flow monitor (Textual).

Five screens, one per Textual mode (`1`..`5`), each polling its view of
the lab while it is shown; the drill-down into a flow is pushed on the
Flows mode. The app holds what the screens share: the data source, the
poll settings (interval, pause), the Topology scope, and the commit last
seen (a commit from another process is announced).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType

from tui.flowwindow import Filter
from tui.messages import ScopeChosen
from tui.poller import PollSettings
from tui.scope import Scope
from tui.screens.confirm import ConfirmScreen
from tui.screens.flows import FlowsScreen
from tui.screens.help import HelpScreen
from tui.screens.interval import IntervalScreen
from tui.screens.policy import PolicyScreen
from tui.screens.polling import PollingScreen
from tui.screens.routes import RoutesScreen
from tui.screens.top import TopScreen
from tui.screens.topology import TopologyScreen
from tui.source import LabSource, Snapshot, Source


class MonitorApp(App[int]):
    """The monitor over one `Source`."""

    CSS_PATH = "app.tcss"
    TITLE = "vpclab monitor"
    MODES: ClassVar[dict[str, Any]] = {
        "flows": FlowsScreen, "top": TopScreen, "policy": PolicyScreen, "routes": RoutesScreen, "topology": TopologyScreen,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "switch_mode('flows')", "Flows"),
        Binding("2", "switch_mode('top')", "Top"),
        Binding("3", "switch_mode('policy')", "Policy"),
        Binding("4", "switch_mode('routes')", "Routes"),
        Binding("5", "switch_mode('topology')", "Topology"),
        Binding("p", "pause", "Pause"),
        Binding("r", "interval", "Interval"),
        Binding("c", "clear_counters", "Clear counters"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit_monitor", "Quit"),
    ]

    def __init__(self, source: Source, interval: float = 2.0, clock: Callable[[], float] = time.monotonic,
                 timings: bool = True) -> None:
        super().__init__()
        self.source = source
        self.timings = timings  # the status line says how long a read took (not in snapshot tests)
        self.settings = PollSettings(interval=interval)
        self.clock = clock
        self.scope: Scope | None = None
        self.commit: int | None = None
        self.views: dict[str, PollingScreen] = {}

    def on_mount(self) -> None:
        self.switch_mode("flows")

    @property
    def view(self) -> PollingScreen | None:
        """The polling screen on top, if the top one polls."""
        return self.screen if isinstance(self.screen, PollingScreen) else None

    # what the screens share -------------------------------------------------------------

    def saw_commit(self, snap: Snapshot) -> None:
        """A poll read commit `snap.number`: say so when another process committed."""
        if self.commit and snap.number == 0:  # commits only count up: 0 is no state at all
            self.notify(f"lab {self.source.lab} was destroyed: nothing is running (was commit {self.commit})",
                        title="lab destroyed", severity="error", markup=False)
        elif self.commit is not None and snap.number != self.commit:
            self.notify(f"commit {snap.number} is running now (was {self.commit})", title="lab changed")
        self.commit = snap.number

    def on_scope_chosen(self, message: ScopeChosen) -> None:
        """Topology selected a node: the other screens narrow to it."""
        self.scope = message.scope
        self.notify(f"scope: {message.scope.label}" if message.scope else "scope: the whole lab", markup=False)
        if self.view:
            self.view.update_status()

    def show_flows(self, where: Filter) -> None:
        """Flows, filtered (a drill-down from Top or Policy)."""
        self.switch_mode("flows")
        flows = self.views.get("flows")
        if flows is not None:
            flows.where = where
            flows.view_changed()

    # keys ---------------------------------------------------------------------------------

    def action_pause(self) -> None:
        """`p`: stop polling, or go on (polling at once)."""
        self.settings.paused = not self.settings.paused
        view = self.view
        if view is not None:
            if not self.settings.paused:
                view.poller.poll_now()
            view.poller.rearm()
            view.update_status()

    def action_interval(self) -> None:
        """`r`: ask for the refresh interval."""

        def chosen(seconds: float | None) -> None:
            if seconds is not None:
                self.settings.interval = seconds
                if self.view:
                    self.view.poller.rearm()
                    self.view.update_status()

        self.push_screen(IntervalScreen(self.settings.interval), chosen)

    def action_clear_counters(self) -> None:
        """`c`: clear the policy counters (of the scope), after asking."""
        kind, name = self.scope.policy_scope() if self.scope else (None, None)
        what = f"{kind} {name}" if kind else "the whole lab"

        def answered(yes: bool | None) -> None:
            if yes:
                self._clear(kind, name, what)

        self.push_screen(ConfirmScreen(f"Clear the counters of {what}?"), answered)

    @work(thread=True, group="clear", exit_on_error=False)
    def _clear(self, kind: str | None, name: str | None, what: str) -> None:
        try:
            tables = self.source.clear_counters(kind, name)
        except Exception as err:  # noqa: BLE001 - said to the user
            self.call_from_thread(self.notify, f"clear counters failed: {err}", severity="error", markup=False)
            return
        self.call_from_thread(self._cleared, f"counters of {what} cleared ({tables} tables)")

    def _cleared(self, note: str) -> None:
        self.notify(note, markup=False)
        policy = self.views.get("policy")
        if isinstance(policy, PolicyScreen):
            policy.cleared()
        if self.view:
            self.view.poller.poll_now(force=True)

    def action_help(self) -> None:
        """`?`: every key of this screen and of the app."""
        keys: list[tuple[str, str]] = []
        for binding in [*self.BINDINGS, *(self.view.BINDINGS if self.view else [])]:
            if isinstance(binding, Binding):
                keys.append((self.get_key_display(binding), binding.description or binding.action))
        keys += [("Enter", "drill down (a flow's detail; Top and Policy: its flows; Topology: scope to the node)"),
                 ("Esc", "back, or drop the filter"), ("Tab", "next table (Top)")]
        self.push_screen(HelpScreen(keys))

    def action_quit_monitor(self) -> None:
        """`q`: leave (status 0)."""
        self.exit(0)


def run(api: Any, interval: float = 2.0) -> int:
    """Run the monitor on a real lab's `LabApi` until `q`; its exit status."""
    app = MonitorApp(LabSource(api), interval=interval)
    app.run()
    return app.return_code or 0
