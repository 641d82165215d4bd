"""The internet edge with real packets: SNAT seen at the public host, two
tenants with one address at once, the load balancer's spread, and no way in
but the load balancer; each with and without a firewall inspecting the edge."""

from __future__ import annotations

import socket
import threading
import uuid
from typing import Any

import pytest

from engine.errors import VpclabError
from engine.jhash import choose
from lab import conntrack, netns
from shell.loader import parse_config
from tests.test_lab_firewall import connect

pytestmark = pytest.mark.lab

SNAT, VIP, PUBLIC = "198.51.100.1", "198.51.100.20", "203.0.113.10"
EDGE = """\
segment t1
!
segment t2
!
vpc v1
 segment t1
 group lan
 cidr 10.80.0.0/16
 subnet s 10.80.1.0/24
 host alice 10.80.1.10
 host web1 10.80.1.20
 service www http on web1 port 80
!
vpc v2
 segment t2
 group lan
 cidr 10.80.0.0/16
 subnet s 10.80.1.0/24
 host bob 10.80.1.10
 host web2 10.80.1.30
 service www http on web2 port 80
!
internet inet
 segment t1
 segment t2
 snat-address 198.51.100.1
 public-host pub 203.0.113.10
 load-balancer lb vip 198.51.100.20 port 80 backend web1 backend web2
"""
FIREWALL = """ inspect firewall fw
!
firewall fw
 instances 2
 zone lan segment t1 group lan
 zone lan segment t2 group lan
 zone net internet inet
 rule 10 permit tcp from lan to net
 rule 20 permit tcp from net to lan eq 80
 rule 30 permit icmp from lan to net
"""


@pytest.fixture(params=["direct", "inspected"])
def edge(request: pytest.FixtureRequest, make_lab: Any) -> Any:
    api = make_lab()
    text = EDGE + (FIREWALL if request.param == "inspected" else "!\n")
    api.set_candidate(parse_config(text))
    api.commit()
    return api


def http_get(sock: socket.socket) -> bytes:
    """Send a GET on a connected socket; the whole answer."""
    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
    page = b""
    while chunk := sock.recv(4096):
        page += chunk
    sock.close()
    return page


