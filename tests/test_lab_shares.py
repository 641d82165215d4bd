"""Resource shares, NAT and services with real packets."""

from __future__ import annotations

import socket
import subprocess
import textwrap
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from engine.errors import ValidationError
from lab import netns, services
from shell import main as program
from shell.loader import parse_config
from tests.configs import PORTAL
from tests.paths import example

pytestmark = pytest.mark.lab


SHARED = textwrap.dedent(
    """\
    segment prod
    !
    segment nonprod
    !
    segment shared
    !
    segment iso
    !
    vpc svc
     segment shared
     cidr 10.4.0.0/16
     subnet infra 10.4.1.0/24
     host dns1 10.4.1.53
     host ad1 10.4.1.10
     service dns dns on dns1
     service ldap tcp-echo on ad1 port 389
     service uecho udp-echo on ad1 port 7
     service web http on dns1
    !
    vpc prod-app
     segment prod
     cidr 10.10.0.0/16
     subnet app 10.10.1.0/24
     host papp1 10.10.1.10
     service echo tcp-echo on papp1 port 7
     service uecho udp-echo on papp1 port 7
    !
    vpc dev-app
     segment nonprod
     cidr 10.20.0.0/16
     subnet app 10.20.1.0/24
     host dapp1 10.20.1.10
    !
    vpc dev-extra
     segment nonprod
     cidr 10.21.0.0/16
     subnet app 10.21.1.0/24
     host dx1 10.21.1.10
    !
    vpc lone
     segment iso
     cidr 10.50.0.0/16
     subnet app 10.50.1.0/24
     host iso1 10.50.1.10
    !
    prefix-list SVC seq 5 permit 10.4.1.0/24
    !
    prefix-list PROD seq 5 permit 10.10.0.0/16
    !
    prefix-list DEV seq 5 permit 10.20.0.0/16
    !
    resource-share svc-prod
     end-a segment prod prefix-list PROD
     end-b segment shared prefix-list SVC
     direction a-to-b
    !
    resource-share svc-dev
     end-a segment nonprod prefix-list DEV
     end-b segment shared prefix-list SVC
     direction a-to-b
    !
    """
)



def built(make_lab: Any, text: str) -> Any:
    api = make_lab()
    api.set_candidate(parse_config(text))
    api.commit()
    return api


