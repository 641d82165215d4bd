"""Firewalls on longer paths: an inspected share keeps its direction and NAT,
and east-west inspection works from other hubs (over the backbone, with
reply-to), including a connection between two VPCs of one remote hub."""

from __future__ import annotations

import time
from typing import Any

import pytest

from lab import conntrack
from shell.loader import parse_config
from tests.test_lab_firewall import connect, echoes

pytestmark = pytest.mark.lab

SHARE = """\
segment prod
!
segment shared
!
vpc app
 segment prod
 group apps
 cidr 10.10.0.0/16
 subnet s 10.10.1.0/24
 host app1 10.10.1.10
 service back tcp-echo on app1 port 7
!
vpc svc
 segment shared
 group svcs
 cidr 10.4.0.0/16
 subnet s 10.4.1.0/24
 host ad1 10.4.1.10
 service ldap tcp-echo on ad1 port 389
 service other tcp-echo on ad1 port 7
!
prefix-list P seq 5 permit 10.10.0.0/16
prefix-list S seq 5 permit 10.4.1.0/24
!
firewall fw
 instances 2
 zone apps segment prod group apps
 zone svcs segment shared group svcs
 rule 10 permit tcp from apps to svcs eq 389
 rule 20 deny tcp from apps to svcs eq 7 log
 rule 30 permit tcp from svcs to apps eq 7
!
resource-share s1
 end-a segment prod prefix-list P
 end-b segment shared prefix-list S
 direction a-to-b
 nat end-a 10.10.0.0/16 to 100.70.0.0/16
 inspect firewall fw
!
"""


def _held(lab: str, instances: int, **match: Any) -> dict[int, list[dict[str, Any]]]:
    return {n: [e for e in conntrack.read(f"{lab}-f-fw@{n}") if all(e["orig"].get(k) == v for k, v in match.items())]
            for n in range(1, instances + 1)}


def test_an_inspected_share_keeps_direction_and_nat(make_lab: Any) -> None:
    api = make_lab()
    api.set_candidate(parse_config(SHARE))
    api.commit()
    lab = api.name
    socks = [connect(f"{lab}-h-app1", "10.10.1.10", p, "10.4.1.10", 389) for p in range(34000, 34010)]
    try:
        assert all(echoes(s, b"bind") for s in socks)
        held = _held(lab, 2, dport=389, dst="10.4.1.10")
        # the wire carries end-a's translated source: zones follow the NAT
        assert sum(len(v) for v in held.values()) == 10 and all(held.values())
        assert all(e["orig"]["src"] == "100.70.1.10" and e["reply"]["packets"] > 0 for v in held.values() for e in v)
    finally:
        for s in socks:
            s.close()
    res = api.probe("ad1", "app1", "tcp", 7)
    assert not res.reachable and res.arrived is False, res  # the firewall denies port 7 (rule 20)
    res = api.probe("100.70.1.10", "ad1", "tcp", 7)
    assert not res.reachable and res.arrived is False, res  # the firewall lets it (rule 30), the share's direction not
    hits = {(r["scope"], r["seq"]): r["packets"] for r in api.policy_hits()}
    assert hits[("firewall", 20)] >= 1 and hits[("firewall", 30)] >= 1 and hits[("share", None)] >= 1
    flows = [r for r in api.flows(share="s1") if r["dport"] == 389]
    assert flows and all(r["firewall"] == "fw" for r in flows)
    stats = api.share_statistics("s1")
    assert stats[0]["packets"] > 0 and stats[1]["packets"] > 0  # summed over the wire's legs


CROSS_HUB = """\
cxp east
!
cxp west
!
segment corp
 policy 10 inspect fw ip any any
!
vpc a
 cxp east
 segment corp
 cidr 10.21.0.0/16
 subnet s 10.21.1.0/24
 host ha 10.21.1.10
 service echo tcp-echo on ha port 7
!
vpc b
 cxp east
 segment corp
 cidr 10.22.0.0/16
 subnet s 10.22.1.0/24
 host hb 10.22.1.10
 service echo tcp-echo on hb port 7
!
vpc c
 segment corp
 cidr 10.23.0.0/16
 subnet s 10.23.1.0/24
 host hc 10.23.1.10
 service echo tcp-echo on hc port 7
!
vpc d
 cxp west
 segment corp
 cidr 10.24.0.0/16
 subnet s 10.24.1.0/24
 host hd 10.24.1.10
 service echo tcp-echo on hd port 7
!
firewall fw
 instances 2
 zone corp segment corp
 rule 10 permit tcp from corp to corp eq 7
 rule 20 permit icmp from any to any
!
"""
ADDRESSES = {"ha": "10.21.1.10", "hb": "10.22.1.10", "hc": "10.23.1.10", "hd": "10.24.1.10"}
HUBS = {"ha": "east", "hb": "east", "hc": "core", "hd": "west"}


