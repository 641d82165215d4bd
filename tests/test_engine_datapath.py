"""The data-path model, pure: walks over compiled plans (no kernel).

The lab tests (test_lab_trace.py, test_lab_differential.py) hold the model
against real packets; these pin what it predicts for the fabric's cases.
"""

from __future__ import annotations

import socket
import textwrap

import pytest

from engine import ending, flows
from engine.compile import compile_plan
from engine.datapath import Model, Packet, UnknownRole, from_host, walk
from engine.datapath.handler import HANDLERS, handler_for
from engine.datapath.observe import first_difference, observed_hops
from engine.plan import NetnsItem, Plan
from engine.ports import ProbeResult, Sighting, Tracked
from shell.loader import parse_config
from shell.plain import columns
from tests.configs import PORTAL

LAB = "x"


def model(text: str) -> Model:
    config = parse_config(textwrap.dedent(text))
    return Model(LAB, config, compile_plan(LAB, config))


def nodes(w) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.node for h in w.hops]


PORTAL_EXTRA = PORTAL.replace(" host alice 10.1.1.10\n", " host alice 10.1.1.10\n host al2 10.1.1.20\n").replace(
    " host bill 10.1.1.10\n", " host bill 10.1.1.10\n host bob 10.1.1.20\n"
)


def test_share_with_nat_both_ends() -> None:
    m = model(PORTAL_EXTRA)
    w = from_host(m, "alice", "172.31.255.10", "tcp", 7, 40000)
    assert nodes(w) == ["host alice", "vpc wan-a", "segment cust-a cxp core", "segment provider cxp core", "vpc portal", "host portal1"]
    assert [(h.ingress, h.egress) for h in w.hops] == [
        (None, "eth0"), ("b.lan", "uplink"), ("v.wan-a", "s.portal-a"), ("s.portal-a", "v.portal"), ("uplink", "b.dmz"), ("eth0", None)]
    # SNAT of end-a in its own router, DNAT of end-b into the provider's
    assert (w.hops[2].src, w.hops[2].dst) == ("100.64.1.10", "172.31.255.10")
    assert (w.hops[3].src, w.hops[3].dst) == ("100.64.1.10", "10.1.200.10")
    assert all((h.sport, h.dport) == (40000, 7) for h in w.hops)
    assert w.outcome.reachable and w.outcome.stopped_at == "x-h-portal1"
    assert "echo" in w.outcome.reason


def test_overlapping_tenants_stay_apart() -> None:
    m = model(PORTAL_EXTRA)
    a = from_host(m, "alice", "172.31.255.10", "udp", 7, 40000)
    b = from_host(m, "bill", "172.31.255.10", "udp", 7, 40000)
    assert a.hops[3].src == "100.64.1.10" and b.hops[3].src == "100.64.2.10"
    assert a.hops[2].node == "segment cust-a cxp core" and b.hops[2].node == "segment cust-b cxp core"
    assert a.outcome.reachable and b.outcome.reachable


def test_one_way_share_drops_the_other_ends_connections() -> None:
    m = model(PORTAL_EXTRA)
    w = from_host(m, "portal1", "100.64.1.10", "icmp")
    assert nodes(w)[-1] == "segment cust-a cxp core"
    assert w.hops[-1].egress is None and w.hops[-1].rule == "share portal-a direction"
    assert not w.outcome.reachable and "one-way" in w.outcome.reason


def test_named_target_elsewhere_is_not_reached() -> None:
    m = model(PORTAL_EXTRA)
    # 10.1.1.20 is al2 in alice's own segment, and bob in cust-b: named bob, al2 answers
    w = from_host(m, "alice", "10.1.1.20", "icmp", target_host="bob")
    assert w.outcome.stopped_at == "x-h-al2" and not w.outcome.reachable
    assert "not host bob" in w.outcome.reason
    assert from_host(m, "alice", "10.1.1.20", "icmp", target_host="al2").outcome.reachable


def test_same_subnet_is_switched_by_the_vpc_bridge() -> None:
    m = model(PORTAL_EXTRA)
    w = from_host(m, "alice", "10.1.1.20", "tcp", 22, 40000)
    assert nodes(w) == ["host alice", "vpc wan-a", "host al2"]
    assert (w.hops[1].ingress, w.hops[1].egress) == ("h.alice", "h.al2")
    assert not w.outcome.reachable and w.outcome.refused and "RST" in w.outcome.reason


