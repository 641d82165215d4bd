"""Firewalls with real packets: east-west inspection, instances, stickiness, denials.

Connections are opened from a host with chosen source ports; each
instance's conntrack is read to see which instance holds which connection
(and that it saw both directions), and the kernel's choice is compared with
the engine's jhash replica.
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from engine.jhash import choose
from lab import conntrack, netns, services
from shell import main as program
from tests.paths import example
from tests.test_lab_shares import built as shares_lab
from tests.test_lab_shares import tcp_connect as connect

pytestmark = pytest.mark.lab

EAST_WEST = """\
segment corp
 policy 10 inspect fw ip group web group app
 policy 20 permit ip any any
!
vpc web
 segment corp
 group web
 cidr 10.71.0.0/16
 subnet s 10.71.1.0/24
 host w1 10.71.1.10
 service back tcp-echo on w1 port 2222
!
vpc app
 segment corp
 group app
 cidr 10.72.0.0/16
 subnet s 10.72.1.0/24
 host a1 10.72.1.10
 service echo tcp-echo on a1 port 7
 service ssh tcp-echo on a1 port 22
 service other tcp-echo on a1 port 2222
!
firewall fw
 instances 3
 zone web segment corp group web
 zone app segment corp group app
 rule 10 permit tcp from web to app eq 7
 rule 20 deny tcp from web to app eq 22 log
 rule 30 permit icmp from any to any
