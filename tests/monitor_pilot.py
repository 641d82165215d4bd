"""Helpers for driving the monitor with Textual's pilot from sync tests."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot

from tui.app import MonitorApp

SIZE = (160, 40)


def stepping_clock(start: float = 100.0, step: float = 2.0) -> Callable[[], float]:
    """A clock that advances `step` seconds per reading: rates come out the same every run."""
    ticks = itertools.count()
    return lambda: start + step * next(ticks)


def run(app: MonitorApp, scenario: Callable[[MonitorApp, Pilot[Any]], Awaitable[None]], size: tuple[int, int] = SIZE) -> None:
    """Run `scenario` against the app in a headless terminal."""

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await scenario(app, pilot)

    asyncio.run(main())


async def settle(pilot: Pilot[Any]) -> None:
    """Let running polls finish and their results render."""
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def poll(pilot: Pilot[Any]) -> None:
    """One more poll of the visible screen, rendered."""
    await settle(pilot)
    pilot.app.screen.poller.poll_now(force=True)  # type: ignore[attr-defined]
    await settle(pilot)


async def until(pilot: Pilot[Any], check: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll the screen until `check()` holds (a real lab takes its time)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what or check}")
        await poll(pilot)
        await asyncio.sleep(0.1)


def table_keys(app: MonitorApp, selector: str = "KeyedTable") -> list[str]:
    """Row keys of the screen's (first) table, in shown order."""
    return list(app.screen.query_one(selector).keys)  # type: ignore[attr-defined]


def status(app: MonitorApp) -> str:
    """The screen's status line as text."""
    return str(app.screen.query_one("#status").render())