def test_unassigned_cidr_space_is_refused_by_the_vpc_router() -> None:
    m = model(PORTAL_EXTRA)
    w = from_host(m, "alice", "10.1.200.10", "icmp")
    assert nodes(w) == ["host alice", "vpc wan-a"]
    assert w.hops[-1].rule == "route 10.1.0.0/16 unreachable" and w.outcome.refused


def test_no_neighbour_in_the_subnet() -> None:
    m = model(PORTAL_EXTRA)
    w = from_host(m, "alice", "10.1.1.99", "icmp")
    assert nodes(w) == ["host alice"] and w.hops[0].egress is None
    assert "ARP" in w.outcome.reason


MICRO = """\
segment corp
 default-action deny
 policy 10 permit tcp group bu01 group bu02 eq 443
 policy 20 permit icmp group bu01 group bu02
vpc shared-vpc
 segment corp
 cidr 10.30.0.0/16
 subnet bu01 10.30.1.0/24 group bu01
 subnet bu02 10.30.2.0/24 group bu02
 host bu01-a 10.30.1.10
 host bu02-a 10.30.2.10
 service web http on bu02-a port 443
 micro-segmentation
"""


def test_micro_segmentation_judges_between_subnets() -> None:
    m = model(MICRO)
    ok = from_host(m, "bu01-a", "10.30.2.10", "tcp", 443, 40000)
    assert ok.outcome.reachable and ok.hops[1].rule == "segment corp 10"
    assert (ok.hops[1].ingress, ok.hops[1].egress) == ("b.bu01", "b.bu02")
    no = from_host(m, "bu01-a", "10.30.2.10", "tcp", 22, 40000)
    assert not no.outcome.reachable and no.hops[-1].rule == "segment corp default"
    back = from_host(m, "bu02-a", "10.30.1.10", "icmp")
    assert not back.outcome.reachable and back.hops[-1].node == "vpc shared-vpc"


HUBS = """\
cxp east
cxp west
segment prod
 default-action deny
 policy 10 permit icmp any any
vpc a
 segment prod
 cxp east
 cidr 10.1.0.0/16
 subnet s 10.1.1.0/24
 host ha 10.1.1.10
vpc b
 segment prod
 cxp west
 cidr 10.2.0.0/16
 subnet s 10.2.1.0/24
 host hb 10.2.1.10
"""


def test_backbone_is_judged_on_the_first_hub_only() -> None:
    m = model(HUBS)
    w = from_host(m, "ha", "10.2.1.10", "icmp")
    assert nodes(w) == ["host ha", "vpc a", "segment prod cxp east", "segment prod cxp west", "vpc b", "host hb"]
    assert w.hops[2].egress == "bb.west" and w.hops[3].ingress == "bb.east"
    assert w.hops[2].rule == "segment prod 10" and w.hops[3].rule is None
    assert not from_host(m, "ha", "10.2.1.10", "tcp", 80, 40000).outcome.reachable


SHARES = """\
segment a
segment b
segment c
vpc va
 segment a
 cidr 10.1.0.0/16
 subnet s 10.1.1.0/24
 subnet t 10.1.2.0/24
 host a1 10.1.1.10
 host a2 10.1.2.10
vpc vb
 segment b
 cidr 10.2.0.0/16
 subnet s 10.2.1.0/24
 host b1 10.2.1.10
vpc vc
 segment c
 cidr 10.3.0.0/16
 subnet s 10.3.1.0/24
 host c1 10.3.1.10
prefix-list A seq 5 permit 10.1.1.0/24
prefix-list B seq 5 permit 10.2.0.0/16
prefix-list C seq 5 permit 10.3.0.0/16
resource-share ab
 end-a segment a prefix-list A
 end-b segment b prefix-list B
resource-share bc
 end-a segment b prefix-list B
 end-b segment c prefix-list C
"""


def test_only_offered_sources_cross_a_share() -> None:
    m = model(SHARES)
    assert from_host(m, "a1", "10.2.1.10", "icmp").outcome.reachable
    w = from_host(m, "a2", "10.2.1.10", "icmp")  # 10.1.2.0/24 is not offered by end-a
    assert w.hops[-1].rule == "shares source" and w.hops[-1].node == "segment a cxp core"


