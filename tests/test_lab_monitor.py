"""The monitor on a real lab with live traffic, driven with the pilot, and
the real program in a pseudo-terminal."""

from __future__ import annotations

import io
import json
import os
import socket
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest
from textual.pilot import Pilot
from textual.widgets import Tree

from engine.api import LabApi
from lab import netns
from lab.fabric import LinuxFabric
from shell.loader import parse_config
from tests.monitor_pilot import run, settle, status, table_keys, until
from tui.app import MonitorApp
from tui.screens.flow_detail import FlowDetailScreen
from tui.source import LabSource

pytestmark = pytest.mark.lab

VPCLAB = str(Path(sys.executable).with_name("vpclab"))
LAB = textwrap.dedent(
    """\
    segment corp
     default-action deny
     policy 10 permit tcp any any eq 7
     policy 20 permit udp any any eq 7
     policy 30 deny tcp any any eq 22
    !
    segment provider
    !
    vpc va
     segment corp
     group clients
     cidr 10.71.0.0/16
     subnet s 10.71.1.0/24
     host a1 10.71.1.10
    !
    vpc vb
     segment corp
     group servers
     cidr 10.72.0.0/16
     subnet s 10.72.1.0/24
     host b1 10.72.1.10
     service echo tcp-echo on b1 port 7
     service uecho udp-echo on b1 port 7
    !
    vpc vp
     segment provider
     cidr 10.74.0.0/16
     subnet s 10.74.1.0/24
     host p1 10.74.1.10
     service pecho tcp-echo on p1 port 7
    !
    prefix-list A seq 5 permit 10.71.1.0/24
    !
    prefix-list P seq 5 permit 10.74.1.10/32
    !
    resource-share link
     end-a segment corp prefix-list A
     end-b segment provider prefix-list P
     direction a-to-b
     nat end-a 10.71.1.0/24 to 100.64.9.0/24
    !
    """
)
NEW_VPC = "vpc vc\n segment corp\n cidr 10.73.0.0/16\n subnet s 10.73.1.0/24\n host c1 10.73.1.10\n!\n"


