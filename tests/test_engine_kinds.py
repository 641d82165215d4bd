"""Plan item kinds declare themselves; the diff and the lab follow the
declarations; policy routing (rules, routes in other tables) diffs like
every other kind."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.compile import compile_plan
from engine.diff import plan_diff, simulate
from engine.items import ITEM_KINDS, MAIN_TABLE, PlanItem, RouteItem, RuleItem, kind_rank
from engine.plan import Plan, PlanBuilder
from engine.session import PlanChanges
from lab.realisers import REALISERS
from tests.test_engine import configs


def test_every_kind_has_one_order_and_one_realiser() -> None:
    ranks = kind_rank()
    assert len(set(ranks.values())) == len(ranks)
    assert sorted(ITEM_KINDS, key=ranks.__getitem__) == ["ns", "bridge", "veth", "conf", "addr", "route", "rule", "nft", "data", "svc"]
    assert set(REALISERS) == set(ITEM_KINDS)


def test_routes_of_other_tables_are_other_items() -> None:
    main = RouteItem("n", "10.0.0.0/8", type="unreachable")
    other = RouteItem("n", "10.0.0.0/8", type="unreachable", table=100)
    assert main.key == ("route", "n", "10.0.0.0/8") and main.table == MAIN_TABLE  # the key routes always had
    assert other.key == ("route", "n", "10.0.0.0/8", "table", "100")
    out = PlanBuilder()
    out.extend([main, other])
    assert len(out.build()) == 2


def test_commit_check_names_rules_and_tables() -> None:
    plan = Plan({i.key: i for i in (RuleItem("n", 100, 100, fwmark=0x10), RouteItem("n", "0.0.0.0/0", table=100, type="unreachable"))})
    assert PlanChanges(tuple(plan_diff(Plan(), plan))).lines() == ["+ route n 0.0.0.0/0 table 100", "+ rule n 100"]


def test_a_changed_rule_is_replaced_and_a_changed_route_changed_in_place() -> None:
    rule, route = RuleItem("n", 100, 100, fwmark=0x10), RouteItem("n", "10.0.0.0/8", table=100, type="unreachable")
    old = Plan({i.key: i for i in (rule, route)})
    new = Plan({rule.key: RuleItem("n", 100, 200, fwmark=0x10), route.key: RouteItem("n", "10.0.0.0/8", "10.1.1.1", "eth0", table=100)})
    assert [(op.action, op.kind) for op in plan_diff(old, new)] == [("remove", "rule"), ("add", "route"), ("add", "rule")]


@st.composite
def plans_with_policy_routing(draw: st.DrawFn) -> Plan:
    """A compiled plan plus rules and routes of tables 100 and 200 in its
    namespaces, some through the namespace's links (so that removing a VPC
    takes them down and the diff must know)."""
    plan = compile_plan("t", draw(configs()))
    spaces = plan.namespaces()
    if not spaces:
        return plan
    extra: list[PlanItem] = []
    for _ in range(draw(st.integers(0, 8))):
        ns = draw(st.sampled_from(spaces))
        table = draw(st.sampled_from([100, 200]))
        if draw(st.booleans()):
            mark = draw(st.none() | st.sampled_from([0x10, 0x20]))
            extra.append(RuleItem(ns, draw(st.sampled_from([100, 200, 300])), table, fwmark=mark, iif=draw(st.none() | st.just("uplink"))))
            continue
        links = sorted(i.ifname for i in plan.of_kind("conf") if i.ns == ns and i.ifname != "lo")  # type: ignore[attr-defined]
        dst = draw(st.sampled_from(["0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16"]))
        if links and draw(st.booleans()):
            extra.append(RouteItem(ns, dst, "169.254.1.1", draw(st.sampled_from(links)), onlink=True, table=table))
        else:
            extra.append(RouteItem(ns, dst, type="unreachable", table=table))
    return Plan({**plan.items, **{i.key: i for i in extra}})


@settings(max_examples=150, deadline=None)
@given(plans_with_policy_routing(), plans_with_policy_routing())
def test_diff_then_simulate_equals_target_with_rules_and_tables(a: Plan, b: Plan) -> None:
    """OVN's property on the new kinds: applying A then the diff to B is B."""
    assert simulate(a, plan_diff(a, b)).items == b.items
    assert plan_diff(b, b) == []
    assert simulate(Plan(), plan_diff(Plan(), b)).items == b.items
