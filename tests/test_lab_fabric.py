"""The fabric engine on real namespaces: reachability, isolation, diffs, undo."""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import replace

import pytest

from engine.errors import CommitError, ValidationError
from engine.model import Config, Host
from lab import netns
from tests.labutil import fabric, kernel_state, ping, ping_many, vpc

pytestmark = pytest.mark.lab

HUBS = ["core", "east", "west"]


def three_by_three() -> Config:
    """Three hubs; red and blue use the same CIDRs, green its own."""
    vpcs = []
    for i, hub in enumerate(HUBS):
        vpcs.append(vpc(f"red{i}", "red", f"10.{i}.0.0/16", {f"r{i}": f"10.{i}.1.10"}, hub))
        vpcs.append(vpc(f"blue{i}", "blue", f"10.{i}.0.0/16", {f"b{i}": f"10.{i}.1.10"}, hub))
        vpcs.append(vpc(f"green{i}", "green", f"10.2{i}.0.0/16", {f"g{i}": f"10.2{i}.1.10"}, hub))
    return fabric(["red", "blue", "green"], HUBS, vpcs)


def test_every_host_reaches_its_segment_and_nothing_else(make_lab):
    api = make_lab()
    api.set_candidate(three_by_three())
    api.commit()
    hosts = {h.name: (v.segment, h.address) for v, h in api.running.hosts()}
    same, other = [], []
    for src, (seg, _) in hosts.items():
        for dst, (dseg, addr) in hosts.items():
            if src == dst:
                continue
            pair = (api.host_namespace(src), addr)
            (same if seg == dseg else other).append((src, dst, pair))
    got = ping_many([p for _, _, p in same])
    assert all(got.values()), [k for k, v in got.items() if not v]
    # green <-> red/blue: no route at all, in both directions.
    cross = [(s, d, p) for s, d, p in other if "g" in (s[0], d[0])]
    got = ping_many([p for _, _, p in cross], timeout=0.5)
    assert not any(got.values()), [k for k, v in got.items() if v]
    # red and blue share addresses: a probe to a blue host's name from red
    # must not arrive at that blue host (it may be answered by red's twin).
    for i in range(3):
        for j in range(3):
            res = api.probe(f"b{j}", f"r{i}", "icmp", timeout=0.5)
            assert not res.reachable and res.arrived is False, res
            res = api.probe(f"r{j}", f"b{i}", "icmp", timeout=0.5)
            assert not res.reachable and res.arrived is False, res
    assert api.probe("r2", "r0", "icmp").reachable
    assert all(row["installed"] for row in api.routes())
    assert api.health().ok


