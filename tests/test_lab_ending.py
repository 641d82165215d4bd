"""A commit ends the connections it takes the path of, or now refuses, with
real connections: removed shares, endpoints and internet edges (deleted
on every router they crossed), removed firewall instances and new firewall
rules (marked refused, so that no packet of theirs passes, whichever side
speaks first). Connections the commit leaves a path and admits go on."""

from __future__ import annotations

import socket
from dataclasses import replace
from typing import Any

import pytest

from engine.jhash import choose
from lab import conntrack, netns
from tests.test_lab_firewall import echoes
from tests.test_lab_shares import built, tcp_connect

pytestmark = pytest.mark.lab

REMOVALS = """\
segment corp
!
segment prov
!
endpoint-service store
 kind tcp-echo
 port 7000
!
endpoint-service store2
 kind tcp-echo
 port 7001
!
vpc va
 segment corp
 cidr 10.71.0.0/16
 subnet s 10.71.1.0/24
 host a1 10.71.1.10
 endpoint ep service store address 10.71.1.21
 endpoint ep2 service store2 address 10.71.1.22
!
vpc vb
 segment corp
 cidr 10.72.0.0/16
 subnet s 10.72.1.0/24
 host b1 10.72.1.10
 service echo tcp-echo on b1 port 7
!
vpc vp
 segment prov
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
 end-b segment prov prefix-list P
 direction a-to-b
 nat end-a 10.71.1.0/24 to 100.64.9.0/24
!
internet inet
 segment corp
 snat-address 198.51.100.1
 public-host pub 203.0.113.10
!
"""
A1 = "10.71.1.10"


def silent(sock: socket.socket, payload: bytes = b"anyone?") -> bool:
    """Nothing comes back within half a second (the connection passes nothing)."""
    sock.settimeout(0.5)
    try:
        sock.sendall(payload)
        return not sock.recv(100)
    except OSError:
        return True


def listed(api: Any) -> set[tuple[str, int]]:
    """(destination, port) of every TCP connection `show flows` lists."""
    return {(r["dst"], r["dport"]) for r in api.flows(protocol="tcp")}


def test_a_commit_deletes_the_connections_across_what_it_removes(make_lab: Any) -> None:
    api = built(make_lab, REMOVALS)
    ns = f"{api.name}-h-a1"
    kept = tcp_connect(ns, A1, 0, "10.72.1.10", 7)  # inside the segment: nothing of its path goes
    shared = tcp_connect(ns, A1, 0, "10.74.1.10", 7)  # across the share (NAT'd to 100.64.9.10)
    endpoint = tcp_connect(ns, A1, 0, "10.71.1.21", 7000)  # through the endpoint to its provider
    web = tcp_connect(ns, A1, 0, "203.0.113.10", 80)  # through the internet edge (SNAT)
    socks = [kept, shared, endpoint, web]
    try:
        web.sendall(b"GET / HTTP/1.0\r\n")  # the request left unfinished: the connection stays open
        assert all(echoes(s, b"before") for s in (kept, shared, endpoint))
        rows = api.flows(protocol="tcp")  # one row each, from a1's VPC router (it tracks: it has endpoints)
        assert sorted((r["dst"], r["dport"]) for r in rows) == [("10.71.1.21", 7000), ("10.72.1.10", 7), ("10.74.1.10", 7), ("203.0.113.10", 80)]
        assert {r["path"][0]["node"] for r in rows} == {"vpc va"}, rows

        api.set_candidate(api.running.remove("resource-share", "link"))
        result = api.commit()
        assert [m for m in result.messages if m.startswith("ended ")] == [
            "ended 1 connection(s) across what the commit removed: share link to segment prov (1)"], result.messages
        assert ("10.74.1.10", 7) not in listed(api) and ("10.72.1.10", 7) in listed(api)
        for router in ("corp", "prov"):  # deleted on both routers it crossed, with its NAT binding
            assert not [e for e in conntrack.read(f"{api.name}-s-{router}@core") if "100.64.9.10" in str(e)], router
        with pytest.raises(OSError):  # and a new connection across it finds no way (refused or timed out)
            tcp_connect(ns, A1, 0, "10.74.1.10", 7).close()
        # listed as what it is: an attempt that got no answer (the corp router sent it to the
        # internet edge by its default route, which has no way to 10.74/16), never the old one
        attempts = [r for r in api.flows(protocol="tcp") if r["dst"] == "10.74.1.10"]
        assert all(r["state"] == "SYN_SENT" and r["packets_in"] == 0 and r["sport"] != shared.getsockname()[1] for r in attempts), attempts

        vpc = api.running.require("vpc", "va")
        api.set_candidate(api.running.put("vpc", replace(vpc, endpoints=vpc.endpoints[1:])))  # ep goes, ep2 stays
        result = api.commit()
        assert any(m.startswith("ended 1 connection(s) across what the commit removed: private link to endpoint-service store")
                   for m in result.messages), result.messages  # fmt: skip
        assert ("10.71.1.21", 7000) not in listed(api)

        api.set_candidate(api.running.remove("internet", "inet"))
        result = api.commit()
        # the web connection and the unanswered attempt to 10.74.1.10 (it went out by the edge's leg)
        assert "ended 2 connection(s) across what the commit removed: internet inet (2)" in result.messages, result.messages
        assert listed(api) == {("10.72.1.10", 7)}
        assert echoes(kept, b"still here")  # what the commits left a path goes on
        # the others pass nothing (a next packet of theirs is a new connection to the kernel,
        # routed as the lab is now: nowhere it could be answered)
        assert silent(shared) and silent(endpoint) and silent(web, b"\r\n")
        assert not [m for m in api.commit().messages if m.startswith("ended ")]  # nothing changed: nothing ended
    finally:
        for s in socks:
            s.close()


