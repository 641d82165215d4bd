"""Firewalls and internet edges without a kernel: validation of the issue's
bad input, the layout's stable targets, zones and first-match rules, jhash,
the compiled tables, and the configuration language."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.api import LabApi
from engine.compile import compile_plan
from engine.compile.topology import fabric_of
from engine.errors import ValidationError
from engine.fwzones import facings, first_rule, members, rule_runs, zone_numbers, zone_value
from engine.inspection import layout_of
from engine.items import NftItem, RuleItem
from engine.jhash import choose, jhash
from engine.marks import BLOCK, blocks, target_of
from engine.model import Config, Cxp, Firewall, FirewallRule, LoadBalancer, PublicHost, Zone
from engine.store import LabStore
from engine.testing import RecordingFabric
from engine.validate import validate
from shell.loader import LoadError, parse_config
from shell.printer import running_config
from tests.paths import example


def story() -> Config:
    text = example("firewall-insertion.cli").read_text()
    return parse_config(text.split("configure\n")[1].split("commit\n")[0])


def errors(config: Config) -> list[str]:
    return [str(d) for d in validate(config)]


def fw(config: Config) -> Firewall:
    return config.require("firewall", "fw1")  # type: ignore[no-any-return]


def edge(config: Config, **changes: object) -> Config:
    return config.put("internet", replace(config.require("internet", "inet"), **changes))


BAD = [
    ("unknown firewall in inspect", lambda c: c.put("segment", replace(c.require("segment", "spokes"), policies=(
        replace(c.require("segment", "spokes").policies[0], firewall="nofw"),))), "segment spokes policy 10: firewall nofw does not exist"),
    ("unknown zone in a rule", lambda c: c.put("firewall", replace(fw(c), rules=(FirewallRule(5, "permit", "tcp", "dmz", "any"),))),
     "firewall fw1 rule 5: zone dmz does not exist in firewall fw1"),
    ("a zone's segment unknown", lambda c: c.put("firewall", replace(fw(c), zones=(*fw(c).zones, Zone("x", segment="nope")))),
     "firewall fw1 zone x: segment nope does not exist"),
    ("a zone's internet unknown", lambda c: c.put("firewall", replace(fw(c), zones=(*fw(c).zones, Zone("x", internet="nonet")))),
     "firewall fw1 zone x: internet nonet does not exist"),
    ("a zone's group not in its segment", lambda c: c.put("firewall", replace(fw(c), zones=(*fw(c).zones, Zone("x", "spokes", "dmz")))),
     "firewall fw1 zone x: group dmz has no members in segment spokes"),
    ("one segment in two zones", lambda c: c.put("firewall", replace(fw(c), zones=(*fw(c).zones, Zone("all", segment="spokes")))),
     "firewall fw1: segment spokes is in zone all as a whole and in zone intranet"),
    ("instances outside 1-8", lambda c: c.put("firewall", replace(fw(c), instances=9)), "firewall fw1: instances 9 is out of range (1-8)"),
    ("a public host outside the documentation ranges", lambda c: edge(c, public_hosts=(PublicHost("web-out", "8.8.8.8"),)),
     "internet inet: public-host web-out: 8.8.8.8 is not in the documentation ranges"),
    ("an snat address outside them", lambda c: edge(c, snat_address="10.0.0.1"), "internet inet: snat-address 10.0.0.1 is not in the documentation ranges"),
    ("a VIP on a public host", lambda c: edge(c, load_balancers=(LoadBalancer("weblb", "203.0.113.80", 80, ("s1web",)),)),
     "internet inet load-balancer weblb: vip 203.0.113.80 is the address of public-host web-out"),
    ("the SNAT address on a public host", lambda c: edge(c, snat_address="203.0.113.80"),
     "internet inet: snat-address 203.0.113.80 is the address of public-host web-out"),
    ("a backend outside the edge's segments", lambda c: edge(c, segments=()),
     "internet inet load-balancer weblb: backend s1web is in segment spokes, which internet inet does not serve"),
    ("a backend that is no host", lambda c: edge(c, load_balancers=(LoadBalancer("weblb", "198.51.100.10", 80, ("nobody",)),)),
     "internet inet load-balancer weblb: backend nobody is not a host of the lab"),
    ("a port out of range", lambda c: edge(c, load_balancers=(LoadBalancer("weblb", "198.51.100.10", 70000, ("s1web",)),)),
     "internet inet load-balancer weblb: port 70000 is out of range (1-65535)"),
    ("a rule port out of range", lambda c: c.put("firewall", replace(fw(c), rules=(FirewallRule(5, "permit", "tcp", "any", "any", "eq 0"),))),
     "firewall fw1 rule 5: port 0 is out of range (1-65535)"),
    ("a firewall on an unknown hub", lambda c: c.put("firewall", replace(fw(c), cxp="mars")), "firewall fw1: cxp mars does not exist"),
    ("an edge on an unknown hub", lambda c: edge(c, cxp="mars"), "internet inet: cxp mars does not exist"),
    ("an edge inspected from another hub", lambda c: edge(c, cxp="east").put("cxp", Cxp("east")),
     "internet inet: inspect firewall fw1: the firewall is on cxp core, the edge on cxp east"),
    ("a public host named like a lab host", lambda c: edge(c, public_hosts=(PublicHost("s2app", "203.0.113.9"),)),
     "internet inet: public-host s2app has the name of a host of vpc spoke2"),
    # a zone named like a rule keyword would be read as the keyword ('from any' = every zone)
    ("a zone named any", lambda c: c.put("firewall", replace(fw(c), zones=(*fw(c).zones, Zone("any", segment="spokes")))),
     "firewall fw1 zone any: zone name any is a word of the rule line"),
    ("a zone named To, case-blind", lambda c: c.put("firewall", replace(fw(c), zones=(Zone("To", internet="inet"),))),
     "firewall fw1 zone To: zone name To is a word of the rule line"),
    # one public address, one role at one edge
    ("a VIP on the edge's snat-address", lambda c: edge(c, load_balancers=(LoadBalancer("weblb", "198.51.100.1", 80, ("s1web",)),)),
     "internet inet load-balancer weblb vip: address 198.51.100.1 is the edge's snat-address"),
    ("an snat-address on a VIP", lambda c: edge(c, snat_address="198.51.100.10"),
     "internet inet load-balancer weblb vip: address 198.51.100.10 is the edge's snat-address"),
    ("another edge's public host", lambda c: second_edge(c, public_hosts=(PublicHost("p3", "203.0.113.80"),)),
     "internet wan public-host p3: address 203.0.113.80 is already public-host web-out of internet inet"),
    ("another edge's VIP", lambda c: second_edge(c, load_balancers=(LoadBalancer("lb3", "198.51.100.10", 443, ("s1web",)),)),
     "internet wan load-balancer lb3 vip: address 198.51.100.10 is already load-balancer weblb vip of internet inet"),
    ("another edge's snat-address as snat-address", lambda c: second_edge(c, snat_address="198.51.100.1"),
     "internet wan snat-address: address 198.51.100.1 is already snat-address of internet inet"),
    ("another edge's snat-address as public host", lambda c: second_edge(c, public_hosts=(PublicHost("p3", "198.51.100.1"),)),
     "internet wan public-host p3: address 198.51.100.1 is already snat-address of internet inet"),
]


def second_edge(config: Config, **changes: object) -> Config:
    """A second edge, wan (no segments: it needs no snat-address), with `changes`."""
    base = {"name": "wan", "segments": (), "snat_address": None, "firewall": None, "public_hosts": (), "load_balancers": ()}
    return config.put("internet", replace(config.require("internet", "inet"), **{**base, **changes}))


def test_the_story_is_valid() -> None:
    assert errors(story()) == []


@pytest.mark.parametrize("what, change, expected", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_naming_the_object(what: str, change: object, expected: str) -> None:
    got = errors(change(story()))  # type: ignore[operator]
    assert any(expected in m for m in got), got


def test_refused_commit_changes_nothing(tmp_path: Path) -> None:
    fab = RecordingFabric()
    api = LabApi("t_fw", fab, LabStore("t_fw", tmp_path))
    api.set_candidate(story())
    api.commit()
    plan = fab.plan
    api.set_candidate(story().put("firewall", replace(fw(story()), instances=0, cxp="mars")))
    with pytest.raises(ValidationError) as err:
        api.commit()
    lines = err.value.lines()
    assert len(lines) == 3 and all(line.startswith("% ") for line in lines)
    assert "% firewall fw1: instances 0 is out of range (1-8)" in lines
    assert fab.plan is plan and api.running == story()


@pytest.mark.parametrize("line, message", [
    ("internet inet\n public-host p 10.1.1.1\n", "internet inet public-host p: 10.1.1.1 is not in the documentation ranges"),
    ("internet inet\n snat-address 192.0.2.255\n", "is the network or broadcast address of its range"),
    ("internet inet\n load-balancer l vip 1.1.1.1 port 80 backend a\n", "internet inet load-balancer l: vip 1.1.1.1 is not in the documentation"),
    ("firewall f\n rule 5 permit icmp from any to any eq 80\n", "firewall f rule 5: ports apply to tcp and udp only, not icmp"),
    ("firewall f\n instances 9\n", "Invalid input"),
    ("firewall f\n zone any segment s\n", "firewall f zone any: zone name any is a word of the rule line"),
])
def test_a_line_wrong_on_its_own_is_refused_when_typed(line: str, message: str) -> None:
    with pytest.raises(LoadError) as err:
        parse_config(line)
    assert any(message in x for x in err.value.lines()), err.value.lines()


def test_the_language_round_trips_and_removes_by_key() -> None:
    text = running_config(story()) + "\n"
    more = parse_config(text + "firewall fw1\n zone intranet segment other\ninternet inet\n"
                        " load-balancer two vip 198.51.100.11 port 443 backend s1web backend s2app\n")
    printed = running_config(more) + "\n"
    assert " load-balancer two vip 198.51.100.11 port 443 backend s1web backend s2app" in printed
    assert parse_config(printed) == more
    less = parse_config(printed + "firewall fw1\n no zone intranet segment other\ninternet inet\n no load-balancer two\n")
    assert less == parse_config(text)
    gone = parse_config(printed + "firewall fw1\n no zone intranet\n")
    assert {z.name for z in gone.require("firewall", "fw1").zones} == {"internet"}


def test_jhash_is_lookup3() -> None:
    # Bob Jenkins' published lookup3 values (hashlittle); Linux's jhash is the same function
    assert jhash(b"", 0) == 0xDEADBEEF and jhash(b"", 0xDEADBEEF) == 0xBD5B7DDE
    assert jhash(b"Four score and seven years ago", 0) == 0x17770551
    assert jhash(b"Four score and seven years ago", 1) == 0xCD628161
    picks = [choose("10.0.1.10", "10.0.2.10", 6, p, 80, 3) for p in range(1000, 1300)]
    assert set(picks) == {0, 1, 2}
    assert choose("10.0.1.10", "10.0.2.10", 1, None, None, 3) == choose("10.0.1.10", "10.0.2.10", 1, 5, 6, 3)  # icmp: no ports


def test_more_instances_keep_every_target_and_instance() -> None:
    three, four = story(), story()
    three = three.put("firewall", replace(fw(three), instances=3))
    four = four.put("firewall", replace(fw(four), instances=4))
    a, b = (layout_of("t", c, fabric_of("t", c)) for c in (three, four))
    for ns, keys in a.blocks.items():
        for key, base in keys.items():
            assert b.blocks[ns][key] == base
    pa, pb = compile_plan("t", three), compile_plan("t", four)
    rules_a = {i.key: i for i in pa.of_kind("rule") if isinstance(i, RuleItem)}
    rules_b = {i.key: i for i in pb.of_kind("rule") if isinstance(i, RuleItem)}
    assert all(rules_b.get(k) == r for k, r in rules_a.items())  # nothing of instances 1-3 changes
    assert {i.ns for i in pb.of_kind("ns")} - {i.ns for i in pa.of_kind("ns")} == {"t-f-fw1@4"}
    instance_tables = {i.ns: i.ruleset for i in pa.of_kind("nft") if isinstance(i, NftItem) and "-f-" in i.ns}
    assert len(set(instance_tables.values())) == 1  # every instance has the same table


def test_target_blocks_are_stable_and_disjoint() -> None:
    names = [f"share s{i}" for i in range(20)]
    got = blocks(names)
    assert len(set(got.values())) == 20 and all((v - 1) % BLOCK == 0 and v + BLOCK - 1 <= 248 for v in got.values())
    more = blocks(names + ["firewall f"])
    assert sum(more[k] != v for k, v in got.items()) <= 1  # a new link moves another only when their hashes collide
    assert target_of(0x3E900) == 0xE9


def test_zones_on_legs_and_rules_first_match() -> None:
    c = story()
    layout = layout_of("t", c, fabric_of("t", c))
    legs = {f.ifname: f for f in facings(c, layout, "fw1")}
    assert set(legs) == {"g.spokes", "ia.spokes", "ib.spokes"}
    numbers = zone_numbers(fw(c))
    assert [(str(n), z) for n, z in members(c, fw(c), legs["g.spokes"])] == [("10.40.0.0/15", numbers["intranet"])]
    assert [(str(n), z) for n, z in members(c, fw(c), legs["ib.spokes"])] == [("0.0.0.0/0", numbers["internet"])]
    intranet, internet = numbers["intranet"], numbers["internet"]
    assert first_rule(fw(c), 6, intranet, internet, 80).seq == 10  # type: ignore[union-attr]
    assert first_rule(fw(c), 6, intranet, intranet, 22).seq == 100  # type: ignore[union-attr]
    assert first_rule(replace(fw(c), rules=()), 6, intranet, intranet, 22) is None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["permit", "deny"]), st.sampled_from(["tcp", "udp", "icmp", "ip"]),
                          st.sampled_from(["a", "b", "c", "any"]), st.sampled_from(["a", "b", "c", "any"]),
                          st.sampled_from([None, "eq 80", "eq 443", "range 70 90"])), max_size=12),
       st.tuples(st.sampled_from([1, 6, 17]), st.integers(0, 3), st.integers(0, 3), st.sampled_from([80, 443, 75, 22])))
def test_rule_runs_keep_the_first_match(raw: list[tuple[str, str, str, str, str | None]], pkt: tuple[int, int, int, int]) -> None:
    """The runs the kernel consults in order (at most one element of a run
    matches) give what a linear first-match reading of the rules gives."""
    rules = tuple(FirewallRule((i + 1) * 10, a, p, s, d, ports if p in ("tcp", "udp") else None) for i, (a, p, s, d, ports) in enumerate(raw))
    f = Firewall("f", zones=(Zone("a", "x"), Zone("b", "y"), Zone("c", "z")), rules=rules)
    proto, src, dst, port = pkt
    point = (proto, zone_value(src) if src else 0, zone_value(dst) if dst else 0, port)
    by_runs = None
    for run in rule_runs(f):
        hits = [r for r, els in run if any(all(b[2 * i] <= v <= b[2 * i + 1] for i, v in enumerate(point)) for b, _k, _e in els)]
        assert len(hits) <= 1
        if hits:
            by_runs = hits[0]
            break
    numbers = {"a": 1, "b": 2, "c": 3}
    linear = next((r for r in rules if r.protocol in ("ip", {1: "icmp", 6: "tcp", 17: "udp"}[proto])
                   and r.src_zone in ("any", {v: k for k, v in numbers.items()}.get(src))
                   and r.dst_zone in ("any", {v: k for k, v in numbers.items()}.get(dst))
                   and (r.ports is None or int(r.ports.split()[1]) <= port <= int(r.ports.split()[-1]))), None)
    assert by_runs == linear
    assert first_rule(f, proto, src, dst, port) == linear


def test_the_compiled_tables_say_what_the_design_says() -> None:
    plan = compile_plan("t", story())
    tables = {i.ns: i.ruleset for i in plan.of_kind("nft") if isinstance(i, NftItem)}
    router, inst, inet = tables["t-s-spokes@core"], tables["t-f-fw1@1"], tables["t-i-inet"]
    assert "ct state new iifname != { \"f1.fw1\", \"f2.fw1\" } ip saddr @seg_own ip daddr @seg_own jump classify" in router
    assert ": goto steer_fw1" in router and "fib daddr oifname { \"i1.inet\", \"i2.inet\" } jump wire_internet_inet" in router
    assert 'iifname . meta mark @came_by_target meta mark set 0x0' in router
    assert 'counter comment "firewall fw1 10" : jump fwlog_10' in inst and 'counter drop comment "firewall fw1 default"' in inst
    assert 'ct zone set iifname map { "g.spokes" : ' in inst
    assert "snat ip to 198.51.100.1" in inet and "ct original zone set iifname map" in inet
    assert 'dnat ip to 10.40.1.10' in inet and "ct direction original ct status dnat accept" in inet
    routes = [r for r in plan.of_kind("route") if getattr(r, "meta", None) is not None and r.meta.origin == "internet"]  # type: ignore[attr-defined]
    assert [(r.ns, r.dst) for r in routes] == [("t-s-spokes@core", "0.0.0.0/0")]  # type: ignore[attr-defined]
    assert sum(1 for i in plan.of_kind("svc") if i.ns == "t-p-web-out") == 1


def test_a_commit_notes_inspection_the_policy_cannot_do(tmp_path: Path) -> None:
    """The policy steers east-west only: an entry that also covers internet
    traffic its firewall does not inspect at the edge is noted, once."""
    api = LabApi("t_note", RecordingFabric(), LabStore("t_note", tmp_path))
    uninspected = edge(story(), firewall=None)
    api.set_candidate(uninspected)
    first = api.commit()
    assert any(m.startswith("note: segment spokes policy 10 inspect fw1 also matches traffic to and from internet inet") for m in first.messages)
    api.set_candidate(uninspected.put("firewall", replace(fw(uninspected), instances=3)))
    assert not any(m.startswith("note:") for m in api.commit().messages)
    api.set_candidate(story())
    assert not any(m.startswith("note:") for m in api.commit().messages)