def _listen(ns: str, port: int) -> socket.socket:
    server = netns.socket_in(ns, socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((PUBLIC, port))
    server.listen(16)
    server.settimeout(5)
    return server


def test_egress_is_snat_and_two_tenants_with_one_address_browse_at_once(edge: Any) -> None:
    lab = edge.name
    server = _listen(f"{lab}-p-pub", 9000)
    peers: list[tuple[str, int]] = []

    def serve() -> None:
        for _ in range(2):
            conn, peer = server.accept()
            peers.append(peer)
            data = conn.recv(100)
            conn.sendall(data + f" from {peer[0]}".encode())
            threading.Thread(target=lambda c=conn: (c.recv(10), c.close()), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    barrier = threading.Barrier(2)
    got: dict[str, bytes] = {}

    def talk(host: str) -> None:
        sock = connect(f"{lab}-h-{host}", "10.80.1.10", 41000, PUBLIC, 9000)  # the same address and port in both tenants
        barrier.wait(timeout=5)
        payload = f"{host}:{uuid.uuid4().hex}".encode()
        sock.sendall(payload)
        got[host] = sock.recv(200)
        barrier.wait(timeout=5)  # both connections open at once until here
        sock.close()

    talkers = [threading.Thread(target=talk, args=(h,)) for h in ("alice", "bob")]
    for t in talkers:
        t.start()
    for t in talkers:
        t.join(10)
    thread.join(5)
    server.close()
    assert set(got) == {"alice", "bob"}
    for host, data in got.items():
        assert data.startswith(host.encode()) and data.endswith(f"from {SNAT}".encode())
    assert [p[0] for p in peers] == [SNAT, SNAT] and peers[0][1] != peers[1][1]  # one address, two connections
    # ping and the public host's own web server, by name
    assert edge.probe("pub", "alice", "icmp").reachable
    res = edge.probe("pub", "bob", "tcp", 80)
    assert res.reachable and res.arrived, res
    routes = {(r["segment"], r["prefix"]): r for r in edge.routes()}
    assert routes[("t1", "0.0.0.0/0")]["origin"] == "internet" and routes[("t1", "0.0.0.0/0")]["installed"]


def test_the_load_balancer_spreads_and_is_the_only_way_in(edge: Any) -> None:
    lab = edge.name
    served: dict[str, int] = {}
    for sport in range(42000, 42020):
        page = http_get(connect(f"{lab}-p-pub", PUBLIC, sport, VIP, 80))
        host = "web1" if b"host web1" in page else "web2" if b"host web2" in page else "?"
        served[host] = served.get(host, 0) + 1
        assert host == ("web1", "web2")[choose(PUBLIC, VIP, 6, sport, 80, 2)], (sport, page)  # as the model predicts
    assert set(served) == {"web1", "web2"}, served
    # show flows: each connection from the internet in the segment it entered, the backend's
    rows = [r for r in edge.flows(address=VIP) if r["src"] == PUBLIC and 42000 <= r["sport"] < 42020]
    assert len(rows) == 20 and all(r["path"][0]["node"] == "internet inet" for r in rows), rows
    assert {r["segment"] for r in rows} == {"t1", "t2"} and all(r["segment"] == r["path"][-1]["node"].split()[1] for r in rows)
    # a public host's flows are those of its address (it used to be "host pub does not exist")
    of_pub = edge.flows(host="pub")
    assert {(r["src"], r["sport"]) for r in rows} <= {(r["src"], r["sport"]) for r in of_pub}
    assert all(PUBLIC in (r["src"], r["dst"]) for r in of_pub)
    with pytest.raises(VpclabError, match="host pub is a public host, its flows are those of address 203.0.113.10"):
        edge.flows(host="pub", address=VIP)
    # nothing else gets in: the lab's private addresses, other ports of the VIP, the SNAT address
    for target, port in (("alice", 22), ("web1", 80), ("bob", 80)):
        res = edge.probe(target, "pub", "tcp", port)
        assert not res.reachable and res.arrived is False, (target, res)
    assert not edge.probe("web1", "pub", "icmp").reachable
    assert not edge.probe(VIP, "pub", "tcp", 22).reachable
    assert not edge.probe(SNAT, "pub", "tcp", 80).reachable
    # the tenants still reach out
    assert edge.probe("pub", "web2", "tcp", 80).reachable


def test_an_inspecting_firewall_sees_both_ways_and_decides(make_lab: Any) -> None:
    api = make_lab()
    api.set_candidate(parse_config(EDGE + FIREWALL.replace(" rule 30 permit icmp from lan to net\n", "")))
    api.commit()
    lab = api.name
    socks = [connect(f"{lab}-h-alice", "10.80.1.10", p, PUBLIC, 80) for p in range(43000, 43010)]
    for s in socks:
        assert b"public host pub" in http_get(s)
    seen = {n: [e for e in conntrack.read(f"{lab}-f-fw@{n}") if e["orig"].get("dport") == 80 and e["orig"].get("src") == "10.80.1.10"]
            for n in (1, 2)}
    assert sum(len(v) for v in seen.values()) == 10 and all(seen.values())
    for n, entries in seen.items():
        for e in entries:
            assert e["reply"]["packets"] > 0  # the instance saw the replies too
            assert n == choose("10.80.1.10", PUBLIC, 6, e["orig"]["sport"], 80, 2) + 1
    assert not api.probe("pub", "alice", "icmp").reachable  # no rule lets icmp out: the default denies
    hits = {r["seq"]: r["packets"] for r in api.policy_hits("firewall", "fw")}
    assert hits[10] >= 10 and hits[None] >= 1
    rows = api.flows(firewall="fw")
    assert rows and all(r["firewall_instance"] in (1, 2) for r in rows)
