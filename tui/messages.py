"""Messages that workers post to their screen, and screens to the app.

Workers never touch widgets: they read, compute, and post one of these;
the handler on the UI thread renders."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from tui.scope import Scope
from tui.source import Snapshot


class Polled(Message):
    """A poll finished: what it read (`payload`, the screen's own shape),
    against which commit, and how long the reading took."""

    def __init__(self, payload: Any, snapshot: Snapshot, seconds: float) -> None:
        super().__init__()
        self.payload = payload
        self.snapshot = snapshot
        self.seconds = seconds


class PollFailed(Message):
    """A poll raised: the screen says why and polls again later."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class Rewindowed(Message):
    """Flows picked its window again from the last reading (a new filter or
    sort): no read of the lab, so it answers in a fraction of a poll."""

    def __init__(self, window: Any) -> None:
        super().__init__()
        self.window = window


class Traced(Message):
    """The model's trace of the drilled-into flow (None: the engine has no trace)."""

    def __init__(self, result: dict[str, Any] | None, error: str | None = None) -> None:
        super().__init__()
        self.result = result
        self.error = error


class ScopeChosen(Message):
    """A Topology node was selected: the other screens show only it (None: all)."""

    def __init__(self, scope: Scope | None) -> None:
        super().__init__()
        self.scope = scope
