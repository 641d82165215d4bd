"""What a commit ends, without a kernel (engine/ending.py): the links it
removes and how their connections end, the connections new firewall rules
refuse on a share's wire (as the instance saw them, after the sender's NAT),
each connection ended whole on every router it crossed."""

from __future__ import annotations

import socket
import textwrap
from dataclasses import replace

from engine import ending
from engine.compile import compile_plan
from engine.datapath import Model, steering
from engine.diff import plan_diff
from engine.marks import ORIGIN, ORIGINAL, REPLY, pin_value
from engine.model import Config
from engine.ports import Tracked
from shell.loader import parse_config

LAB = "x"
WIRED = textwrap.dedent(
    """\
    segment corp
    !
    segment prov
    !
    vpc va
     segment corp
     cidr 10.71.0.0/16
     subnet s 10.71.1.0/24
     host a1 10.71.1.10
    !
    vpc vp
     segment prov
     cidr 10.74.0.0/16
     subnet s 10.74.1.0/24
     host p1 10.74.1.10
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
     inspect firewall fw
    !
    firewall fw
     instances 2
     zone inside segment corp
     zone provider segment prov
     rule 10 permit tcp from inside to provider eq 7
     rule 20 permit tcp from inside to provider eq 22
    !
    """
)
ROUTER_A, ROUTER_B = f"{LAB}-s-corp@core", f"{LAB}-s-prov@core"


def entry(o: tuple[str, str, int, int], r: tuple[str, str, int, int], mark: int) -> Tracked:
    """An established tcp entry: original and reply (src, dst, sport, dport)."""
    ip = socket.inet_aton
    return Tracked(6, 3, mark, None, None, ip(o[0]), ip(o[1]), o[2], o[3], 1, 60, ip(r[0]), ip(r[1]), r[2], r[3], 1, 60, *([None] * 6))


def wire_connection(model: Model, sport: int, dport: int) -> dict[str, list[Tracked]]:
    """A connection a1 -> p1 through the share's wire as its two routers track
    it: end-a pinned the instance entering the wire (after its SNAT to
    100.64.9.10), end-b answers back through it (reply-to)."""
    layout = steering.facts(model).layout
    wire = next(w for w in layout.wires if w.name == "link")
    at_a = pin_value(layout.target(wire.a.ns, wire.a.key, 1), ORIGINAL)
    at_b = pin_value(layout.target(wire.b.ns, wire.b.key, 1), REPLY)
    return {ROUTER_A: [entry(("10.71.1.10", "10.74.1.10", sport, dport), ("10.74.1.10", "100.64.9.10", dport, sport), at_a)],
            ROUTER_B: [entry(("100.64.9.10", "10.74.1.10", sport, dport), ("10.74.1.10", "100.64.9.10", dport, sport), at_b)]}


def compiled(config: Config) -> tuple[Model, list[str]]:
    plan = compile_plan(LAB, config)
    from engine.flows import flow_namespaces

    return Model(LAB, config, plan), flow_namespaces(plan)


def test_new_firewall_rules_refuse_a_wires_connection_as_the_instance_saw_it() -> None:
    config = parse_config(WIRED)
    old, spaces = compiled(config)
    fw = config.require("firewall", "fw")
    denied = config.put("firewall", replace(fw, rules=tuple(r for r in fw.rules if r.seq != 10)))  # port 7: the default denies
    new, _ = compiled(denied)
    change = ending.change_of(old, new, plan_diff(old.plan, new.plan), 0.0)
    assert change.firewalls == {"fw"} and not change.removed and not change.policies
    assert set(ending.first_spaces(change, old, new, set(spaces))) == {ROUTER_A, ROUTER_B}  # the wire's two ends
    raw = {ns: refused + kept for ns in (ROUTER_A, ROUTER_B)
           for refused, kept in [(wire_connection(new, 40000, 7)[ns], wire_connection(new, 40001, 22)[ns])]}  # fmt: skip
    found = ending.concerned(change, old, new, raw, set(spaces))
    # both routers judge it refused (end-a on the packet it sent into the wire, end-b on the one that arrived)
    assert sorted(k[0] for k in found.refused) == [ROUTER_A, ROUTER_B] and {k[5] for k in found.refused} == {7}
    ended = ending.whole(old, raw, found)
    assert {ns: [e.o_dport for e in rows] for ns, rows in ended.refuse.items()} == {ROUTER_A: [7], ROUTER_B: [7]}  # one connection, whole
    assert not ended.delete and ended.messages() == ("ended 1 connection(s) the new rules of firewall fw refuse",)