def test_shares_are_not_transitive() -> None:
    m = model(SHARES)
    # c has no route to a's prefixes at all: isolation is physical
    w = from_host(m, "c1", "10.1.1.10", "icmp")
    assert not w.outcome.reachable and w.hops[-1].rule in ("no route", "shares transit")


def test_a_role_without_handler_is_named() -> None:
    plan = Plan({("ns", "x-z-box"): NetnsItem("x-z-box", "appliance", "a kind of namespace no feature has")})
    m = Model(LAB, parse_config(""), plan)
    with pytest.raises(UnknownRole, match="appliance"):
        walk(m, "x-z-box", Packet("icmp", "10.0.0.1", "10.0.0.2"))
    assert set(HANDLERS) >= {"host", "vpc-router", "segment-router", "firewall", "internet", "public-host", "provider"}
    assert handler_for("host").forwards is False


def tracked(proto: int, src: str, dst: str, sport: int, dport: int, state: int | None = 3) -> Tracked:
    """A conntrack entry without NAT, as the lab reads it."""
    a, b = socket.inet_aton(src), socket.inet_aton(dst)
    return Tracked(proto, state, 0, None, None, a, b, sport, dport, 1, 60, b, a, dport, sport, 1, 60, *([None] * 6))


def test_flows_rule_and_refused_check_are_the_models_decision() -> None:
    """One evaluation: the rule `show flows` names, the connections a new
    policy ends, and the hop's rule in `trace` come from one judge."""
    m = model(MICRO)
    w = from_host(m, "bu01-a", "10.30.2.10", "tcp", 443, 40000)
    ns = "x-v-shared-vpc"
    entry = tracked(6, "10.30.1.10", "10.30.2.10", 40000, 443)
    decision = flows.decide(m, ns, "b.bu01", entry)
    assert decision is not None and decision.rule == w.hops[1].rule == "segment corp 10"
    raw = {ns: [entry, tracked(6, "10.30.1.10", "10.30.2.10", 40001, 22)]}
    found = ending.concerned(ending.Change(policies={ns: "corp"}), m, m, raw, {ns})
    assert [k[5] for k in found.refused] == [22] and set(found.refused.values()) == {"the new policy refuses"}
    assert not from_host(m, "bu01-a", "10.30.2.10", "tcp", 22, 40001).outcome.reachable


def test_observed_hops_follow_the_models_conventions() -> None:
    """Copies on a bridge and its port name the bridge; links order the hops;
    the first differing field is named."""
    m = model(PORTAL_EXTRA)
    w = from_host(m, "alice", "10.1.1.1", "icmp")
    seen = [
        Sighting("x-h-alice", "eth0", True, 1, "10.1.1.10", "10.1.1.1", None, None),
        Sighting("x-v-wan-a", "h.alice", False, 2, "10.1.1.10", "10.1.1.1", None, None),
        Sighting("x-v-wan-a", "b.lan", False, 3, "10.1.1.10", "10.1.1.1", None, None),
    ]
    got = observed_hops(m.graph, list(reversed(seen)), "x-h-alice")
    assert [h.compared() for h in got] == [h.compared() for h in w.hops]
    ok = ProbeResult(True, True, "echo answered")
    assert first_difference(list(w.hops), got, w.outcome, ok) is None
    diff = first_difference(list(w.hops), got[:1], w.outcome, ProbeResult(False, False, "silent"))
    assert diff is not None and diff.hop == 2 and diff.field == "node"
    assert "DISAGREE at hop 2 (vpc wan-a)" in diff.sentence()


def test_plain_columns_stream_with_sampled_widths() -> None:
    rows = [["a", "bb", "c"], ["aaa", "b", "c"]] + [["x", "y", "a very long last cell"]]
    out = list(columns(iter(rows), headers=["h1", "h2", "h3"], sample=2))
    assert out[0] == "h1   h2  h3" and out[2] == "a    bb  c"
    assert out[-1] == "x    y   a very long last cell"
    wide = list(columns(iter([["a", "b"], ["much wider", "b"]]), sample=1))
    assert wide == ["a  b", "much wider  b"]  # no reflow: the wide row pushes its own line
