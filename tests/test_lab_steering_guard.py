"""Steering fails closed, with real packets: when a firewall instance's leg
is deleted behind vpclab's back, the connections pinned to that instance
are dropped (not sent round the firewall by the main table), health names
the missing leg, and repair brings inspection back."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from engine.jhash import choose
from shell.loader import parse_config
from tests.test_lab_firewall import A1, W1, built, echoes
from tests.test_lab_firewall_paths import ADDRESSES, CROSS_HUB
from tests.test_lab_shares import tcp_connect

pytestmark = pytest.mark.lab


def answered(lab: str, sport: int, port: int, src: tuple[str, str] = ("w1", W1), dst: str = A1) -> bool:
    """Does `dst` answer a connection from host `src` (name, address) and
    `sport` to `port` (echoing)?"""
    try:
        sock = tcp_connect(f"{lab}-h-{src[0]}", src[1], sport, dst, port, timeout=1.5)
    except OSError:
        return False
    try:
        return echoes(sock, b"through?")
    finally:
        sock.close()


def legs(ns: str) -> list[str]:
    """The links of a namespace other than lo."""
    out = subprocess.run(["ip", "-n", ns, "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ": lo:" not in line]


def test_a_deleted_instance_leg_drops_its_connections_until_repair(make_lab: Any) -> None:
    api = built(make_lab)  # firewall fw, 3 instances: rule 10 permits tcp 7, rule 20 denies tcp 22
    lab = api.name
    instance = f"{lab}-f-fw@1"
    on_one = {port: [p for p in range(35000, 35400) if choose(W1, A1, 6, p, port, 3) == 0][:8] for port in (7, 22)}
    assert all(len(v) == 8 for v in on_one.values())
    held = tcp_connect(f"{lab}-h-w1", W1, on_one[7][0], A1, 7)  # open through instance 1 before the leg goes
    try:
        assert echoes(held, b"before")
        (leg,) = legs(instance)
        subprocess.run(["ip", "-n", instance, "link", "del", leg], check=True)
        # denied port: never answered (it was, 8 of 8, by the direct path the main table gave)
        assert [answered(lab, p, 22) for p in on_one[22]] == [False] * 8
        held.settimeout(1.0)
        assert not echoes(held, b"open connection, leg gone")  # nor an established one's packets
        # connections on the other instances are untouched
        others = [p for p in range(36000, 36100) if choose(W1, A1, 6, p, 7, 3) != 0][:4]
        assert all(answered(lab, p, 7) for p in others)
        health = api.health()
        assert not health.ok and any(r["namespace"] == instance or leg in r["name"] for r in health.rows()), health.rows()
        assert api.repair()
        assert api.health().ok
        assert all(answered(lab, p, 7) for p in on_one[7][1:])  # the permitted port works through instance 1 again
        assert not any(answered(lab, p, 22) for p in on_one[22][:3])  # and the denied one stays denied
    finally:
        held.close()


def test_across_hubs_a_deleted_leg_drops_what_came_over_the_backbone(make_lab: Any) -> None:
    """ha and hb are on east, the firewall on core: east sends inspected
    connections to core's router over the backbone, which steers them into
    an instance; with that instance's leg gone core must not route them
    straight back to east (the hostile test's cross-hub case)."""
    api = make_lab()
    api.set_candidate(parse_config(CROSS_HUB.replace(" service echo tcp-echo on hb port 7\n",
                                                     " service echo tcp-echo on hb port 7\n service ssh tcp-echo on hb port 22\n")))
    api.commit()  # fw: 2 instances, rule 10 permits tcp 7 only
    lab = api.name
    ha, hb = ADDRESSES["ha"], ADDRESSES["hb"]
    on_one = {port: [p for p in range(37000, 37400) if choose(ha, hb, 6, p, port, 2) == 0][:6] for port in (7, 22)}
    assert not any(answered(lab, p, 22, ("ha", ha), hb) for p in on_one[22][:2])  # denied by the firewall's default
    instance = f"{lab}-f-fw@1"
    (leg,) = legs(instance)
    subprocess.run(["ip", "-n", instance, "link", "del", leg], check=True)
    assert [answered(lab, p, 22, ("ha", ha), hb) for p in on_one[22]] == [False] * 6
    assert not any(answered(lab, p, 7, ("ha", ha), hb) for p in on_one[7][:2])  # fails closed: dropped, not bypassed
    assert api.repair() and api.health().ok
    assert all(answered(lab, p, 7, ("ha", ha), hb) for p in on_one[7])
    assert not any(answered(lab, p, 22, ("ha", ha), hb) for p in on_one[22][:2])