HAIRPIN = """\
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
!
vpc app
 segment corp
 group app
 cidr 10.72.0.0/16
 subnet s 10.72.1.0/24
 host a1 10.72.1.10
 service echo tcp-echo on a1 port 7
 service other tcp-echo on a1 port 2222
!
firewall fw
 instances 2
 zone web segment corp group web
 zone app segment corp group app
 rule 10 permit tcp from web to app eq 7
 rule 20 permit tcp from web to app eq 2222
 rule 30 permit tcp from web to app eq 900
 rule 40 permit icmp from any to any
!
"""
W1, APP = "10.71.1.10", "10.72.1.10"


def ports_on(instance: int, dport: int, count: int, start: int) -> list[int]:
    """Source ports whose connections from w1 the kernel's jhash puts on `instance` of 2."""
    return [p for p in range(start, start + 200) if choose(W1, APP, 6, p, dport, 2) + 1 == instance][:count]


def test_removed_instances_and_new_firewall_rules_refuse_what_they_held(make_lab: Any) -> None:
    """Instance 2 goes: its connections are marked refused (the firewall's
    state of them went with it); a rule change refuses the connections it
    no longer permits, in both directions, and leaves the others alone."""
    api = built(make_lab, HAIRPIN)
    lab = api.name
    ns = f"{lab}-h-w1"
    server = netns.socket_in(f"{lab}-h-a1", socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((APP, 900))
    server.listen(4)
    first, second = ports_on(1, 7, 3, 41000), ports_on(2, 7, 3, 41000)
    on_one = [tcp_connect(ns, W1, p, APP, 7) for p in first]
    on_two = [tcp_connect(ns, W1, p, APP, 7) for p in second]
    other = tcp_connect(ns, W1, ports_on(1, 2222, 1, 42000)[0], APP, 2222)
    client = tcp_connect(ns, W1, ports_on(1, 900, 1, 43000)[0], APP, 900)
    server.settimeout(2)
    peer, _ = server.accept()
    peer.settimeout(1)
    socks = [*on_one, *on_two, other, client, peer, server]
    try:
        assert all(echoes(s, b"before") for s in [*on_one, *on_two, other])
        client.sendall(b"hi")
        assert peer.recv(10) == b"hi"
        rows = api.flows(firewall="fw")
        assert {r["firewall_instance"] for r in rows} == {1, 2} and len(rows) == 8

        fw = api.running.require("firewall", "fw")
        api.set_candidate(api.running.put("firewall", replace(fw, instances=1)))
        result = api.commit()
        assert "ended 3 connection(s) across what the commit removed: firewall fw instance 2 (segment corp) (3)" in result.messages, \
            result.messages  # fmt: skip
        assert all(echoes(s, b"on instance 1") for s in on_one)
        assert all(silent(s) for s in on_two)  # marked: not picked up again by instance 1, nor around the firewall
        assert {r["sport"] for r in api.flows(firewall="fw", port=7)} == set(first)

        rules = tuple(replace(r, action="deny") if r.seq == 30 else r for r in fw.rules if r.seq != 10)
        api.set_candidate(api.running.put("firewall", replace(fw, instances=1, rules=rules)))
        result = api.commit()
        assert [m for m in result.messages if m.startswith("ended ")] == ["ended 4 connection(s) the new rules of firewall fw refuse"], \
            result.messages  # fmt: skip
        assert all(silent(s) for s in on_one)  # port 7: no rule permits it now (the default denies)
        assert echoes(other, b"2222 is still permitted")
        peer.sendall(b"server first")  # the server's side must not revive it
        with pytest.raises((socket.timeout, ConnectionError, OSError)):
            if not client.recv(20):
                raise ConnectionError("closed")
        assert {(r["dport"], r["firewall_instance"]) for r in api.flows(firewall="fw")} == {(2222, 1)}
        api.clear_flows()  # forgets the live connections, never the refused ones (they would be picked up again)
        assert echoes(other, b"picked up again") and silent(client) and all(silent(s) for s in [*on_one, *on_two])
    finally:
        for s in socks:
            s.close()


LEGS = """\
segment corp
!
segment dev
!
vpc va
 segment corp
 cidr 10.71.0.0/16
 subnet s 10.71.1.0/24
 host a1 10.71.1.10
!
vpc vb
 segment corp
 cidr 10.72.0.0/16
 subnet s 10.72.1.0/24
 host b1 10.72.1.10
 service echo tcp-echo on b1 port 7
!
vpc vd
 segment dev
 cidr 10.73.0.0/16
 subnet s 10.73.1.0/24
 host d1 10.73.1.10
!
internet inet
 segment corp
 segment dev
 snat-address 198.51.100.1
 public-host pub 203.0.113.10
!
"""


def test_an_edge_leg_and_a_vpc_removed_end_their_connections_only(make_lab: Any) -> None:
    """The edge stops serving corp: a1's web connection ends, d1's (dev's
    leg) goes on and is answered; vb goes: a1's connection to b1 ends."""
    api = built(make_lab, LEGS)
    a_ns, d_ns = f"{api.name}-h-a1", f"{api.name}-h-d1"
    a_web = tcp_connect(a_ns, A1, 0, "203.0.113.10", 80)
    d_web = tcp_connect(d_ns, "10.73.1.10", 0, "203.0.113.10", 80)
    to_b = tcp_connect(a_ns, A1, 0, "10.72.1.10", 7)
    socks = [a_web, d_web, to_b]
    try:
        for s in (a_web, d_web):
            s.sendall(b"GET / HTTP/1.0\r\n")  # unfinished: the connection stays open
        assert echoes(to_b, b"before")
        assert sorted((r["src"], r["dst"]) for r in api.flows(protocol="tcp")) == [
            (A1, "10.72.1.10"), (A1, "203.0.113.10"), ("10.73.1.10", "203.0.113.10")]  # fmt: skip

        edge = api.running.require("internet", "inet")
        api.set_candidate(api.running.put("internet", replace(edge, segments=("dev",))))
        result = api.commit()
        ended = [m for m in result.messages if m.startswith("ended ")]
        assert ended == ["ended 1 connection(s) across what the commit removed: internet inet (1)"], result.messages  # corp's leg
        assert sorted((r["src"], r["dst"]) for r in api.flows(protocol="tcp")) == [(A1, "10.72.1.10"), ("10.73.1.10", "203.0.113.10")]
        d_web.sendall(b"\r\n")  # the request finished: dev's leg still answers it
        d_web.settimeout(3)
        assert d_web.recv(12).startswith(b"HTTP/1."), "dev's connection through the edge should survive"

        api.set_candidate(api.running.remove("vpc", "vb"))
        result = api.commit()
        assert "ended 1 connection(s) across what the commit removed: vpc vb (1)" in result.messages, result.messages
        assert [(r["src"], r["dst"]) for r in api.flows(protocol="tcp") if r["src"] == A1] == []
        assert silent(a_web, b"\r\n")
    finally:
        for s in socks:
            s.close()
