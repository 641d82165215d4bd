"""One poll at a time, re-armed when the last one finished, only while visible.

A repeating timer would start a poll every interval even when the last one
is still reading (a slow lab), and polls would pile up. The `Poller` arms
a one-shot timer when a poll finishes; a screen that is hidden or paused
arms nothing. Interval and pause are the app's (`PollSettings`), shared by
every screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.message_pump import MessagePump
from textual.timer import Timer


@dataclass
class PollSettings:
    """The refresh interval (seconds) and the pause, for the whole app."""

    interval: float = 2.0
    paused: bool = False


class Poller:
    """Drives `start` (which launches a worker) and learns from `finished`
    that the worker is done."""

    def __init__(self, owner: MessagePump, settings: PollSettings, start: Callable[[], None]) -> None:
        self.owner = owner
        self.settings = settings
        self.start = start
        self.visible = False
        self.running = False
        self.again = False  # a poll was asked for while one was running
        self._timer: Timer | None = None

    def resume(self) -> None:
        """The screen is shown: poll now (unless paused). Textual may say so
        twice for a screen it has just created; the second time is a no-op."""
        if self.visible:
            return
        self.visible = True
        if not self.settings.paused:
            self.poll_now()

    def suspend(self) -> None:
        """The screen is hidden: no more polls."""
        self.visible = False
        self._cancel()

    def poll_now(self, force: bool = False) -> None:
        """Start a poll at once, or right after the running one. `force`
        polls even while paused (a filter changed, counters were cleared)."""
        if self.settings.paused and not force:
            return
        self._cancel()
        if self.running:
            self.again = True
            return
        self.running = True
        self.start()

    def finished(self) -> None:
        """The worker posted its result (or its failure): arm the next poll."""
        self.running = False
        if self.again:
            self.again = False
            self.poll_now(force=True)
        elif self.visible and not self.settings.paused:
            self._cancel()
            self._timer = self.owner.set_timer(self.settings.interval, self._due)

    def rearm(self) -> None:
        """The interval or the pause changed."""
        self._cancel()
        if self.visible and not self.settings.paused and not self.running:
            self._timer = self.owner.set_timer(self.settings.interval, self._due)

    def _due(self) -> None:
        self._timer = None
        if self.visible and not self.settings.paused:
            self.poll_now()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