class Traffic:
    """Echo traffic from a1 that keeps flowing: TCP to b1:7 across the
    segment and to p1:7 across the share, UDP to b1:7."""

    def __init__(self, lab: str) -> None:
        self.stop = threading.Event()
        ns = f"{lab}-h-a1"
        self.tcp = netns.socket_in(ns, socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.settimeout(2)
        self.tcp.connect(("10.72.1.10", 7))
        self.shared = netns.socket_in(ns, socket.AF_INET, socket.SOCK_STREAM)
        self.shared.settimeout(2)
        self.shared.connect(("10.74.1.10", 7))
        self.udp = netns.socket_in(ns, socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.settimeout(2)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        payload = b"x" * 1000
        while not self.stop.wait(0.05):
            for sock in (self.tcp, self.shared):
                try:
                    sock.sendall(payload)
                    got = 0
                    while got < len(payload):
                        got += len(sock.recv(4096))
                except OSError:
                    pass  # the share's link went away: that flow stops
            self.udp.sendto(b"u" * 200, ("10.72.1.10", 7))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for sock in (self.tcp, self.shared, self.udp):
            sock.close()


@pytest.fixture
def live_lab(make_lab: Any) -> Iterator[tuple[LabApi, Traffic]]:
    api = make_lab()
    api.set_candidate(parse_config(LAB))
    api.commit()
    traffic = Traffic(api.name)
    try:
        yield api, traffic
    finally:
        traffic.close()


def monitor_of(api: LabApi) -> MonitorApp:
    """The monitor attached as another process would be: its own LabApi."""
    return MonitorApp(LabSource(LabApi(api.name, LinuxFabric(api.name))), interval=0.5)


def echo_flow(app: MonitorApp) -> Any:
    window = app.views["flows"].window  # type: ignore[attr-defined]
    if window is None:
        return None
    return next((s for s in window.rows if s.row["src"] == "10.71.1.10" and s.row["dst"] == "10.72.1.10"
                 and s.row["protocol"] == "tcp" and s.rate and s.rate[0] > 0), None)


def test_every_screen_shows_the_live_lab_and_the_keys_work(live_lab: tuple[LabApi, Traffic], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    api, _traffic = live_lab
    monkeypatch.chdir(tmp_path)
    app = monitor_of(api)

    async def scenario(app: MonitorApp, pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: echo_flow(app) is not None, what="the echo flow with a rate")
        flow = echo_flow(app).row
        assert flow["rule"] == "segment corp 10" and flow["application"] == "echo (tcp-echo)" and flow["segment"] == "corp"
        shared = {s.row["segment"]: s.row for s in app.views["flows"].window.rows if s.row["dst"] == "10.74.1.10"}  # type: ignore[attr-defined]
        assert shared["corp"]["nat"]["src"] == "100.64.9.10"  # the share's NAT: how the provider sees a1
        hops = {h["node"]: h for h in shared["corp"]["path"]}  # one row per connection, a hop per router it crossed
        assert hops["segment provider cxp core"]["src"] == "100.64.9.10" and "provider" not in shared
        # filter, inverted filter
        await pilot.press("slash", *"udp", "enter")
        await settle(pilot)
        rows = [s.row for s in app.views["flows"].window.rows]  # type: ignore[attr-defined]
        assert rows and {r["protocol"] for r in rows} == {"udp"}
        await pilot.press("slash", "ctrl+u", *"!udp", "enter")
        await settle(pilot)
        assert "udp" not in {s.row["protocol"] for s in app.views["flows"].window.rows}  # type: ignore[attr-defined]
        await pilot.press("escape")
        # sort by bytes
        await pilot.press("s")
        await settle(pilot)
        sizes = [s.row["bytes_out"] + s.row["bytes_in"] for s in app.views["flows"].window.rows]  # type: ignore[attr-defined]
        assert "sort bytes" in status(app) and sizes == sorted(sizes, reverse=True)
        # drill down into the echo flow
        table = app.screen.query_one("KeyedTable")
        await until(pilot, lambda: echo_flow(app) is not None, what="the echo flow again")
        table.move_cursor(row=table.get_row_index(echo_flow(app).key))  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, FlowDetailScreen)
        await until(pilot, lambda: detail.hit is not None and detail.hit["packets"] > 0, what="entry 10's counters")
        assert detail.hit["seq"] == 10 and detail.flow["dport"] == 7  # type: ignore[index]
        await until(pilot, lambda: "out" in detail.history, what="the flow's rate over time")
        # the model's trace of the same 5-tuple, checked by a real probe
        await until(pilot, lambda: detail.trace is not None, what="the drill-down's trace")
        assert detail.trace["agree"] is True and detail.trace["verdict"] == "reachable", detail.trace  # type: ignore[index]
        assert any(h["node"].startswith("segment corp") for h in detail.trace["predicted"])  # type: ignore[index]
        await pilot.press("e", "escape")
        await settle(pilot)
        # pause: the table stops changing, and says so
        await pilot.press("p")
        await settle(pilot)
        flows = app.views["flows"]
        polls = flows.polls
        assert "PAUSED" in status(app)
        await pilot.pause(1.2)
        assert flows.polls == polls
        await pilot.press("p", "e")
        await settle(pilot)
        # Top, Policy, Routes, Topology
        await pilot.press("2")
        await until(pilot, lambda: any(t.out > 0 for t in app.views["top"].tables.get("groups", [])), what="top groups")  # type: ignore[attr-defined]
        tables = app.views["top"].tables  # type: ignore[attr-defined]
        assert "10.71.1.10 (corp)" in [t.name for t in tables["sources"]]
        assert {"clients", "servers"} <= {t.name for t in tables["groups"]}
        assert "echo (tcp-echo)" in [t.name for t in tables["applications"]]
        assert any(t.name.startswith("link ") and t.out > 0 for t in tables["shares"])
        await pilot.press("3")
        await poll_twice(pilot)
        hits = {h.key: h for h in app.views["policy"].hits}  # type: ignore[attr-defined]
        assert hits["segment corp 10"].row["packets"] > 0 and hits["segment corp 10"].rate is not None
        assert hits["segment corp 30"].row["packets"] == 0  # never hit: dimmed
        assert "never hit" in status(app)
        await pilot.press("4")
        await settle(pilot)
        routes = table_keys(app)
        assert {"corp core 10.71.0.0/16", "corp core 10.72.0.0/16", "corp core 10.74.1.10/32"} <= set(routes)
        assert all(r["installed"] for r in app.views["routes"].rows)  # type: ignore[attr-defined]
        await pilot.press("5")
        await settle(pilot)
        ids = {n.data for n in app.screen.query_one(Tree)._tree_nodes.values()}
        assert {"vpc:va", "host:a1", "share:link", "segment:provider@core"} <= ids

    run(app, scenario)
    exported = sorted(tmp_path.glob("vpclab-*.json"))
    assert [p.name.split("-")[2] for p in exported] == ["flow", "flows"]
    assert json.loads(exported[0].read_text())[0]["flow"]["dport"] == 7
    assert any(r["dport"] == 7 for r in json.loads(exported[1].read_text()))


async def poll_twice(pilot: Pilot[Any]) -> None:
    from tests.monitor_pilot import poll

    await poll(pilot)
    await pilot.pause(0.3)
    await poll(pilot)


def test_a_commit_from_another_process_appears_without_a_restart(live_lab: tuple[LabApi, Traffic]) -> None:
    api, _traffic = live_lab
    app = monitor_of(api)
    other = LabApi(api.name, LinuxFabric(api.name))  # another process's session on the same lab

    async def scenario(app: MonitorApp, pilot: Pilot[Any]) -> None:
        await pilot.press("3")
        def count(key: str) -> int:
            return next((h.row["packets"] for h in app.views["policy"].hits if h.key == key), 0)  # type: ignore[attr-defined]

        # the policy sees each connection's first packet: one TCP, one UDP connection
        await until(pilot, lambda: count("segment corp 10") > 0 and count("segment corp 20") > 0, what="entries 10 and 20 counting")
        udp_before = count("segment corp 20")
        first = app.commit
        # another process: a new VPC, entry 10 changed (its counters restart), the share removed
        config = parse_config(LAB.replace("eq 7\n policy 20", "range 7 8\n policy 20") + NEW_VPC)
        other.set_candidate(config.remove("resource-share", "link"))
        other.commit(comment="from another process")
        await until(pilot, lambda: app.commit == (first or 0) + 1, what="the new commit")
        await poll_twice(pilot)
        hits = {h.key: h.row for h in app.views["policy"].hits}  # type: ignore[attr-defined]
        assert hits["segment corp 10"]["match"] == "tcp any any range 7 8"
        assert hits["segment corp 10"]["packets"] == 0  # the changed entry's counters restart
        assert hits["segment corp 20"]["packets"] >= udp_before > 0  # an unchanged entry keeps counting
        assert f"commit {app.commit}" in status(app)
        await pilot.press("4")
        await until(pilot, lambda: "corp core 10.73.0.0/16" in table_keys(app), what="the new VPC's route")
        assert "corp core 10.74.1.10/32" not in table_keys(app)  # the share's import went with it
        await pilot.press("5")
        await settle(pilot)
        ids = {n.data for n in app.screen.query_one(Tree)._tree_nodes.values()}
        assert "vpc:vc" in ids and "host:c1" in ids and "share:link" not in ids
        await pilot.press("2")
        await settle(pilot)
        assert not app.views["top"].tables["shares"]  # type: ignore[attr-defined]
        await pilot.press("1")  # the share's connection ended with it (the commit deleted it on both routers)
        await until(pilot, lambda: app.views["flows"].window is not None and echo_flow(app) is not None, what="the flows")  # type: ignore[attr-defined]
        assert not [s for s in app.views["flows"].window.rows if s.row["dst"] == "10.74.1.10"]  # type: ignore[attr-defined]

    run(app, scenario)


def test_the_program_in_a_terminal(make_lab: Any, state_dir: Path) -> None:
    api = make_lab()
    api.set_candidate(parse_config(LAB))
    api.commit()
    env = {"TERM": "xterm-256color", "HOME": str(state_dir.parent), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "VPCLAB_STATE_DIR": str(state_dir)}
    child = pexpect.spawn(VPCLAB, ["--lab", api.name, "monitor"], encoding="utf-8", timeout=20, dimensions=(40, 160), env=env)
    child.logfile_read = written = io.StringIO()  # everything the program wrote to its terminal
    try:
        child.expect_exact("commit 1")
        child.send("2")
        child.expect_exact("Top sources")
        child.send("q")
        child.expect(pexpect.EOF)
        screen = written.getvalue()
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    # the terminal is as it was: alternate screen left, mouse reports off, cursor shown, after they were set
    for on, off in (("\x1b[?1049h", "\x1b[?1049l"), ("\x1b[?1003h", "\x1b[?1003l"), ("\x1b[?25l", "\x1b[?25h")):
        assert screen.rfind(off) > screen.rfind(on) >= 0, (on, off)
    # the shell's `monitor` command, back to the prompt on q
    child = pexpect.spawn(VPCLAB, ["--lab", api.name], encoding="utf-8", timeout=20, dimensions=(40, 160), env=env)
    try:
        child.expect_exact(f"{api.name}#")
        child.send("monitor\r")
        child.expect_exact("Flows")
        child.send("q")
        child.expect_exact(f"{api.name}#")
        child.send("exit\r")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