def crossing(src: str, dst: str, instance: int) -> list[str]:
    """The routers (and the firewall instance) a connection from src to dst
    crosses: its own hub's, the firewall's hub (core, where it hairpins:
    core, the instance, core again, as trace shows it), and the
    destination's hub when that is not core (a router on core's far side
    crossed twice shows twice)."""
    out = [f"segment corp cxp {HUBS[src]}"] if HUBS[src] != "core" else []
    out += ["segment corp cxp core", f"firewall fw instance {instance}", "segment corp cxp core"]
    return out + ([f"segment corp cxp {HUBS[dst]}"] if HUBS[dst] != "core" else [])


@pytest.mark.parametrize("src, dst", [("ha", "hb"), ("ha", "hc"), ("hc", "ha"), ("ha", "hd"), ("hd", "hb")])
def test_east_west_from_other_hubs_goes_through_the_firewall_both_ways(make_lab: Any, src: str, dst: str) -> None:
    api = make_lab()
    api.set_candidate(parse_config(CROSS_HUB))
    api.commit()
    lab = api.name
    sock = connect(f"{lab}-h-{src}", ADDRESSES[src], 35000, ADDRESSES[dst], 7)
    try:
        assert echoes(sock, b"across hubs") and echoes(sock, b"and again")
        time.sleep(0.5)  # the last delayed ACK has gone by: counters stand still while they are compared
        held = _held(lab, 2, src=ADDRESSES[src], dst=ADDRESSES[dst], dport=7)
        entries = [e for v in held.values() for e in v]
        assert len(entries) == 1 and entries[0]["reply"]["packets"] >= 2, held  # one instance saw both directions
        # show flows: one row, its hops in the order the packets went, entering by the source's VPC
        rows = [r for r in api.flows(port=7) if r["sport"] == 35000 and r["src"] == ADDRESSES[src]]
        instance = next(n for n, v in held.items() if v)
        assert len(rows) == 1 and [h["node"] for h in rows[0]["path"]] == crossing(src, dst, instance), rows
        assert rows[0]["path"][0]["ingress"] == f"v.{src[1]}" and rows[0]["firewall"] == "fw" and rows[0]["rule"] == "firewall fw 10"
        # each packet counted once, as the instance counted it (core forwards each twice, a router crossed twice too)
        once = entries[0]["orig"]["packets"], entries[0]["orig"]["bytes"], entries[0]["reply"]["packets"], entries[0]["reply"]["bytes"]
        assert (rows[0]["packets_out"], rows[0]["bytes_out"], rows[0]["packets_in"], rows[0]["bytes_in"]) == once, rows
    finally:
        sock.close()
    assert api.probe(dst, src, "icmp").reachable
    res = api.probe(dst, src, "tcp", 22)
    assert not res.reachable and res.arrived is False  # no rule for 22: the firewall's default denies


TWO_FIREWALLS = """\
cxp east
!
segment prod
 policy 10 inspect fw1 ip any any
!
segment shared
!
vpc app
 segment prod
 cidr 10.10.0.0/16
 subnet s 10.10.1.0/24
 host app1 10.10.1.10
!
vpc app2
 cxp east
 segment prod
 cidr 10.12.0.0/16
 subnet s 10.12.1.0/24
 host app2 10.12.1.10
!
vpc svc
 cxp east
 segment shared
 cidr 10.4.0.0/16
 subnet s 10.4.1.0/24
 host ad1 10.4.1.10
 service ldap tcp-echo on ad1 port 389
 service other tcp-echo on ad1 port 7
!
prefix-list P seq 5 permit 10.10.0.0/16
prefix-list S seq 5 permit 10.4.1.0/24
!
firewall fw1
 instances 2
 zone prod segment prod
 rule 10 permit ip from any to any
!
firewall fw2
 cxp east
 instances 2
 zone apps segment prod
 zone svcs segment shared
 rule 10 permit tcp from apps to svcs eq 389
!
resource-share s1
 end-a segment prod prefix-list P
 end-b segment shared prefix-list S
 inspect firewall fw2
!
"""


