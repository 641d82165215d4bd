"""repair_ops: what drifted is put back, and nothing else is touched."""

from __future__ import annotations

from engine.compile import compile_plan
from engine.diff import repair_ops
from shell.loader import parse_config
from tests.configs import PORTAL

PLAN = compile_plan("x", parse_config(PORTAL))


def keys(ops: list) -> list[tuple[str, tuple[str, ...]]]:  # type: ignore[type-arg]
    return [(op.action, op.item.key) for op in ops]


def test_a_missing_route_is_added_alone() -> None:
    route = ("route", "x-s-provider@core", "10.1.0.0/16")
    assert keys(repair_ops(PLAN, {route}, set())) == [("add", route)]


def test_a_different_route_and_table_change_in_place() -> None:
    route, table = ("route", "x-s-provider@core", "10.1.0.0/16"), ("nft", "x-s-provider@core")
    assert set(keys(repair_ops(PLAN, set(), {route, table}))) == {("add", route), ("add", table)}


def test_a_different_veth_takes_what_depends_on_it_along() -> None:
    veth = ("veth", "x-s-provider@core", "v.portal")
    ops = repair_ops(PLAN, set(), {veth})
    assert ops[0].action == "remove" and ops[0].item.key == veth and sum(op.action == "remove" for op in ops) == 1
    added = {op.item.key for op in ops if op.action == "add"}
    assert veth in added and ("route", "x-s-provider@core", "10.1.0.0/16") in added  # the kernel took the route with the link
    assert ("route", "x-s-cust-a@core", "172.31.255.10/32") not in added  # elsewhere: untouched


def test_a_missing_namespace_brings_back_everything_in_it() -> None:
    ns = ("ns", "x-v-portal")
    added = {op.item.key for op in repair_ops(PLAN, {ns}, set())}
    assert ns in added and all(k in added for k, item in PLAN.items.items() if item.ns == "x-v-portal")
    assert all(op.action == "add" for op in repair_ops(PLAN, {ns}, set()))
    assert repair_ops(PLAN, {("route", "x-nowhere", "1.0.0.0/8")}, set()) == []  # not in the plan: nothing


def test_a_missing_link_brings_back_its_settings_addresses_and_routes() -> None:
    """The kernel took them with the link; its settings (up) are never
    reported missing on their own, and a route over a link that is down
    cannot be added (found by the endpoints' lab test)."""
    veth = ("veth", "x-s-provider@core", "v.portal")
    ops = repair_ops(PLAN, {veth}, set())
    added = [op.item.key for op in ops]
    assert all(op.action == "add" for op in ops) and veth in added
    conf, route = ("conf", "x-v-portal", "uplink"), ("route", "x-s-provider@core", "10.1.0.0/16")
    assert conf in added and route in added and added.index(conf) < added.index(route)
    assert ("route", "x-s-cust-a@core", "172.31.255.10/32") not in added
