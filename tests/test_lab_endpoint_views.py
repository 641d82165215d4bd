"""What the endpoint work left open (issue 13), with real packets: `show
vpc` lists its endpoints, `verify` probes them, and the VPC routers'
bridges put no IGMP entry among `show flows`."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import time
from typing import Any

import pytest

from engine.compile.endpoint_layout import layout
from shell.language import interpreter
from shell.state import ShellState
from tests.configs import ENDPOINTS, TWIN_ENDPOINTS
from tests.test_lab_endpoints import built, connect, http_get

pytestmark = pytest.mark.lab


def shell(api: Any) -> tuple[Any, list[str]]:
    out: list[str] = []
    return interpreter(ShellState(api, api.name, emit=out.append)), out


def run(api: Any, line: str) -> str:
    sh, out = shell(api)
    assert sh.run(line), out
    return out[-1]


def test_show_vpc_lists_its_endpoints_and_they_answer_as_listed(make_lab: Any) -> None:
    """Each endpoint with its service, address, port and provider, in the
    text and the JSON; a connection to the listed address and port gets the
    service's answer, and its flow is translated to the listed provider."""
    api = built(make_lab, ENDPOINTS)
    text = run(api, "show vpc endpoints")
    assert "Endpoints" in text and "name    service    address      port   provider" in text
    rows = json.loads(run(api, "show vpc endpoints | json"))["endpoints"]
    assert [(r["name"], r["service"], r["address"], r["port"]) for r in rows] == [
        ("apiep", "api", "10.50.1.21", 9000), ("s3ep", "objstore", "10.50.1.20", 443)]
    providers = {r["service"]: r["provider"] for r in rows}
    lines = [line.split() for line in text.splitlines()]
    for r in rows:
        assert ipaddress.IPv4Address(r["provider"]) in ipaddress.IPv4Network("169.254.0.0/16")
        assert [r["name"], r["service"], r["address"], str(r["port"]), r["provider"]] in lines
    page = http_get(f"{api.name}-h-w1", "10.50.1.20", 443)
    assert page.startswith(b"HTTP/1.0 200") and b"endpoint-service objstore (http)" in page
    echo = connect(f"{api.name}-h-e1", "10.50.1.21", 9000)
    echo.sendall(b"hello")
    assert echo.recv(16) == b"hello"
    flows = [f for f in api.flows() if f["dst"] == "10.50.1.21" and f["dport"] == 9000]
    echo.close()
    assert flows and flows[0]["nat"]["dst"] == providers["api"], flows
    empty = json.loads(run(api, "show vpc app-west | json"))
    assert empty["endpoints"] == [] and "Endpoints" not in run(api, "show vpc app-west")


def test_verify_probes_endpoints_and_marks_exactly_the_pairs_a_deleted_link_breaks(make_lab: Any) -> None:
    """Every unit probes each endpoint on its service's port at the address
    its segment reaches it by (translated through the NAT share); segments
    with no path (iso, and partner against the share's direction) are `.`;
    the private link deleted behind vpclab's back makes exactly the pairs to
    that endpoint `X`, and repair makes them `Y` again."""
    api = built(make_lab, ENDPOINTS)
    scope, checks = api.verify()
    assert [u.name for u in scope if not u.hosts] == ["endpoint apiep", "endpoint s3ep"]
    to_ep = {(c.src_host, c.dst.name): c for c in checks if c.dst.name.startswith("endpoint ")}
    assert all(c.agree for c in checks), [c for c in checks if not c.agree]
    assert all(c.protocol == "tcp" for c in to_ep.values())
    assert {c.port for k, c in to_ep.items() if k[1] == "endpoint s3ep"} == {443}
    reaching = {"dns1", "e1", "w1", "n1", "p1"}
    assert {h for (h, ep), c in to_ep.items() if c.observed and ep == "endpoint s3ep"} == reaching
    assert {h for (h, ep), c in to_ep.items() if not c.intended and ep == "endpoint s3ep"} == {"i1", "q1"}
    assert to_ep[("p1", "endpoint s3ep")].address == "100.64.50.20" and to_ep[("i1", "endpoint s3ep")].address == "10.50.1.20"
    text = run_failing(api, "verify", ok=True)
    index = {line.split()[2]: line.split()[0] for line in text.splitlines() if " endpoint " in line and line[:3].strip().isdigit()}
    assert set(index) == {"apiep:", "s3ep:"}
    matrix = {line.split()[2]: line.split()[3:] for line in text.splitlines()[2:9]}
    s3 = int(index["s3ep:"]) - 1
    assert matrix["i1"][s3] == "." and matrix["q1"][s3] == "." and matrix["w1"][s3] == "Y"

    subprocess.run(["ip", "-n", f"{api.name}-v-endpoints", "link", "del", "pl.objstore"], check=True)
    _scope, checks = api.verify()
    broken = {(c.src_host, c.dst.name) for c in checks if not c.agree}
    assert broken == {(h, "endpoint s3ep") for h in reaching}
    assert all(c.intended and not c.observed for c in checks if not c.agree)
    text = run_failing(api, "verify", ok=False)
    matrix = {line.split()[2]: line.split()[3:] for line in text.splitlines()[2:9]}
    assert [matrix[h][s3] for h in sorted(reaching)] == ["X"] * 5 and matrix["i1"][s3] == "."
    assert all(matrix[h][s3 - 1] == "Y" for h in reaching)  # apiep's link is untouched
    api.repair()
    assert all(c.agree for c in api.verify()[1])