def _echo_server(ns: str, addr: str, port: int) -> socket.socket:
    srv = netns.socket_in(ns, socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(1)

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            while data := conn.recv(100):
                conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return srv


def test_adding_a_vpc_is_a_diff_that_keeps_connections(make_lab):
    api = make_lab()
    base = fabric(["prod"], ["core", "east"], [
        vpc("a", "prod", "10.1.0.0/16", {"ha": "10.1.1.10"}),
        vpc("b", "prod", "10.2.0.0/16", {"hb": "10.2.1.10"}, "east"),
    ])
    api.set_candidate(base)
    api.commit()
    before = {ns: os.stat(netns.path(ns)).st_ino for ns in netns.list_names(api.name + "-")}
    state_before = kernel_state(api.name + "-")
    srv = _echo_server(api.host_namespace("hb"), "10.2.1.10", 7000)
    cli = netns.socket_in(api.host_namespace("ha"), socket.AF_INET, socket.SOCK_STREAM)
    cli.settimeout(2)
    cli.connect(("10.2.1.10", 7000))
    cli.sendall(b"before")
    assert cli.recv(100) == b"before"

    grown = base.put("vpc", vpc("c", "prod", "10.3.0.0/16", {"hc": "10.3.1.10"}, "east"))
    v = grown.get("vpc", "a")
    grown = grown.put("vpc", replace(v, hosts=v.hosts + (Host("ha2", "10.1.1.11"),)))
    api.set_candidate(grown)
    result = api.commit()
    assert result.changes.counts()["+ns"] == 3  # vpc c's router, hc, ha2
    assert not any(k.startswith("-") for k in result.changes.counts())

    cli.sendall(b"after")
    assert cli.recv(100) == b"after"  # the running TCP connection survived
    cli.close()
    srv.close()
    after = {ns: os.stat(netns.path(ns)).st_ino for ns in before}
    assert after == before  # the same namespaces, not re-created
    state_after = kernel_state(api.name + "-")
    for ns, (links, _addrs, _routes, _rules) in state_before.items():
        for ifname, facts in links.items():
            assert state_after[ns][0][ifname]["index"] == facts["index"]  # links untouched
    assert ping(api.host_namespace("hc"), "10.1.1.11")


@pytest.mark.parametrize("fail_at", [1, 4, 9, 20, 40])
def test_failed_commit_restores_the_kernel_exactly(make_lab, fail_at):
    count = {"n": 0}

    def fault(op):
        if armed["on"]:
            count["n"] += 1
            if count["n"] == fail_at:
                raise OSError("injected failure")

    armed = {"on": False}
    api = make_lab(fault=fault)
    base = fabric(["prod", "dev"], ["core", "east"], [
        vpc("a", "prod", "10.1.0.0/16", {"ha": "10.1.1.10"}),
        vpc("b", "dev", "10.1.0.0/16", {"hb": "10.1.1.10"}, "east"),
    ])
    api.set_candidate(base)
    api.commit()
    running = api.running
    before = kernel_state(api.name + "-")
    # a commit that removes one vpc, adds two and moves a host
    change = base.remove("vpc", "b").put("vpc", vpc("c", "prod", "10.3.0.0/16", {"hc": "10.3.1.10"}, "east"))
    change = change.put("vpc", vpc("d", "dev", "10.4.0.0/16", {"hd": "10.4.1.10"}))
    api.set_candidate(change)
    armed["on"] = True
    with pytest.raises(CommitError, match="restored"):
        api.commit()
    armed["on"] = False
    assert kernel_state(api.name + "-") == before
    assert api.running == running and api.session.number == 1
    assert api.health().ok
    assert ping(api.host_namespace("ha"), "10.1.1.1")


def test_commit_confirmed_rolls_back_by_itself_and_rollback_restores(make_lab):
    api = make_lab()
    one = fabric(["prod"], ["core"], [vpc("a", "prod", "10.1.0.0/16", {"ha": "10.1.1.10"})])
    api.set_candidate(one)
    api.commit(comment="one")
    two = one.put("vpc", vpc("b", "prod", "10.2.0.0/16", {"hb": "10.2.1.10"}))
    api.set_candidate(two)
    result = api.commit(confirmed=1)
    assert result.confirmed_until and netns.exists(api.host_namespace("hb"))
    deadline = time.time() + 5
    while time.time() < deadline and api.running != one:
        time.sleep(0.1)
    assert api.running == one
    assert not netns.exists(f"{api.name}-h-hb")
    assert api.history()[0].comment.startswith("rollback: commit 2 was not confirmed")

    # confirmed, then confirmed by a plain commit: stays
    api.set_candidate(two)
    api.commit(confirmed=1)
    assert api.commit().messages[0].endswith("confirmed")
    time.sleep(1.5)
    assert api.running == two and ping(api.host_namespace("ha"), "10.2.1.10")

    # rollback 1 restores the previous fabric, as a new commit
    api.rollback(1)
    assert api.running == one
    assert not netns.exists(f"{api.name}-h-hb")
    assert api.health().ok


def test_invalid_candidate_changes_nothing(make_lab):
    api = make_lab()
    good = fabric(["prod"], ["core"], [vpc("a", "prod", "10.1.0.0/16", {"ha": "10.1.1.10"})])
    api.set_candidate(good)
    api.commit()
    before = kernel_state(api.name + "-")
    bad = good.put("vpc", vpc("b", "prod", "10.1.0.0/16", {"hb": "10.1.1.11"}))
    api.set_candidate(bad)
    with pytest.raises(ValidationError) as err:
        api.commit()
    assert "vpc b: cidr 10.1.0.0/16 overlaps vpc a (segment prod)" in str(err.value)
    assert kernel_state(api.name + "-") == before and api.running == good


def test_two_labs_with_the_same_addresses_do_not_see_each_other(make_lab):
    cfg = fabric(["prod"], ["core"], [
        vpc("a", "prod", "10.1.0.0/16", {"ha": "10.1.1.10"}),
        vpc("b", "prod", "10.2.0.0/16", {"hb": "10.2.1.10"}),
    ])
    one, two = make_lab(), make_lab()
    for api in (one, two):
        api.set_candidate(cfg)
        api.commit()
    assert one.probe("hb", "ha").reachable and two.probe("hb", "ha").reachable
    # ha of lab one pings 10.2.1.10: lab two's hb must see nothing
    from lab import probes

    res = probes.probe(one.host_namespace("ha"), "10.2.1.10", "icmp", None, 0.5, two.host_namespace("hb"))
    assert res.arrived is False and not res.reachable
    one.destroy()
    assert not netns.list_names(one.name + "-")
    assert two.probe("hb", "ha").reachable


def test_health_and_routes_report_drift_in_the_kernel(make_lab):
    import subprocess

    api = make_lab()
    api.set_candidate(fabric(["prod"], ["core", "east"], [
        vpc("a", "prod", "10.1.0.0/16", {"ha": "10.1.1.10"}),
        vpc("b", "prod", "10.2.0.0/16", {"hb": "10.2.1.10"}, "east"),
    ]))
    api.commit()
    assert api.health().ok
    seg = f"{api.name}-s-prod@core"
    subprocess.run(["ip", "-n", seg, "route", "del", "10.2.0.0/16"], check=True)
    subprocess.run(["ip", "-n", f"{api.name}-v-b", "link", "set", "b.s1", "down"], check=True)
    health = api.health()
    problems = {(d.ns, d.kind, d.name, d.problem) for d in health.drift}
    assert (seg, "route", "10.2.0.0/16", "missing") in problems
    assert any(d.ns == f"{api.name}-v-b" and d.name == "b.s1" for d in health.drift)
    rows = {(r["cxp"], r["prefix"]): r["installed"] for r in api.routes(segment="prod")}
    assert rows[("core", "10.2.0.0/16")] is False and rows[("east", "10.2.0.0/16")] is True
    assert not api.probe("hb", "ha", timeout=0.5).reachable
