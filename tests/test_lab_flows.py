"""Flows read through ctnetlink, stitched across routers, with real connections."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from typing import Any

import pytest

from engine.items import ORIGIN_MARK
from lab import conntrack, ctnetlink, netns
from shell.language import interpreter
from shell.loader import parse_config
from shell.state import ShellState
from tests.configs import PORTAL

pytestmark = pytest.mark.lab


def built(make_lab: Any, text: str) -> Any:
    api = make_lab()
    api.set_candidate(parse_config(text))
    api.commit()
    api.flows()  # opens the readers: conntrack timestamps from here on
    return api


def traffic(lab: str) -> list[socket.socket]:
    """A tcp connection, a udp exchange and a ping from each customer; the sockets stay open."""
    kept = []
    for host in ("alice", "bill"):
        tcp = netns.socket_in(f"{lab}-h-{host}", socket.AF_INET, socket.SOCK_STREAM)
        tcp.settimeout(2)
        tcp.connect(("172.31.255.10", 7))
        tcp.sendall(b"hello")
        assert tcp.recv(16) == b"hello"
        udp = netns.socket_in(f"{lab}-h-{host}", socket.AF_INET, socket.SOCK_DGRAM)
        udp.settimeout(2)
        udp.sendto(b"ping", ("172.31.255.10", 7))
        assert udp.recv(16) == b"ping"
        kept += [tcp, udp]
        subprocess.run(["ip", "netns", "exec", f"{lab}-h-{host}", "ping", "-c", "1", "-W", "1", "172.31.255.10"],
                       check=True, capture_output=True)  # fmt: skip
    return kept


def test_the_netlink_decoder_agrees_with_the_conntrack_tool(make_lab: Any) -> None:
    """lab/conntrack.py's `conntrack -L` parser is the reference: every entry
    of every router, field for field (tcp, udp, icmp; NAT'd and not)."""
    api = built(make_lab, PORTAL)
    kept = traffic(api.name)
    time.sleep(0.2)
    tables = ctnetlink.Tables()
    try:
        for ns in [f"{api.name}-s-{r}@core" for r in ("cust-a", "cust-b", "provider")]:
            mine = sorted((ctnetlink.reference(e) for e in tables.read([ns])[ns]), key=repr)
            theirs = sorted(conntrack.read(ns), key=repr)
            assert mine == theirs and len(mine) >= 3, ns
            assert {e["protocol"] for e in mine} >= {"tcp", "udp", "icmp"}
    finally:
        tables.close()
        for s in kept:
            s.close()


def test_one_row_per_connection_with_its_path_nat_age_and_origin(make_lab: Any) -> None:
    api = built(make_lab, PORTAL)
    kept = traffic(api.name)
    time.sleep(1.1)
    late = netns.socket_in(f"{api.name}-h-alice", socket.AF_INET, socket.SOCK_DGRAM)
    late.sendto(b"late", ("172.31.255.10", 7))
    late.settimeout(2)
    assert late.recv(16) == b"late"
    rows = api.flows()
    assert len(rows) == 7  # 2 x (tcp, udp, icmp) and the late datagram; each crossed two routers
    for r in rows:
        assert [h["node"] for h in r["path"]] == [f"segment {r['segment']} cxp core", f"share portal-{r['segment'][-1]}",
                                                  "segment provider cxp core"]  # fmt: skip
        assert r["src"] == "10.1.1.10" and r["dst"] == "172.31.255.10"
        assert r["nat"]["src"] == f"100.64.{1 if r['segment'] == 'cust-a' else 2}.10" and r["nat"]["dst"] == "10.1.200.10"
        assert r["path"][0]["src"] == r["nat"]["src"] and r["path"][-1]["dst"] == "10.1.200.10"  # NAT at each hop
        assert r["age"] is not None and r["age"] >= 0
    by_age = api.flows(sort="age")
    assert by_age[-1]["sport"] == late.getsockname()[1] and by_age[0]["age"] >= by_age[-1]["age"] + 1
    assert {r["application"] for r in rows if r["protocol"] != "icmp"} == {"echo (tcp-echo)", "uecho (udp-echo)"}
    pings = [r["icmp_id"] for r in rows if r["protocol"] == "icmp"]  # each echo's id (the monitor keys flows by it)
    assert len(pings) == 2 and all(isinstance(i, int) for i in pings) and all(r["icmp_id"] is None for r in rows if r["protocol"] != "icmp")
    assert len(api.flows(share="portal-b")) == 3 and len(api.flows(host="alice")) == 4 and len(api.flows(host="portal1")) == 7
    # one entry per connection carries the origin mark: the router where it entered from its VPC
    tables = ctnetlink.Tables()
    try:
        origin = tables.read([f"{api.name}-s-cust-a@core", f"{api.name}-s-provider@core"], ORIGIN_MARK, ORIGIN_MARK)
        assert len(origin[f"{api.name}-s-cust-a@core"]) == 4 and origin[f"{api.name}-s-provider@core"] == []
    finally:
        tables.close()
    # the shell: plain columns with the path, and the same rows as JSON
    out: list[str] = []
    sh = interpreter(ShellState(api, api.name, emit=out.append))
    assert sh.run("show flows host bill")
    assert "cust-b@core > share portal-b > provider@core" in out[-1] and out[-1].count("\n") == 4  # header, rule, 3 rows
    assert sh.run("show flows top 2 | json") and [r["path"] for r in json.loads(out[-1])] == [r["path"] for r in rows[:2]]
    assert sh.run("show flows | count") and out[-1] == "Count: 9 lines"
    for s in [*kept, late]:
        s.close()