def test_a_connection_from_another_hub_enters_the_share_wire_by_its_hash(make_lab: Any) -> None:
    """prod's router on east is a detour of fw1 (it answers what comes from
    core back over the backbone) and the end of s1's wire through fw2: a
    connection from app1 on core arriving over the backbone is pinned to
    the fw2 instance its hash picks, not kept out by the detour's reply-to."""
    from engine.jhash import choose

    api = make_lab()
    api.set_candidate(parse_config(TWO_FIREWALLS))
    api.commit()
    lab = api.name
    socks = [connect(f"{lab}-h-app1", "10.10.1.10", p, "10.4.1.10", 389) for p in range(36000, 36020)]
    try:
        assert all(echoes(s, b"bind") for s in socks)
        by_instance = {n: {e["orig"]["sport"] for e in conntrack.read(f"{lab}-f-fw2@{n}") if e["orig"].get("dport") == 389} for n in (1, 2)}
        assert by_instance[1] and by_instance[2], by_instance
        for n, ports in by_instance.items():
            assert all(choose("10.10.1.10", "10.4.1.10", 6, p, 389, 2) + 1 == n for p in ports)
    finally:
        for s in socks:
            s.close()
    assert not api.probe("ad1", "app1", "tcp", 7).reachable  # fw2 has no rule for 7: its default denies
    assert api.trace("ad1", "app1", "tcp", 389).agree
    assert api.trace("app2", "app1", "tcp", 22).agree  # east-west across hubs through fw1


SAME_HUB = """\
segment spokes
 policy 10 inspect fw ip any any
!
vpc one
 segment spokes
 group intranet
 cidr 10.40.0.0/16
 subnet a 10.40.1.0/24
 host h1 10.40.1.10
!
vpc two
 segment spokes
 group intranet
 cidr 10.41.0.0/16
 subnet a 10.41.1.0/24
 host h2 10.41.1.10
 service echo tcp-echo on h2 port 7
!
firewall fw
 instances 1
 zone intranet segment spokes group intranet
 rule 10 permit tcp from intranet to intranet eq 7
!
"""


def test_a_hairpin_on_the_firewalls_hub_counts_once_and_shows_traces_hops(make_lab: Any) -> None:
    """The segment router hairpins the connection through the instance on its
    own hub: it forwards every packet twice (to the instance and back) and its
    conntrack counts both, so the row counts as the instance does, and its
    path is trace's: the router, the instance by its own leg, the router again."""
    api = make_lab()
    api.set_candidate(parse_config(SAME_HUB))
    api.commit()
    lab = api.name
    payload = b"x" * 20000
    sock = connect(f"{lab}-h-h1", "10.40.1.10", 36000, "10.41.1.10", 7)
    try:
        assert echoes(sock, payload)
        time.sleep(0.5)  # the last delayed ACK has gone by: counters stand still while they are compared
        rows = [r for r in api.flows(port=7) if r["sport"] == 36000]
        held = _held(lab, 1, src="10.40.1.10", sport=36000)[1]
    finally:
        sock.close()
    assert len(rows) == 1 and len(held) == 1, (rows, held)
    row, inst = rows[0], held[0]
    counted = (row["packets_out"], row["bytes_out"], row["packets_in"], row["bytes_in"])
    assert counted == (inst["orig"]["packets"], inst["orig"]["bytes"], inst["reply"]["packets"], inst["reply"]["bytes"]), (row, inst)
    assert len(payload) < row["bytes_out"] < 2 * len(payload) and len(payload) < row["bytes_in"] < 2 * len(payload), row
    # the hops show flows reads (routers and the firewall) are trace's, legs and all
    predicted = api.trace("h2", "h1", "tcp", 7).as_dict()["predicted"]
    shape = [(h["node"], h["kind"], h["ingress"], h["egress"]) for h in predicted if h["kind"] in ("segment-router", "firewall")]
    assert [(h["node"], h["kind"], h["ingress"], h["egress"]) for h in row["path"]] == shape, (row["path"], predicted)
    assert [n for n, *_ in shape] == ["segment spokes cxp core", "firewall fw instance 1", "segment spokes cxp core"]
    text = api.flow_view(port=7)
    assert any("spokes@core > firewall fw > spokes@core" in " ".join(c) for c in text.cells()), list(text.cells())
