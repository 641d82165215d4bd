"""The `/` filter line: a regular expression, `!` in front inverts it."""

from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

from tui.flowwindow import Filter


class FilterBar(Input):
    """Hidden until `/`; Enter applies the expression, Esc leaves it as it was."""

    BINDINGS = [Binding("escape", "close", "Cancel", show=False)]

    class Applied(Message):
        """The user applied a (valid) filter."""

        def __init__(self, where: Filter) -> None:
            super().__init__()
            self.where = where

    def __init__(self) -> None:
        super().__init__(placeholder="filter: regular expression (! inverts), Enter applies, Esc cancels", id="filter")

    def open(self, current: str) -> None:
        """Show the bar holding the current filter, with the focus."""
        self.value = current
        self.display = True
        self.focus()

    def action_close(self) -> None:
        """Hide without changing the filter."""
        self.display = False
        self.screen.focus_next()

    @on(Input.Submitted)
    def _apply(self, event: Input.Submitted) -> None:
        event.stop()
        where = Filter(self.value.strip())
        problem = where.error()
        if problem:
            self.notify(problem, severity="error", markup=False)
            return
        self.post_message(self.Applied(where))
        self.action_close()
