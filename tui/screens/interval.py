"""`r`: the refresh interval, in seconds."""

from __future__ import annotations

import re

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

LOWEST, HIGHEST = 0.2, 3600.0


_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


def parse_interval(text: str) -> float | None:
    """Seconds between LOWEST and HIGHEST, or None for anything else. ASCII
    digits with an optional fraction and `s` only, as the shell takes
    numbers: float() would also take `٣` (Arabic-Indic three), `1e2`,
    `inf` and `1_0`."""
    digits = text.strip().removesuffix("s")
    if not _SECONDS.fullmatch(digits):
        return None
    value = float(digits)
    return value if LOWEST <= value <= HIGHEST else None


class IntervalScreen(ModalScreen[float | None]):
    """Asks for seconds; Enter sets them, Esc keeps the interval."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: float) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Refresh every how many seconds? ({LOWEST:g} to {HIGHEST:g}; now {self.current:g})")
            yield Input(value=f"{self.current:g}", id="seconds")

    @on(Input.Submitted)
    def _set(self, event: Input.Submitted) -> None:
        value = parse_interval(event.value)
        if value is None:
            self.notify(f"not an interval: {event.value!r} (seconds, {LOWEST:g} to {HIGHEST:g})", severity="error", markup=False)
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)
