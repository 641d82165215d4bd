"""trace and verify with real packets: agreement, and drift found where it is."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from lab import netns, services
from shell import main as program
from shell.loader import parse_config
from tests.configs import PORTAL
from tests.conftest import new_lab_name

pytestmark = pytest.mark.lab

HOP_FIELDS = {"node", "kind", "ingress", "egress", "src", "dst", "sport", "dport", "rule"}


def built(make_lab: Any, text: str) -> Any:
    api = make_lab()
    api.set_candidate(parse_config(text))
    api.commit()
    return api


def test_trace_follows_shares_and_nat_and_agrees(make_lab: Any) -> None:
    api = built(make_lab, PORTAL)
    t0 = time.monotonic()
    r = api.trace("172.31.255.10", "alice", "tcp", 7)
    took = time.monotonic() - t0
    assert r.agree, r.difference
    assert took < 1.0, f"trace took {took:.2f} s"
    d = r.as_dict()
    assert set(d) == {"predicted", "observed", "agree", "verdict", "reason", "first_difference"}
    assert all(set(h) == HOP_FIELDS for h in d["predicted"] + d["observed"])
    assert d["verdict"] == "reachable" and d["first_difference"] is None
    nodes = [h["node"] for h in d["observed"]]
    assert nodes == ["host alice", "vpc wan-a", "segment cust-a cxp core", "segment provider cxp core", "vpc portal", "host portal1"]
    # NAT as the packet really was at each hop: SNAT of cust-a, then DNAT into the provider
    assert (d["observed"][2]["src"], d["observed"][3]["dst"]) == ("100.64.1.10", "10.1.200.10")
    bill = api.trace("172.31.255.10", "bill", "udp", 7)
    assert bill.agree and bill.observed[3].src == "100.64.2.10"


def test_trace_agrees_on_what_is_refused(make_lab: Any) -> None:
    api = built(make_lab, PORTAL)
    back = api.trace("100.64.1.10", "portal1")  # the share is a-to-b: the provider may not open
    assert back.agree and back.walk.outcome.verdict == "unreachable"
    assert back.observed[-1].node == "segment cust-a cxp core" and back.observed[-1].egress is None
    assert "share portal-a" in back.walk.outcome.reason
    other = api.trace("portal1", "alice")  # portal1's own address means nothing in cust-a
    assert other.agree and not other.probe.reachable and other.observed[-1].node == "vpc wan-a"
    closed = api.trace("172.31.255.10", "alice", "tcp", 22)
    assert closed.agree and closed.observed[-1].node == "host portal1" and "RST" in closed.walk.outcome.reason


def _drop_route(ns: str, prefix: str) -> None:
    subprocess.run(["ip", "-n", ns, "route", "del", prefix], check=True, capture_output=True)


def test_a_route_deleted_behind_our_back(make_lab: Any) -> None:
    """trace says DISAGREE at the router that lost it, verify marks exactly
    the pairs it broke."""
    api = built(make_lab, PORTAL)
    _scope, checks = api.verify()
    assert all(c.agree for c in checks)
    _drop_route(f"{api.name}-s-provider@core", "10.1.0.0/16")
    r = api.trace("172.31.255.10", "alice", "tcp", 7)
    assert not r.agree
    assert (r.difference.hop, r.difference.node, r.difference.field) == (4, "segment provider cxp core", "egress")
    assert r.difference.predicted == "v.portal" and r.difference.observed is None
    assert "DISAGREE at hop 4 (segment provider cxp core)" in r.difference.sentence()
    _scope, checks = api.verify()
    broken = {(c.src_host, c.dst_host, c.protocol) for c in checks if not c.agree}
    assert broken == {(h, "portal1", p) for h in ("alice", "bill") for p in ("icmp", "tcp")} | {("alice", "portal1", "udp"), ("bill", "portal1", "udp")}
    assert all(c.intended and not c.observed for c in checks if not c.agree)


def test_verify_and_trace_fail_a_batch_when_they_disagree(state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab = new_lab_name()
    script = tmp_path / "lab.cli"
    script.write_text("configure\n" + PORTAL + "commit\nend\nverify\ntrace 172.31.255.10 from alice protocol tcp port 7\n")
    try:
        assert program.main(["--lab", lab, "-f", str(script)]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert "3 units" in out and "0 not" in out and out.rstrip().endswith("agree")
        _drop_route(f"{lab}-s-provider@core", "10.1.0.0/16")
        assert program.main(["--lab", lab, "-c", "verify"]) == 1
        captured = capsys.readouterr()
        assert "X" in captured.out and "Disagreements:" in captured.out
        assert "verify: 6 of" in captured.err
        assert program.main(["--lab", lab, "-c", "trace 172.31.255.10 from alice protocol tcp port 7"]) == 1
        captured = capsys.readouterr()
        assert "DISAGREE at hop 4 (segment provider cxp core): predicted egress v.portal" in captured.out
    finally:
        program.main(["--lab", lab, "destroy"])
        assert not netns.list_names(lab + "-")
        assert not services.scan(services.marker(lab + "/"))


def test_verify_of_twenty_groups_is_quick(make_lab: Any) -> None:
    """400 ordered pairs of groups (20 VPCs, one group each, a policy that
    admits half of them), all probed at once."""
    lines = ["segment big", " default-action deny", " policy 10 permit icmp group g0 any", " policy 20 permit ip any group g1"]
    for i in range(20):
        lines += [f"vpc v{i}", " segment big", f" group g{i}", f" cidr 10.{i + 1}.0.0/16", f" subnet s 10.{i + 1}.1.0/24",
                  f" host h{i} 10.{i + 1}.1.10"]
    api = built(make_lab, "\n".join(lines) + "\n")
    t0 = time.monotonic()
    scope, checks = api.verify()
    took = time.monotonic() - t0
    assert len(scope) == 20 and len(checks) == 380
    assert all(c.agree for c in checks), [c for c in checks if not c.agree][:3]
    assert sum(c.observed for c in checks) == 19 + 19 - 1 + 0  # g0 reaches all (icmp), all reach g1
    assert took < 10, f"verify took {took:.1f} s"


CORP = """\
segment corp
 default-action deny
 policy 10 permit tcp any any eq 7
 policy 20 permit icmp any any
