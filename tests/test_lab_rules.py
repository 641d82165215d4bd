"""Policy routing on real namespaces: rules and routes in other tables steer
marked packets, are read back and drift-checked, and applying A then B
equals B from scratch with them (what firewall steering builds on)."""

from __future__ import annotations

import subprocess
from dataclasses import replace

import pytest

from engine.compile import compile_plan
from engine.errors import CommitError
from engine.items import NftItem, PlanItem, RouteItem, RuleItem
from engine.plan import Plan
from lab import inventory
from tests.labutil import fabric, kernel_state, vpc

pytestmark = pytest.mark.lab

MARK_UDP_9999 = "  chain steer {\n    type filter hook prerouting priority mangle; policy accept;\n    udp dport 9999 meta mark set 0x10\n  }\n"


def two_vpcs():  # type: ignore[no-untyped-def]
    return fabric(["prod"], ["core"], [
        vpc("a", "prod", "10.1.0.0/16", {"ha": "10.1.1.10"}),
        vpc("b", "prod", "10.2.0.0/16", {"hb": "10.2.1.10"}),
    ])  # fmt: skip


def with_items(plan: Plan, *items: PlanItem) -> Plan:
    return Plan({**plan.items, **{i.key: i for i in items}})


def steered(lab: str, plan: Plan) -> tuple[Plan, str]:
    """The plan with, in the segment router: packets to udp 9999 marked 0x10,
    a rule sending mark 0x10 to table 100, and table 100 refusing hb."""
    router = f"{lab}-s-prod@core"
    table = plan.items[("nft", router)]
    assert isinstance(table, NftItem)
    marking = replace(table, ruleset=table.ruleset.rstrip()[:-1] + MARK_UDP_9999 + "}\n")
    rule = RuleItem(router, 100, 100, fwmark=0x10, fwmask=0xFF)
    refuse = RouteItem(router, "10.2.1.10/32", type="unreachable", table=100)
    return with_items(plan, marking, rule, refuse), router


def steered_lab(make_lab):  # type: ignore[no-untyped-def]
    """A real lab of `two_vpcs`, then the steered plan applied to it."""
    api = make_lab()
    api.set_candidate(two_vpcs())
    api.commit()
    base = api.session.running_plan()
    plan, router = steered(api.name, base)
    api.fabric.apply(base, plan)
    return api, plan, router


def test_a_rule_and_a_table_route_steer_marked_packets_and_drift_sees_them_go(make_lab):
    api, plan, router = steered_lab(make_lab)
    assert api.fabric.drift(plan) == []
    assert api.probe("hb", "ha", "udp", 9998).arrived  # unmarked: the main table delivers
    marked = api.probe("hb", "ha", "udp", 9999, timeout=0.5)
    assert marked.arrived is False and not marked.reachable  # marked: table 100 refuses it
    assert api.probe("hb", "ha", "icmp").reachable
    readings = {(r.table, r.dst): r for r in api.fabric.read_routes(plan)[router]}
    assert readings[(100, "10.2.1.10/32")].kind == "unreachable" and (254, "10.2.0.0/16") in readings

    subprocess.run(["ip", "-n", router, "rule", "del", "priority", "100"], check=True)
    assert [(d.ns, d.kind, d.name, d.problem) for d in api.fabric.drift(plan)] == [
        (router, "rule", "100: fwmark 0x10/0xff lookup 100", "missing")
    ]
    assert api.probe("hb", "ha", "udp", 9999).arrived  # without the rule the mark steers nothing
    subprocess.run(["ip", "-n", router, "route", "del", "unreachable", "10.2.1.10/32", "table", "100"], check=True)
    assert (router, "route", "10.2.1.10/32 table 100", "missing") in {(d.ns, d.kind, d.name, d.problem) for d in api.fabric.drift(plan)}


def test_a_changed_rule_is_reported_different(make_lab):
    api, plan, router = steered_lab(make_lab)
    subprocess.run(["ip", "-n", router, "rule", "del", "priority", "100"], check=True)
    subprocess.run(["ip", "-n", router, "rule", "add", "priority", "100", "fwmark", "0x10/0xff", "lookup", "101", "proto", "77"], check=True)
    assert [(d.kind, d.problem) for d in api.fabric.drift(plan)] == [("rule", "different (kernel: 100: fwmark 0x10/0xff lookup 101)")]


def policy_routing(lab: str, tables: dict[int, list[str]], rules: list[tuple[int, int, int | None, str | None]]) -> list[PlanItem]:
    """Rules (priority, table, mark, iif) and unreachable routes per table in
    both routers of `two_vpcs`-like labs (and one via a link)."""
    items: list[PlanItem] = []
    for router in (f"{lab}-s-prod@core", f"{lab}-v-a"):
        for table, dsts in tables.items():
            items += [RouteItem(router, d, type="unreachable", table=table) for d in dsts]
        items += [RuleItem(router, p, t, fwmark=m, iif=i) for p, t, m, i in rules]
    items.append(RouteItem(f"{lab}-v-a", "10.9.0.0/16", "10.1.1.10", "b.s1", onlink=True, table=100))
    return items


def plan_a(lab: str) -> Plan:
    plan = compile_plan(lab, two_vpcs())
    return with_items(plan, *policy_routing(lab, {100: ["10.2.0.0/16", "10.3.0.0/16"], 200: ["10.4.0.0/16"]},
                                            [(100, 100, 0x10, None), (200, 200, None, "uplink"), (300, 100, 0x20, None)]))


def plan_b(lab: str) -> Plan:
    config = two_vpcs().put("vpc", vpc("c", "prod", "10.5.0.0/16", {"hc": "10.5.1.10"}))
    plan = compile_plan(lab, config)
    return with_items(plan, *policy_routing(lab, {100: ["10.2.0.0/16"], 300: ["10.6.0.0/16"]},
                                            [(100, 300, 0x10, None), (300, 100, 0x20, "uplink"), (400, 100, None, None)]))


def normalised(lab: str) -> dict[str, str]:
    return {ns[len(lab):]: repr(v).replace(lab, "LAB") for ns, v in kernel_state(lab + "-").items()}


def test_applying_a_then_b_equals_b_from_scratch_with_rules_and_tables(make_lab):
    incremental, scratch = make_lab(), make_lab()
    a = plan_a(incremental.name)
    incremental.fabric.apply(Plan(), a)
    incremental.fabric.apply(a, plan_b(incremental.name))
    scratch.fabric.apply(Plan(), plan_b(scratch.name))
    assert normalised(incremental.name) == normalised(scratch.name)
    state = inventory.read_ns(f"{scratch.name}-v-a")
    assert sorted(state.rules) == [100, 300, 400] and state.rules[300].iif == "uplink"
    assert {t for t, _ in state.routes} == {100, 254, 300}
    assert incremental.fabric.drift(plan_b(incremental.name)) == []


@pytest.mark.parametrize("fail_at", [2, 5, 9])
def test_a_failed_apply_restores_rules_and_tables_exactly(make_lab, fail_at):
    count = {"n": 0, "armed": False}

    def fault(op):  # type: ignore[no-untyped-def]
        if count["armed"]:
            count["n"] += 1
            if count["n"] == fail_at:
                raise OSError("injected failure")

    api = make_lab(fault=fault)
    a = plan_a(api.name)
    api.fabric.apply(Plan(), a)
    before = normalised(api.name)
    count["armed"] = True
    with pytest.raises(CommitError, match="restored"):
        api.fabric.apply(a, plan_b(api.name))
    assert normalised(api.name) == before
