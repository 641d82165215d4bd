"""The monitor's keys and poll cycle with the pilot, over a fixed data source."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Tree

from tests.monitor_data import FixedSource
from tests.monitor_pilot import poll, run, settle, status, stepping_clock, table_keys
from tui.app import MonitorApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.flow_detail import FlowDetailScreen
from tui.screens.help import HelpScreen
from tui.screens.interval import IntervalScreen


def app_of(source: FixedSource | None = None, interval: float = 60.0) -> MonitorApp:
    return MonitorApp(source or FixedSource(), interval=interval, clock=stepping_clock())


def test_each_key_shows_its_screen_and_q_quits_with_status_0() -> None:
    app = app_of()

    async def scenario(app: MonitorApp, pilot: Pilot[Any]) -> None:
        for key, name in (("2", "Top"), ("3", "Policy"), ("4", "Routes"), ("5", "Topology"), ("1", "Flows")):
            await pilot.press(key)
            await settle(pilot)
            assert f"· {name} ·" in status(app) and "commit 7" in status(app)
        assert len(table_keys(app)) == 40
        await pilot.press("q")

    run(app, scenario)
    assert app.return_code == 0


def test_only_the_visible_screen_polls_and_p_pauses() -> None:
    app = app_of(interval=0.1)

    async def scenario(app: MonitorApp, pilot: Pilot[Any]) -> None:
        flows = app.views["flows"]
        await asyncio.sleep(0.5)
        await settle(pilot)
        assert flows.polls >= 3  # re-armed after each poll
        await pilot.press("2")
        await settle(pilot)
        top, seen = app.views["top"], flows.polls
        await asyncio.sleep(0.5)
        await settle(pilot)
        assert flows.polls == seen and top.polls >= 3  # Flows sleeps while Top is shown
        await pilot.press("p")
        await settle(pilot)
        paused = top.polls
        assert "PAUSED" in status(app)
        await asyncio.sleep(0.5)
        assert top.polls == paused
        await pilot.press("p")
        await asyncio.sleep(0.3)
        await settle(pilot)
        assert top.polls > paused and "PAUSED" not in status(app)

    run(app, scenario)


def test_filter_inverts_and_refuses_a_bad_expression() -> None:
    app = app_of()

    async def scenario(app: MonitorApp, pilot: Pilot[Any]) -> None:
        flows = app.views["flows"]
        await pilot.press("slash", *"web", "enter")
        await settle(pilot)
        shown = flows.window.rows  # type: ignore[attr-defined]
        assert len(shown) == 10 and all(s.row["dport"] == 443 for s in shown)
        assert "filter /web/" in status(app) and "10 of 40 flows" in status(app)
        await pilot.press("slash", *"!web", "enter")
        await settle(pilot)
        assert len(table_keys(app)) == 30
        assert all(s.row["dport"] != 443 for s in flows.window.rows)  # type: ignore[attr-defined]
        await pilot.press("slash", "ctrl+u", "(", "enter")
        await settle(pilot)
        assert flows.where.text == "!web"  # kept the last good one
        await pilot.press("escape", "escape")  # close the bar, then drop the filter
        await settle(pilot)
        assert flows.where.text == "" and len(table_keys(app)) == 40

    run(app, scenario)


def test_sort_cycles_and_reverses_and_the_cursor_stays_on_its_flow() -> None:
    app = app_of()

    async def scenario(app: MonitorApp, pilot: Pilot[Any]) -> None:
        await poll(pilot)  # a second reading: rates
        flows = app.views["flows"]
        rates = [s.rate[0] + s.rate[1] for s in flows.window.rows]  # type: ignore[attr-defined]
        assert rates == sorted(rates, reverse=True) and rates[0] > rates[-1]
        await pilot.press("down", "down")
        table = app.screen.query_one("KeyedTable")
        chosen = table.selected_key  # type: ignore[attr-defined]
        await pilot.press("S")
        await settle(pilot)
        assert "sort rate (reversed)" in status(app)
        assert table.selected_key == chosen  # type: ignore[attr-defined]
        rates = [s.rate[0] + s.rate[1] for s in flows.window.rows]  # type: ignore[attr-defined]
        assert rates == sorted(rates)
        await pilot.press("S", "s", "s", "s", "s")  # bytes, packets, age, segment
        await settle(pilot)
        assert "sort segment" in status(app)
        segments = [s.row["segment"] for s in flows.window.rows]  # type: ignore[attr-defined]
        assert segments == sorted(segments)
        assert table_keys(app) == [s.key for s in flows.window.rows]  # type: ignore[attr-defined]

    run(app, scenario)


def test_enter_drills_into_a_flow_and_esc_goes_back() -> None:
    app = app_of()

    async def scenario(app: MonitorApp, pilot: Pilot[Any]) -> None:
        key = table_keys(app)[0]
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, FlowDetailScreen) and detail.key == key
        await poll(pilot)
        assert detail.hit is not None and detail.hit["seq"] == int(detail.flow["rule"].split()[-1])  # type: ignore[index]
        text = " ".join(str(w.render()) for w in detail.query("Static"))
        assert detail.flow["src"] in text and "Admitted by: " + detail.flow["rule"] in text  # type: ignore[index]
        assert detail.trace is not None and detail.trace["agree"] is True
        assert not app.views["flows"].poller.visible  # Flows sleeps under the detail
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is app.views["flows"]

    run(app, scenario)


def test_export_writes_the_current_table_to_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = app_of()

    async def scenario(app: MonitorApp, pilot: Pilot[Any]) -> None:
        await pilot.press("slash", *"dns", "enter")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        await pilot.press("3", "e")
        await settle(pilot)

    run(app, scenario)
    flows_file, policy_file = sorted(tmp_path.glob("vpclab-demo-flows-*.json")), sorted(tmp_path.glob("vpclab-demo-policy-*.json"))
    assert flows_file and policy_file
    rows = json.loads(flows_file[0].read_text())
    assert len(rows) == 10 and all(r["application"] == "dns (udp-echo)" and "rate_out" in r for r in rows)
    assert {r["scope"] for r in json.loads(policy_file[0].read_text())} == {"segment", "share"}


def test_clear_counters_asks_first() -> None:
    source = FixedSource()
    app = app_of(source)

    async def scenario(app: MonitorApp, pilot: Pilot[Any]) -> None:
        await pilot.press("3")
        await poll(pilot)
        await poll(pilot)
        before = {h.key: h.row["packets"] for h in app.views["policy"].hits}  # type: ignore[attr-defined]
        assert before["segment corp 10"] == 650
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await settle(pilot)
        assert source.cleared_at == 0
        await pilot.press("c", "y")
        await settle(pilot)
        assert source.cleared_at > 0
        hits = {h.key: h for h in app.views["policy"].hits}  # type: ignore[attr-defined]
        assert hits["segment corp 10"].row["packets"] < 650  # counted again from the clear

    run(app, scenario)


def test_refresh_interval_and_help() -> None:
    app = app_of()

    async def scenario(app: MonitorApp, pilot: Pilot[Any]) -> None:
        await pilot.press("r")
        assert isinstance(app.screen, IntervalScreen)
        await pilot.press("ctrl+u", *"fast", "enter")
        assert isinstance(app.screen, IntervalScreen)  # refused, still asking
        await pilot.press("ctrl+u", "5", "enter")
        await settle(pilot)
        assert app.settings.interval == 5.0 and "every 5s" in status(app)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.keys)
        assert keys["/"] == "Filter" and keys["p"] == "Pause" and keys["c"] == "Clear counters"
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

    run(app, scenario)


def test_topology_selection_scopes_the_other_screens_and_commits_are_followed() -> None:
    source = FixedSource()
    app = app_of(source)

    async def scenario(app: MonitorApp, pilot: Pilot[Any]) -> None:
        await pilot.press("5")
        await settle(pilot)
        tree: Tree[str] = app.screen.query_one(Tree)
        node = next(n for n in tree._tree_nodes.values() if n.data == "segment:corp@core")
        tree.move_cursor(node)
        await pilot.press("enter")
        await settle(pilot)
        assert app.scope is not None and app.scope.label == "segment corp"
        await pilot.press("1")
        await settle(pilot)
        assert "scope segment corp" in status(app)
        assert {s.row["segment"] for s in app.views["flows"].window.rows} == {"corp"}  # type: ignore[attr-defined]
        await pilot.press("3")
        await settle(pilot)
        assert {h.row["name"] for h in app.views["policy"].hits} == {"corp"}  # type: ignore[attr-defined]
        source.number = 8  # another process committed
        await poll(pilot)
        assert "commit 8" in status(app)
        await pilot.press("5")
        await settle(pilot)
        tree.move_cursor(tree.root)
        await pilot.press("enter")
        await settle(pilot)
        assert app.scope is None
        source.number = 0  # the lab destroyed under the monitor: said as such, not as "commit 0"
        await poll(pilot)
        said = [str(n.message) for n in app._notifications]
        assert any("was destroyed" in m for m in said) and not any("commit 0 is running" in m for m in said)

    run(app, scenario)


def test_keyed_table_changes_only_what_differs() -> None:
    from rich.text import Text
    from textual.app import App, ComposeResult

    from tui.widgets.keyed_table import KeyedTable

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield KeyedTable([("name", "Name", None), ("value", "Value", 6)])

    def rows(*pairs: tuple[str, str]) -> list[tuple[str, list[Text]]]:
        return [(k, [Text(k), Text(v)]) for k, v in pairs]

    async def main() -> None:
        app = One()
        async with app.run_test() as pilot:
            table = app.query_one(KeyedTable)
            table.show(rows(("a", "1"), ("b", "2"), ("c", "3")))
            await pilot.pause()
            first_a = table.get_row("a")[0]
            table.move_cursor(row=table.get_row_index("c"))
            table.show(rows(("c", "3"), ("a", "9"), ("d", "4")))  # b went, a changed, d is new, c moved up
            await pilot.pause()
            assert table.keys == ["c", "a", "d"] and table.row_count == 3
            assert [str(table.get_row_at(i)[1]) for i in range(3)] == ["3", "9", "4"]
            assert table.get_row("a")[0] is first_a  # an unchanged cell is not replaced
            assert table.selected_key == "c"  # the cursor followed its row
            table.show([])
            await pilot.pause()
            assert table.row_count == 0 and table.selected_key is None

    asyncio.run(main())


def test_without_a_terminal_the_monitor_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from shell import main as program
    from tests.test_shell_support import make_api

    assert program.main(["monitor"], make_api=lambda name: make_api(tmp_path, name)) == 2
    assert "needs a terminal" in capsys.readouterr().err
    assert program.main(["-c", "monitor"], make_api=lambda name: make_api(tmp_path, name)) == 1
    assert "monitor is full-screen" in capsys.readouterr().err


def test_a_failing_read_is_shown_and_the_next_poll_recovers() -> None:
    source = FixedSource()
    app = app_of(source)

    async def scenario(app: MonitorApp, pilot: Pilot[Any]) -> None:
        source.fail = "% segment corp does not exist in the running configuration"
        await poll(pilot)
        assert source.fail in status(app)
        assert len(table_keys(app)) == 40  # the last good reading stays on screen
        source.fail = None
        await poll(pilot)
        assert "does not exist" not in status(app)

    run(app, scenario)


def test_a_flow_that_ends_under_its_detail_says_gone() -> None:
    source = FixedSource()
    app = app_of(source)

    async def scenario(app: MonitorApp, pilot: Pilot[Any]) -> None:
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, FlowDetailScreen)
        source.base = [r for r in source.base if r["src"] != detail.flow["src"]]  # type: ignore[index]
        await poll(pilot)
        assert "gone: no longer tracked" in str(detail.query_one("#connection").render())

    run(app, scenario)


def test_a_new_filter_or_sort_does_not_read_the_lab_again() -> None:
    source = FixedSource()
    app = app_of(source)

    async def scenario(app: MonitorApp, pilot: Pilot[Any]) -> None:
        reads = source.calls
        await pilot.press("slash", *"dns", "enter", "s", "S")
        await settle(pilot)
        flows = app.views["flows"]
        assert source.calls == reads  # picked again from the last reading
        assert flows.window.where == "dns" and flows.window.sort == "bytes_out" and flows.window.reverse  # type: ignore[attr-defined]
        sizes = [s.row["bytes_out"] + s.row["bytes_in"] for s in flows.window.rows]  # type: ignore[attr-defined]
        assert len(sizes) == 10 and sizes == sorted(sizes)
        await poll(pilot)
        assert source.calls == reads + 1 and flows.window.where == "dns"  # type: ignore[attr-defined]

    run(app, scenario)