!
"""
W1, A1 = "10.71.1.10", "10.72.1.10"


def built(make_lab: Any, text: str = EAST_WEST) -> Any:
    return shares_lab(make_lab, text)


def echoes(sock: socket.socket, payload: bytes) -> bool:
    try:
        sock.sendall(payload)
        data = b""
        while len(data) < len(payload):
            chunk = sock.recv(4096)
            if not chunk:
                return False
            data += chunk
        return data == payload
    except OSError:
        return False


def holders(lab: str, instances: int, sports: list[int], dport: int = 7) -> dict[int, list[int]]:
    """sport -> the instances whose conntrack holds that connection with its reply seen."""
    out: dict[int, list[int]] = {p: [] for p in sports}
    for n in range(1, instances + 1):
        for e in conntrack.read(f"{lab}-f-fw@{n}"):
            o, r = e["orig"], e["reply"]
            if o.get("src") == W1 and o.get("dst") == A1 and o.get("dport") == dport and o.get("sport") in out:
                if r.get("packets", 0) > 0 and r.get("src") == A1:
                    out[o["sport"]].append(n)
    return out


def test_the_example_runs_through_the_program(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import new_lab_name

    lab = new_lab_name()
    try:
        assert program.main(["--lab", lab, "-f", str(example("firewall-insertion.cli"))]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert out.count("ok: ") == 5 and "assert failed" not in out
        # show policy hits firewall fw1: every rule of the story matched once at least
        for line in ("permit   tcp from intranet to internet eq 80 log", "permit   tcp from intranet to intranet eq 8080",
                     "permit   tcp from internet to intranet eq 80", "deny     ip from any to any log"):
            row = next(x for x in out.splitlines() if line in x)
            assert int(row.split()[-2]) >= 1, row
        assert re.search(r"firewall fw1 (10|20|30) +fw1/[12] ", out), out  # show flows firewall fw1: the rule and the instance
    finally:
        program.main(["--lab", lab, "destroy"])
        assert not netns.list_names(lab + "-")
        assert not services.scan(services.marker(lab + "/"))


def test_sixty_connections_spread_over_three_instances_each_held_by_one(make_lab: Any) -> None:
    api = built(make_lab)
    lab = api.name
    sports = list(range(31000, 31060))
    socks = [connect(f"{lab}-h-w1", W1, p, A1, 7) for p in sports]
    try:
        assert all(echoes(s, f"hello {i}".encode()) for i, s in enumerate(socks))
        held = holders(lab, 3, sports)
        assert all(len(v) == 1 for v in held.values()), {p: v for p, v in held.items() if len(v) != 1}
        counts = {n: sum(1 for v in held.values() if v == [n]) for n in (1, 2, 3)}
        assert all(c > 0 for c in counts.values()), counts
        # the engine predicts the kernel's choice: jhash over the first packet, seed fixed
        wrong = {p: v for p, v in held.items() if v != [choose(W1, A1, 6, p, 7, 3) + 1]}
        assert not wrong, wrong
        rows = api.flows(firewall="fw", port=7)
        assert len(rows) == 60 and {r["firewall_instance"] for r in rows} == {1, 2, 3}
        assert {r["rule"] for r in rows} == {"firewall fw 10"}
        detail = api.firewall("fw")
        assert sum(i["connections"] for i in detail["instance_list"]) >= 60
    finally:
        for s in socks:
            s.close()


def test_more_instances_keep_open_connections_and_new_ones_reach_the_fourth(make_lab: Any) -> None:
    api = built(make_lab)
    lab = api.name
    old = [connect(f"{lab}-h-w1", W1, p, A1, 7) for p in range(32000, 32030)]
    try:
        assert all(echoes(s, b"before") for s in old)
        fw = api.running.require("firewall", "fw")
        api.set_candidate(api.running.put("firewall", replace(fw, instances=4)))
        api.commit()
        assert all(echoes(s, b"after the change") for s in old)  # every open connection still on its instance
        assert all(len(v) == 1 and v[0] <= 3 for v in holders(lab, 4, list(range(32000, 32030))).values())
        new_ports = list(range(33000, 33040))
        new = [connect(f"{lab}-h-w1", W1, p, A1, 7) for p in new_ports]
        try:
            assert all(echoes(s, b"new") for s in new)
            held = holders(lab, 4, new_ports)
            assert any(v == [4] for v in held.values()), held
            assert all(v == [choose(W1, A1, 6, p, 7, 4) + 1] for p, v in held.items())
        finally:
            for s in new:
                s.close()
        # back to three: the commit says what instance 4 held
        api.set_candidate(api.running.put("firewall", fw))
        result = api.commit()
        said = [m for m in result.messages if "instance 4" in m]
        assert said and "which held" in said[0] and not said[0].endswith("held 0 connection(s)"), result.messages
        assert all(echoes(s, b"on 1-3 still") for s, p in zip(old, range(32000, 32030), strict=True) if choose(W1, A1, 6, p, 7, 3) < 3)
    finally:
        for s in old:
            s.close()


def test_a_denied_connection_never_reaches_the_target(make_lab: Any) -> None:
    api = built(make_lab)
    before = {r["seq"]: r["packets"] for r in api.policy_hits("firewall", "fw")}
    res = api.probe("a1", "w1", "tcp", 22)
    assert not res.reachable and res.arrived is False, res  # observed at a1: nothing came
    after = {r["seq"]: r["packets"] for r in api.policy_hits("firewall", "fw")}
    assert after[20] > before[20]
    for _ in range(20):  # the collector writes the line as the packet is logged
        if any("firewall fw 20 deny tcp 10.71.1.10:" in line and "-> 10.72.1.10:22" in line for line in api.log(50)):
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"no log line: {api.log(50)}")
    # not matched by any rule: the default denies (counted), a permitted one passes
    assert not api.probe("a1", "w1", "tcp", 2222).reachable
    assert {r["seq"]: r["packets"] for r in api.policy_hits("firewall", "fw")}[None] >= 1
    assert api.probe("a1", "w1", "tcp", 7).reachable
    assert api.probe("a1", "w1", "icmp").reachable
    # traffic the policy does not inspect keeps its direct path
    assert api.probe("w1", "a1", "tcp", 2222).reachable
    rows = api.flows(port=2222)
    assert any(r["src"] == A1 for r in rows) and all(r["firewall"] is None for r in rows if r["src"] == A1)
    # clear counters of the firewall zeroes its rules, in every instance
    api.clear_counters("firewall", "fw")
    assert all(r["packets"] == 0 for r in api.policy_hits("firewall", "fw"))