def test_removed_links_and_how_their_connections_end() -> None:
    config = parse_config(WIRED)
    old, spaces = compiled(config)
    fewer, _ = compiled(config.put("firewall", replace(config.require("firewall", "fw"), instances=1)))
    change = ending.change_of(old, fewer, plan_diff(old.plan, fewer.plan), 0.0)
    gone = set(change.removed.values())
    assert gone == {ending.Removed("firewall fw instance 2 (share link)", delete=False)}  # marked: the firewall still stands there
    raw = wire_connection(old, 40000, 7)
    layout = steering.facts(old).layout
    wire = next(w for w in layout.wires if w.name == "link")
    on_two = {ns: [e._replace(mark=pin_value(layout.target(side.ns, side.key, 2), mode)) for e in rows]
              for (ns, rows), side, mode in zip(wire_connection(old, 40001, 7).items(), (wire.a, wire.b), (ORIGINAL, REPLY), strict=True)}  # fmt: skip
    both = {ns: raw[ns] + on_two[ns] for ns in raw}
    found = ending.concerned(change, old, fewer, both, set(spaces))
    ended = ending.whole(old, both, found)
    assert {ns: [e.mark for e in rows] for ns, rows in ended.refuse.items()} == {ns: [e.mark for e in rows] for ns, rows in on_two.items()}
    assert ended.messages() == ("ended 1 connection(s) across what the commit removed: firewall fw instance 2 (share link) (1)",)

    unshared, _ = compiled(config.remove("resource-share", "link"))
    change = ending.change_of(old, unshared, plan_diff(old.plan, unshared.plan), 0.0)
    assert {r.delete for r in change.removed.values()} == {True}  # the share goes, and its wire through the firewall
    found = ending.concerned(change, old, unshared, raw, set(spaces))
    ended = ending.whole(old, raw, found)
    assert sum(len(rows) for rows in ended.delete.values()) == 2 and not ended.refuse  # its path is gone: deleted
    assert ended.messages() == ("ended 1 connection(s) across what the commit removed: firewall fw instance 1 (share link) (1)",)
    # made after the commit began: the new plan's, never ended
    late = ending.change_of(old, unshared, plan_diff(old.plan, unshared.plan), 0.0)
    young = {ns: [e._replace(start_ns=1) for e in rows] for ns, rows in raw.items()}
    assert not ending.concerned(replace(late, started_ns=1), old, unshared, young, set(spaces))


ACROSS_HUBS = textwrap.dedent(
    """\
    cxp east
    !
    segment a
    !
    segment b
    !
    vpc va
     segment a
     cidr 10.1.0.0/16
     subnet s 10.1.1.0/24
     host ha 10.1.1.10
    !
    vpc vb
     segment b
     cxp east
     cidr 10.2.0.0/16
     subnet s 10.2.1.0/24
     host hb 10.2.1.10
    !
    prefix-list A seq 5 permit 10.1.0.0/16
    !
    prefix-list B seq 5 permit 10.2.0.0/16
    !
    resource-share ab
     end-a segment a prefix-list A
     end-b segment b prefix-list B
     direction a-to-b
    !
    """
)


def test_a_connection_whose_middle_router_went_with_the_commit_is_one_connection() -> None:
    """The share on hub core goes, and with it segment b's router there (it
    was made for the share) and its backbone link: the connection's entries
    left are a@core's and b@east's, two pieces, ended and counted as one."""
    config = parse_config(ACROSS_HUBS)
    old, spaces = compiled(config)
    new, _ = compiled(config.remove("resource-share", "ab"))
    change = ending.change_of(old, new, plan_diff(old.plan, new.plan), 0.0)
    assert {r.what for r in change.removed.values()} >= {"share ab to segment b"}
    tuple_ = (("10.1.1.10", "10.2.1.10", 40000, 7), ("10.2.1.10", "10.1.1.10", 7, 40000))
    other = (("10.1.1.10", "10.2.1.10", 40001, 7), ("10.2.1.10", "10.1.1.10", 7, 40001))
    raw = {"x-s-a@core": [entry(*tuple_, ORIGIN), entry(*other, ORIGIN)], "x-s-b@east": [entry(*tuple_, 0), entry(*other, 0)]}
    found = ending.concerned(change, old, new, raw, set(spaces))
    ended = ending.whole(old, raw, found)
    assert {ns: len(rows) for ns, rows in ended.delete.items()} == {"x-s-a@core": 2, "x-s-b@east": 2}
    assert ended.messages() == ("ended 2 connection(s) across what the commit removed: share ab to segment b (2)",)


def test_only_commits_that_remove_a_link_or_load_a_table_build_the_models() -> None:
    """`may_end` lets a commit skip the two models (0.35 s at 1,000 VPCs)
    only where `change_of` could find nothing: adding a VPC; never where
    it finds something (a share removed, a rule changed, a VPC removed)."""
    config = parse_config(WIRED)
    va = config.require("vpc", "va")
    added = config.put("vpc", replace(va, name="vb", cidrs=("10.72.0.0/16",), subnets=(), hosts=()))
    rule_changed = parse_config(WIRED.replace("eq 22", "eq 23"))
    no_share = parse_config(WIRED.split("resource-share")[0] + "firewall fw" + WIRED.split("firewall fw", 2)[2])
    plan = compile_plan(LAB, config)
    for after, expected in ((added, False), (rule_changed, True), (no_share, True), (config.remove("vpc", "va"), True)):
        new_plan = compile_plan(LAB, after)
        ops = tuple(plan_diff(plan, new_plan))
        assert ending.may_end(plan, ops) is expected, after
        if expected is False:  # nothing to end: the models would have said so too
            change = ending.change_of(Model(LAB, config, plan), Model(LAB, after, new_plan), ops, 0.0)
            assert not change