def tcp_connect(ns: str, src: str, sport: int, dst: str, port: int, timeout: float = 2.0) -> socket.socket:
    sock = netns.socket_in(ns, socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.settimeout(timeout)
    sock.bind((src, sport))
    sock.connect((dst, port))
    return sock


@pytest.mark.parametrize("name", ["shared-services.cli", "overlapping-tenants.cli", "micro-segmentation.cli"])
def test_examples_pass(name: str, state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import new_lab_name

    lab = new_lab_name()
    try:
        assert program.main(["--lab", lab, "-f", str(example(name))]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert out.count("ok: ") >= 2 and "assert failed" not in out
    finally:
        program.main(["--lab", lab, "destroy"])
        assert not netns.list_names(lab + "-")
        assert not services.scan(services.marker(lab + "/"))


def test_same_address_customers_reach_one_provider_at_once(make_lab: Any) -> None:
    """alice and bill are both 10.1.1.10 and use the same source port at the
    same moment; each gets its own bytes back through its own NAT."""
    api = built(make_lab, PORTAL)
    lab = api.name
    barrier = threading.Barrier(2)
    got: dict[str, bytes] = {}

    def talk(host: str) -> None:
        sock = tcp_connect(f"{lab}-h-{host}", "10.1.1.10", 40000, "172.31.255.10", 7)
        payload = f"{host}:{uuid.uuid4().hex}".encode()
        barrier.wait(timeout=5)
        sock.sendall(payload)
        data = b""
        while len(data) < len(payload):
            data += sock.recv(4096)
        got[host] = (payload, data)  # type: ignore[assignment]
        barrier.wait(timeout=5)  # both connections open at once until here
        sock.close()

    threads = [threading.Thread(target=talk, args=(h,)) for h in ("alice", "bill")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert set(got) == {"alice", "bill"}
    for host, (sent, back) in got.items():  # type: ignore[misc]
        assert back == sent and back.startswith(host.encode())
    flows = api.flows(segment="provider", protocol="tcp", port=7)
    # one row per connection, as each customer sent it, each behind its own translation
    assert sorted((f["segment"], f["src"], f["nat"]["src"]) for f in flows) == [
        ("cust-a", "10.1.1.10", "100.64.1.10"), ("cust-b", "10.1.1.10", "100.64.2.10")]
    assert all(f["nat"]["dst"] == "10.1.200.10" and f["dport"] == 7 for f in flows)
    for f in flows:  # the path: the customer's router, its share, the provider's router
        assert [h["node"] for h in f["path"]][1:] == [f"share portal-{f['segment'][-1]}", "segment provider cxp core"]
        assert f["path"][0]["src"] == f["nat"]["src"] and f["path"][-1]["dst"] == "10.1.200.10"
    through_a = api.flows(share="portal-a")
    assert through_a and all(f["segment"] == "cust-a" and f["nat"]["src"] == "100.64.1.10" for f in through_a)
    assert {f["application"] for f in api.flows(segment="cust-a", port=7)} == {"echo (tcp-echo)"}  # named through the NAT
    # a bare translated address: delivery is confirmed at the host behind it
    res = api.probe("172.31.255.10", "bill", "udp", 7)
    assert res.reachable and res.arrived, res
    routes = {r["prefix"]: r for r in api.routes(segment="provider")}
    assert routes["100.64.1.0/24"]["original_prefix"] == "10.1.1.0/24" and routes["100.64.1.0/24"]["installed"]
    assert routes["100.64.2.0/24"]["via"] == "share portal-b"
    # the provider cannot open towards a customer, and customers do not see each other
    assert not api.probe("100.64.1.10", "portal1", "icmp").reachable
    assert not api.probe("100.64.2.10", "alice", "icmp").reachable


def test_one_way_share_refuses_every_protocol_from_the_other_end(make_lab: Any) -> None:
    api = built(make_lab, SHARED)
    # end-a (prod) opens: tcp, udp (the echo answers) and icmp all get through
    for proto, port in (("tcp", 389), ("udp", 7), ("icmp", None)):
        res = api.probe("ad1", "papp1", proto, port)
        assert res.reachable and res.arrived, (proto, res)
    # end-b (shared) may only answer: new tcp, udp and icmp from it never arrive
    for proto, port in (("tcp", 7), ("udp", 7), ("icmp", None)):
        res = api.probe("papp1", "ad1", proto, port)
        assert not res.reachable and res.arrived is False, (proto, res)
    hits = {r["name"]: r["packets"] for r in api.policy_hits("share")}
    assert hits["svc-prod"] >= 3
    stats = api.share_statistics("svc-prod")
    assert stats[0]["packets"] > 0 and stats[1]["packets"] > 0 and stats[2]["packets"] == hits["svc-prod"]
    # the two consumers stay isolated from each other
    assert not api.probe("dapp1", "papp1", "icmp").reachable
    # clear counters of one share zeroes its statistics and refusals only
    api.clear_counters("share", "svc-prod")
    assert all(r["packets"] == 0 for r in api.share_statistics("svc-prod"))
    assert {r["name"]: r["packets"] for r in api.policy_hits("share")}["svc-prod"] == 0


def test_a_share_admits_only_the_offered_sources(make_lab: Any) -> None:
    """dx1 is in the consuming segment but outside what its prefix list offers:
    its segment router has the route to the share, the share refuses it."""
    api = built(make_lab, SHARED)
    assert api.probe("ad1", "dapp1", "tcp", 389).reachable
    for proto, port in (("udp", 7), ("tcp", 389), ("icmp", None)):
        res = api.probe("ad1", "dx1", proto, port)
        assert not res.reachable and res.arrived is False, (proto, res)


def test_dns_answers_consumers_of_the_share_only(make_lab: Any) -> None:
    """Each asker gets the names its segment reaches: a host of another
    consumer segment is not its business (NXDOMAIN)."""
    api = built(make_lab, SHARED)
    lab = api.name

    def dig(host: str, name: str) -> str:
        rc, out = api.host_exec(host, ["dig", "@10.4.1.53", name, "+time=1", "+tries=1"])
        assert rc == 0, out
        return out

    assert "ANSWER: 1" in (out := dig("dapp1", f"ad1.{lab}.")) and "\t10.4.1.10" in out, out
    assert "ANSWER: 1" in (out := dig("dapp1", f"dx1.{lab}.")) and "\t10.21.1.10" in out, out
    assert "status: NXDOMAIN" in (out := dig("dapp1", f"papp1.{lab}.")), out  # prod is not nonprod's to reach
    assert "ANSWER: 1" in (out := dig("papp1", f"ad1.{lab}.")) and "\t10.4.1.10" in out, out
    assert "status: NXDOMAIN" in (out := dig("papp1", f"dapp1.{lab}.")), out
    assert "status: REFUSED" in dig("dapp1", "example.com.")  # forwards nothing outside the lab
    rc, out = api.host_exec("iso1", ["dig", "@10.4.1.53", f"papp1.{lab}.", "+time=1", "+tries=1"])
    assert rc != 0 and "timed out" in out, out


def test_http_service_serves_a_page_naming_its_host(make_lab: Any) -> None:
    api = built(make_lab, SHARED)
    sock = tcp_connect(f"{api.name}-h-papp1", "10.10.1.10", 0, "10.4.1.53", 80)
    sock.sendall(b"GET / HTTP/1.0\r\nHost: dns1\r\n\r\n")
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    sock.close()
    assert data.startswith(b"HTTP/1.0 200") and b"host dns1 (10.4.1.53), service web" in data, data


def test_removing_a_share_cuts_routes_and_live_connections(make_lab: Any) -> None:
    api = built(make_lab, SHARED)
    lab = api.name
    sock = tcp_connect(f"{lab}-h-papp1", "10.10.1.10", 41000, "10.4.1.10", 389, timeout=1.0)
    sock.sendall(b"before")
    assert sock.recv(100) == b"before"
    assert any(r["origin"] == "share" for r in api.routes(segment="prod"))
    api.set_candidate(api.candidate.remove("resource-share", "svc-prod"))
    start = time.perf_counter()
    api.commit()
    assert time.perf_counter() - start < 2
    assert not any(r["origin"] == "share" for r in api.routes(segment="prod"))
    assert not any(ns.endswith("s.svc-prod") for ns in netns.list_names(lab))
    sock.sendall(b"after")
    with pytest.raises((socket.timeout, ConnectionError, OSError)):
        data = sock.recv(100)
        if not data:
            raise ConnectionError("closed")
    sock.close()
    assert not api.probe("ad1", "papp1", "tcp", 389).reachable
    assert api.probe("ad1", "dapp1", "tcp", 389).reachable  # the other share is untouched


def test_services_are_supervised_and_restarted_by_commit(make_lab: Any) -> None:
    api = built(make_lab, SHARED)
    rows = {r["name"]: r for r in api.services()}
    assert rows["ldap"]["state"] == "running" and rows["ldap"]["address"] == "10.4.1.10" and rows["ldap"]["port"] == 389
    assert rows["dns"]["kind"] == "dns" and rows["dns"]["state"] == "running"
    pid = rows["ldap"]["pid"]
    subprocess.run(["kill", "-9", str(pid)], check=True)
    # kill returns before the process is gone: its memory goes first (its
    # command line reads empty, so it shows down), its listening socket later
    deadline = time.time() + 3
    while services._alive(pid) and time.time() < deadline:
        time.sleep(0.01)
    assert {r["name"]: r for r in api.services()}["ldap"]["state"] == "down"
    assert not api.probe("ad1", "papp1", "tcp", 389).reachable
    result = api.commit()  # nothing changed in the configuration: heals
    assert any("restarted service ldap" in m for m in result.messages)
    assert {r["name"]: r for r in api.services()}["ldap"]["state"] == "running"
    assert api.probe("ad1", "papp1", "tcp", 389).reachable
    # removing a service by commit stops its process
    vpc = api.candidate.get("vpc", "svc")
    from dataclasses import replace

    api.set_candidate(api.candidate.put("vpc", replace(vpc, services=tuple(s for s in vpc.services if s.name != "ldap"))))
    api.commit()
    assert "ldap" not in {r["name"] for r in api.services()}
    assert services.marker(f"{api.name}/svc/ldap") not in services.scan("vpclab-svc=")
    assert not api.probe("ad1", "papp1", "tcp", 389).reachable


def test_a_refused_share_changes_nothing(make_lab: Any) -> None:
    api = built(make_lab, PORTAL)
    before = api.routes()
    bad = parse_config("resource-share portal-b\n no nat end-a 10.1.1.0/24 to 100.64.2.0/24\n", base=api.running)
    api.set_candidate(bad)
    with pytest.raises(ValidationError) as err:
        api.commit()
    assert "resource-share portal-b: imports 10.1.1.0/24 into segment provider" in str(err.value.lines())
    assert api.routes() == before


def test_rollback_undoes_a_share_and_its_service(make_lab: Any) -> None:
    """A share and a service added by one commit go away with `rollback 1`,
    and come back with another rollback."""
    api = make_lab()
    base = parse_config(SHARED).remove("resource-share", "svc-dev")
    api.set_candidate(base)
    api.commit()
    assert not api.probe("ad1", "dapp1", "tcp", 389).reachable
    added = parse_config(SHARED + "vpc dev-app\n service decho tcp-echo on dapp1 port 7\n")
    api.set_candidate(added)
    api.commit()
    assert api.probe("ad1", "dapp1", "tcp", 389).reachable
    assert "decho" in {r["name"] for r in api.services()}
    api.rollback(1)
    assert not api.probe("ad1", "dapp1", "tcp", 389).reachable
    assert "decho" not in {r["name"] for r in api.services()}
    assert services.marker(f"{api.name}/dev-app/decho") not in services.scan(services.MARK)
    assert not [r for r in api.routes(segment="nonprod") if r["origin"] == "share"]
    api.rollback(1)  # the rollback is a commit: rolling it back restores the share
    assert api.probe("ad1", "dapp1", "tcp", 389).reachable
    assert {r["name"]: r["state"] for r in api.services()}["decho"] == "running"


def test_a_share_whose_end_offers_nothing_commits(make_lab: Any) -> None:
    """An end segment without VPCs offers nothing: the share exists, empty."""
    api = make_lab()
    text = SHARED.replace("resource-share svc-dev\n", "segment empty\n!\nresource-share svc-dev\n")
    text = text.replace(" end-a segment nonprod prefix-list DEV\n", " end-a segment empty prefix-list DEV\n")
    api.set_candidate(parse_config(text))
    api.commit()
    assert api.probe("ad1", "papp1", "tcp", 389).reachable
    assert not [r for r in api.routes(segment="shared") if r["via"] == "share svc-dev"]
    # and removing the last VPC a share offers is an ordinary commit too
    api.set_candidate(api.running.remove("vpc", "prod-app"))
    api.commit()
    assert not [r for r in api.routes(segment="shared") if r["origin"] == "share"]