!
""" + "".join(f"""vpc {v}
 segment corp
 cidr 10.{i}.0.0/16
 subnet s 10.{i}.1.0/24
 host h{v} 10.{i}.1.10
 service t{v} tcp-echo on h{v} port 7
 service u{v} udp-echo on h{v} port 7
!
""" for i, v in ((1, "a"), (2, "b"), (3, "c")))


def test_repair_puts_back_a_route_and_a_table_and_connections_keep_flowing(make_lab: Any) -> None:
    """A route and the router's nftables table deleted behind vpclab's back:
    health names both, trace and verify point at them, `repair` puts back
    exactly those, and a connection open all along keeps flowing."""
    api = built(make_lab, CORP)
    lab, router = api.name, f"{api.name}-s-corp@core"
    live = netns.socket_in(f"{lab}-h-ha", socket.AF_INET, socket.SOCK_STREAM)
    live.settimeout(2)
    live.connect(("10.2.1.10", 7))
    live.sendall(b"before")
    assert live.recv(16) == b"before"
    assert api.health().ok
    subprocess.run(["ip", "netns", "exec", router, "nft", "delete", "table", "inet", "vpclab"], check=True)
    _drop_route(router, "10.3.0.0/16")
    problems = {(d.ns, d.kind, d.name, d.problem) for d in api.health().drift}
    assert problems == {(router, "table", "inet vpclab", "missing"), (router, "route", "10.3.0.0/16", "missing")}
    udp = api.trace("hb", "ha", "udp", 7)  # the policy is gone: the datagram gets through
    assert not udp.agree and (udp.difference.hop, udp.difference.field) == (3, "egress")
    assert (udp.difference.predicted, udp.difference.observed) == (None, "v.b")
    assert udp.walk.hops[2].rule == "segment corp default"
    lost = api.trace("hc", "ha", "tcp", 7)
    assert "DISAGREE at hop 3 (segment corp cxp core): predicted egress v.c, observed no egress" in lost.difference.sentence()
    _scope, checks = api.verify()
    broken = {(c.src_host, c.dst_host, c.protocol, "X" if c.intended else "+") for c in checks if not c.agree}
    assert broken == ({("ha", "hb", "udp", "+"), ("hb", "ha", "udp", "+")}
                      | {(a, b, p, "X") for a, b in (("ha", "hc"), ("hb", "hc"), ("hc", "ha"), ("hc", "hb")) for p in ("icmp", "tcp")})
    done = api.repair()
    assert any("table inet vpclab (missing)" in line for line in done) and any("10.3.0.0/16 (missing)" in line for line in done), done
    assert api.health().ok, api.health().rows()
    _scope, checks = api.verify()
    assert all(c.agree for c in checks), [c for c in checks if not c.agree]
    assert api.trace("hb", "ha", "udp", 7).agree
    live.sendall(b"after")
    assert live.recv(16) == b"after"
    live.close()
    assert api.repair() == []


def test_a_refusal_where_the_model_drops_silently_is_a_disagreement(make_lab: Any) -> None:
    """With the provider's table gone, its share NAT goes too: a datagram the
    policy would drop silently now meets no route and an ICMP error comes
    back. Same hops, same verdict, yet not what the model says."""
    guarded = PORTAL.replace("segment provider\n!", "segment provider\n default-action deny\n policy 10 permit tcp any any eq 7\n!")
    api = built(make_lab, guarded)
    assert api.trace("172.31.255.10", "alice", "udp", 7).agree
    subprocess.run(["ip", "netns", "exec", f"{api.name}-s-provider@core", "nft", "delete", "table", "inet", "vpclab"], check=True)
    r = api.trace("172.31.255.10", "alice", "udp", 7)
    assert not r.agree and (r.difference.hop, r.difference.field) == (4, "refusal")
    assert "predicted a silent drop by segment provider default, observed" in r.difference.sentence()
    assert "ICMP network unreachable" in r.difference.sentence()
