"""`?`: the keys, taken from the bindings themselves so they never drift."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

ABOUT = ("Screens poll only while shown, one read at a time, in a worker thread. "
         "Flows holds at most the top 500 of what matches; the status line gives the totals. "
         "Exports are written to the current directory.")


class HelpScreen(ModalScreen[None]):
    """The app's and the current screen's key bindings, as a table."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = bindings

    def compose(self) -> ComposeResult:
        table = Table(title="vpclab monitor keys", show_header=False, expand=True)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, description in self.keys:
            table.add_row(key, description)
        with VerticalScroll(id="help"):
            yield Static(table)
            yield Static(ABOUT, id="about")
