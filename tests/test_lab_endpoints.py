"""Endpoint services and endpoints with real packets: a central endpoint
reached from three hubs and through shares, overlapping consumers through
their own endpoints at once, DNS that answers each segment its own, policy
on the endpoint address, and what the provider sees (and never sees)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from engine.compile.endpoint_layout import layout
from lab import netns, services
from shell import main as program
from shell.loader import parse_config
from tests.configs import ENDPOINTS, TWIN_ENDPOINTS
from tests.paths import example

pytestmark = pytest.mark.lab

ETH_P_ALL = 0x0003


def built(make_lab: Any, text: str) -> Any:
    api = make_lab()
    api.set_candidate(parse_config(text))
    api.commit()
    return api


def connect(ns: str, dst: str, port: int, sport: int = 0, timeout: float = 2.0) -> socket.socket:
    sock = netns.socket_in(ns, socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.settimeout(timeout)
    sock.bind(("0.0.0.0", sport))
    sock.connect((dst, port))
    return sock


def http_get(ns: str, dst: str, port: int) -> bytes:
    sock = connect(ns, dst, port)
    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    sock.close()
    return data


@contextmanager
def watching(ns: str) -> Iterator[list[bytes]]:
    """Every IPv4 packet any interface of `ns` sees while the block runs."""
    seen: list[bytes] = []
    sock = netns.socket_in(ns, socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.settimeout(0.05)
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                frame = sock.recv(65535)
            except TimeoutError:
                continue
            if frame[12:14] == b"\x08\x00":
                seen.append(frame[14:])
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield seen
    finally:
        time.sleep(0.1)
        stop.set()
        reader.join()
        sock.close()


def test_example_through_the_program(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import new_lab_name

    lab = new_lab_name()
    try:
        assert program.main(["--lab", lab, "-f", str(example("private-endpoints.cli"))]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert "ok: 10.50.1.20 from aks1 (tcp port 443) is reachable" in out
    finally:
        program.main(["--lab", lab, "destroy"])
        assert not netns.list_names(lab + "-")
        assert not services.scan(services.marker(lab + "/"))


def test_consumers_on_three_hubs_reach_one_central_endpoint(make_lab: Any) -> None:
    api = built(make_lab, ENDPOINTS)
    lab = api.name
    eps = {ep.endpoint.name: ep for ep in layout(api.running).endpoints}
    page = f"endpoint-service objstore (http) on cxp east answers {eps['s3ep'].link}".encode()
    for host in ("e1", "w1", "n1"):  # hubs east, west, north of segment apps
        data = http_get(f"{lab}-h-{host}", "10.50.1.20", 443)
        assert data.startswith(b"HTTP/1.0 200") and page in data, (host, data)
        sock = connect(f"{lab}-h-{host}", "10.50.1.21", 9000)
        sock.sendall(f"hello from {host}".encode())
        assert sock.recv(100) == f"hello from {host}".encode()
        sock.close()
    # prod reaches it through its share, under the address the share's NAT gives it
    assert page in http_get(f"{lab}-h-p1", "100.64.50.20", 443)
    rows = {r["endpoint"]: r for r in api.endpoints()}
    assert rows["s3ep"]["connections"] >= 4 and rows["apiep"]["connections"] >= 3
    assert rows["s3ep"]["reached_by"] == ["apps", "partner (share eps-partner)", "prod as 100.64.50.20 (share eps-prod)"]
    routes = {(r["segment"], r["cxp"], r["prefix"]): r for r in api.routes() if r["origin"] == "endpoint"}
    assert all(r["installed"] for r in routes.values())
    assert routes[("prod", "west", "100.64.50.20/32")]["original_prefix"] == "10.50.1.20/32"
    assert {c for s, c, _p in routes if s == "apps"} == {"east", "west", "north"}


def test_no_path_times_out_and_never_reaches_the_provider(make_lab: Any) -> None:
    """partner has a route (its share imports the endpoints' subnet) but may
    not open connections: its SYNs are dropped on the way and time out; iso
    has no route at all. The provider, watched on every interface, sees
    nothing of either, while a consumer's connection is seen there."""
    api = built(make_lab, ENDPOINTS)
    lab = api.name
    with watching(f"{lab}-e-objstore") as seen:
        res = api.probe("10.50.1.20", "q1", "tcp", 443, timeout=1.0)
        assert not res.reachable and not res.refused, res  # dropped: it times out
        assert not api.probe("10.50.1.20", "i1", "tcp", 443, timeout=1.0).reachable
        with pytest.raises(OSError):
            connect(f"{lab}-h-q1", "10.50.1.20", 443, timeout=1.0)
    assert seen == []
    with watching(f"{lab}-e-objstore") as seen:
        assert api.probe("10.50.1.20", "n1", "tcp", 443).reachable
    assert any(pkt[9] == 6 for pkt in seen)  # the watcher does see what reaches the provider


def test_overlapping_consumers_through_two_endpoints_at_once(make_lab: Any) -> None:
    """alice and bill are both 10.1.1.10, each with its own endpoints at
    10.1.1.20/21 of the same services; at the same moment, from the same
    source port, each gets its own answer, and the provider sees each
    endpoint under its own address."""
    api = built(make_lab, TWIN_ENDPOINTS)
    lab = api.name
    eps = {ep.endpoint.name: ep for ep in layout(api.running).endpoints}
    socks = {h: connect(f"{lab}-h-{h}", "10.1.1.21", 7000, sport=41000) for h in ("alice", "bill")}
    for host, sock in socks.items():
        sock.sendall(f"token of {host}".encode())
    for host, sock in socks.items():
        assert sock.recv(100) == f"token of {host}".encode()
    peers = subprocess.run(["ip", "netns", "exec", f"{lab}-e-echo", "ss", "-Htn", "state", "established"],
                           capture_output=True, text=True, check=True).stdout
    assert f"{eps['echo-a'].link}:41000" in peers and f"{eps['echo-b'].link}:41000" in peers, peers
    pages = {h: http_get(f"{lab}-h-{h}", "10.1.1.20", 80) for h in ("alice", "bill")}
    assert f"answers {eps['store-a'].link}".encode() in pages["alice"]
    assert f"answers {eps['store-b'].link}".encode() in pages["bill"]
    # removing one endpoint cuts only its consumers
    api.set_candidate(parse_config("vpc wan-a\n no endpoint echo-a service echo address 10.1.1.21\n", base=api.candidate))
    api.commit()
    socks["bill"].sendall(b"still here")
    assert socks["bill"].recv(100) == b"still here"
    socks["alice"].settimeout(1.0)
    with pytest.raises(OSError):
        socks["alice"].sendall(b"gone?")
        if not socks["alice"].recv(100):
            raise ConnectionError("closed")
    assert not api.probe("10.1.1.21", "alice", "tcp", 7000, timeout=1.0).reachable
    assert api.probe("10.1.1.21", "bill", "tcp", 7000).reachable
    assert api.probe("10.1.1.20", "alice", "tcp", 80).reachable  # its other endpoint is untouched
    for sock in socks.values():
        sock.close()


def test_dig_from_two_segments_gets_each_its_own_answer(make_lab: Any) -> None:
    api = built(make_lab, ENDPOINTS)
    lab = api.name

    def dig(host: str, name: str, *extra: str) -> str:
        server = "100.64.50.53" if host == "p1" else "10.50.1.53"  # dns1 as each one reaches it
        rc, out = api.host_exec(host, ["dig", f"@{server}", f"{name}.{lab}.", "+short", "+time=1", "+tries=1", *extra])
        assert rc == 0, out
        return out.strip()

    assert dig("w1", "objstore") == "10.50.1.20" and dig("p1", "objstore") == "100.64.50.20"
    assert dig("w1", "dns1") == "10.50.1.53" and dig("p1", "dns1", "+tcp") == "100.64.50.53"
    assert dig("p1", "w1") == ""  # not prod's to reach
    pid = next(r["pid"] for r in api.services() if r["name"] == "ns")
    # an endpoint of its own in prod: prod is told that one from now on, without a restart
    api.set_candidate(parse_config("vpc prod-app\n subnet b 10.10.2.0/24\n endpoint local service objstore address 10.10.2.20\n",
                                   base=api.candidate))
    api.commit()
    assert dig("p1", "objstore") == "10.10.2.20" and dig("w1", "objstore") == "10.50.1.20"
    assert next(r["pid"] for r in api.services() if r["name"] == "ns") == pid
    assert b"answers" in http_get(f"{lab}-h-p1", "10.10.2.20", 443)
    # the views changed behind vpclab's back: found, put back, answered from again
    services.write_data(f"{lab}/endpoints/ns", '{"zone": "x", "views": []}')
    assert dig("w1", "objstore") == ""  # REFUSED: no view knows the asker
    assert ("service data", "ns") in {(r["kind"], r["name"]) for r in api.health().rows()}
    api.repair()
    assert api.health().ok and dig("w1", "objstore") == "10.50.1.20"


def test_policy_deny_on_the_endpoint_address_refuses_and_counts(make_lab: Any) -> None:
    """The segment policy judges the endpoint's address like any other: in
    the segment routers, and with micro-segmentation in the VPC router for
    another subnet of its VPC (its own subnet is never judged)."""
    extra = ("segment apps\n policy 10 deny tcp any host 10.50.1.20 eq 443\n"
             "vpc endpoints\n micro-segmentation\n subnet b 10.50.2.0/24\n host b1 10.50.2.10\n")
    api = built(make_lab, ENDPOINTS + extra)
    lab = api.name
    with watching(f"{lab}-e-objstore") as seen:
        assert not api.probe("10.50.1.20", "w1", "tcp", 443, timeout=1.0).reachable
        after_w1 = {r["seq"]: r["packets"] for r in api.policy_hits("segment", "apps")}[10]
        assert not api.probe("10.50.1.20", "b1", "tcp", 443, timeout=1.0).reachable  # judged in the VPC router
    assert seen == []
    hits = {r["seq"]: r for r in api.policy_hits("segment", "apps")}
    assert after_w1 >= 1 and hits[10]["packets"] > after_w1
    assert api.probe("10.50.1.21", "w1", "tcp", 9000).reachable  # the other endpoint's address is not denied
    assert api.probe("10.50.1.21", "b1", "tcp", 9000).reachable
    assert api.probe("10.50.1.20", "dns1", "tcp", 443).reachable  # its own subnet


def test_trace_and_flows_know_endpoints(make_lab: Any) -> None:
    """The model's walk through a NAT'ing share, the endpoint's translation
    and the provider agrees with the real packet, and so do its refusals;
    `show flows` names the endpoint service as the application."""
    extra = ("segment apps\n policy 10 deny tcp 10.50.2.0/24 host 10.50.1.20 eq 443\n"
             "vpc endpoints\n micro-segmentation\n subnet b 10.50.2.0/24\n host b1 10.50.2.10\n")
    api = built(make_lab, ENDPOINTS + extra)
    provider = layout(api.running).providers["objstore"]
    cases = [("100.64.50.20", "p1", "tcp", 443, True), ("10.50.1.21", "n1", "tcp", 9000, True), ("10.50.1.20", "b1", "tcp", 443, False),
             ("10.50.1.20", "q1", "tcp", 443, False), (provider, "dns1", "tcp", 443, False), ("10.50.1.20", "w1", "icmp", None, True)]
    for target, host, proto, port, reachable in cases:
        result = api.trace(target, host, proto, port)
        assert result.agree, (target, host, result.as_dict())
        assert (result.walk.outcome.verdict == "reachable") == reachable, (target, host, result.walk.outcome)
    sock = connect(f"{api.name}-h-p1", "100.64.50.20", 443)
    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
    sock.recv(10)
    rows = [r for r in api.flows() if r["src"] == "10.10.1.10" and r["dport"] == 443]
    sock.close()
    assert rows and rows[0]["application"] == "objstore (endpoint-service)", rows
    assert rows[0]["nat"]["dst"] == provider and [h["node"] for h in rows[0]["path"]][-1] == "vpc endpoints"


def test_an_endpoint_broken_behind_vpclabs_back_is_found_and_repaired(make_lab: Any) -> None:
    api = built(make_lab, TWIN_ENDPOINTS)
    lab = api.name
    assert api.health().ok, api.health().rows()
    subprocess.run(["ip", "-n", f"{lab}-v-wan-a", "link", "del", "pl.objstore"], check=True)
    assert not api.probe("10.1.1.20", "alice", "tcp", 80, timeout=1.0).reachable
    assert api.probe("10.1.1.20", "bill", "tcp", 80).reachable  # the other tenant's endpoint is untouched
    problems = {(r["namespace"], r["kind"], r["name"]) for r in api.health().rows()}
    assert (f"{lab}-v-wan-a", "link", "pl.objstore") in problems and (f"{lab}-e-objstore", "link", "ep.wan-a") in problems
    api.repair()
    assert api.health().ok, api.health().rows()
    assert api.probe("10.1.1.20", "alice", "tcp", 80).reachable
