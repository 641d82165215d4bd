"""What each screen looks like at 160x40, over fixed data (pytest-textual-snapshot).

Each app reads twice (rates and sparklines need two readings) with a clock
that advances exactly 2 s per reading, and shows no read timings, so the
pictures are the same on every run. Update after a deliberate change with
`pytest tests/test_monitor_snapshots.py --snapshot-update` and look at them."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from tests.monitor_data import FixedSource
from tests.monitor_pilot import SIZE, poll, settle, stepping_clock
from tui.app import MonitorApp


def app_of(trace: bool = True) -> MonitorApp:
    return MonitorApp(FixedSource(trace=trace), interval=3600.0, clock=stepping_clock(), timings=False)


def keys_then_poll(*keys: str) -> Any:
    async def before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        await poll(pilot)

    return before


@pytest.mark.parametrize("key", ["1", "2", "3", "4", "5"], ids=["flows", "top", "policy", "routes", "topology"])
def test_screen(snap_compare: Any, key: str) -> None:
    assert snap_compare(app_of(), terminal_size=SIZE, run_before=keys_then_poll(key))


def test_flow_detail(snap_compare: Any) -> None:
    assert snap_compare(app_of(), terminal_size=SIZE, run_before=keys_then_poll("down", "enter"))


def test_flow_detail_without_trace(snap_compare: Any) -> None:
    assert snap_compare(app_of(trace=False), terminal_size=SIZE, run_before=keys_then_poll("enter"))


def test_filtered_and_paused(snap_compare: Any) -> None:
    assert snap_compare(app_of(), terminal_size=SIZE, run_before=keys_then_poll("slash", "s", "s", "h", "enter", "p"))


def test_help(snap_compare: Any) -> None:
    assert snap_compare(app_of(), terminal_size=SIZE, press=["question_mark"])