def run_failing(api: Any, line: str, ok: bool) -> str:
    """The output of a line that succeeds (ok) or fails after printing."""
    sh, out = shell(api)
    assert sh.run(line) is ok, out
    return next(o for o in out if o.startswith(line))


def test_verify_tells_two_endpoints_at_one_address_apart(make_lab: Any) -> None:
    """Two tenants' endpoints of one service at the same address: each
    tenant reaches its own (the provider sees the probe from that
    endpoint's link), never the other's, though the same address answers."""
    api = built(make_lab, TWIN_ENDPOINTS)
    _scope, checks = api.verify()
    assert all(c.agree for c in checks), [c for c in checks if not c.agree]
    reached = {(c.src_host, c.dst.name) for c in checks if c.dst.name.startswith("endpoint ") and c.observed}
    assert reached == {("alice", "endpoint store-a"), ("alice", "endpoint echo-a"),
                       ("bill", "endpoint store-b"), ("bill", "endpoint echo-b")}
    other = next(c for c in checks if (c.src_host, c.dst.name) == ("alice", "endpoint store-b"))
    assert other.address == "10.1.1.20" and "not through endpoint store-b" in other.reason
    link_b = next(ep.link for ep in layout(api.running).endpoints if ep.endpoint.name == "store-b")
    assert f"never reached {api.name}-e-objstore from {link_b}" in other.detail, other.detail


def test_show_flows_has_no_igmp_row(make_lab: Any) -> None:
    """The VPC routers' bridges do not snoop, so they join no multicast
    group and send no IGMP report: with traffic through an endpoint's VPC
    router (which has a ruleset, hence conntrack), `show flows` holds the
    connections and nothing else. The reports went out within about a
    second of the bridge coming up: the flows are read after that."""
    t0 = time.monotonic()
    api = built(make_lab, ENDPOINTS)
    assert http_get(f"{api.name}-h-w1", "10.50.1.20", 443).startswith(b"HTTP/1.0 200")
    kept = connect(f"{api.name}-h-p1", "100.64.50.20", 443)
    time.sleep(max(0.0, t0 + 3.0 - time.monotonic()))
    rows = json.loads(run(api, "show flows | json"))
    kept.close()
    assert rows and all(r["dport"] == 443 for r in rows), rows
    assert not [r for r in rows if r["protocol"] in ("2", "igmp") or ipaddress.IPv4Address(r["dst"]).is_multicast]
    text = run(api, "show flows")
    assert "224.0.0." not in text and "igmp" not in text.lower()
    router = f"{api.name}-v-endpoints"
    tracked = subprocess.run(["ip", "netns", "exec", router, "conntrack", "-L"], capture_output=True, text=True, check=True)
    assert "224.0.0.22" not in tracked.stdout and "10.50.1.20" in tracked.stdout
    groups = subprocess.run(["ip", "-n", router, "maddr", "show", "dev", "b.ep"], capture_output=True, text=True, check=True)
    assert "224.0.0.106" not in groups.stdout  # all-snoopers: the group whose join was reported
