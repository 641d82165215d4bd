"""The monitor's data side without a screen: rates, history, the flow
window, Top sums, scopes, the topology of a Config."""

from __future__ import annotations

import pytest

from engine.tree import tree_rows
from shell.loader import parse_config
from tests.configs import ENDPOINTS, PORTAL
from tests.monitor_data import FixedSource, flow_rows
from tui.flowwindow import Filter, FlowFeed, flow_key, nat_text, row_key, scoped
from tui.rates import CounterRates, History
from tui.scope import Scope, scope_of
from tui.screens.interval import parse_interval
from tui.screens.topology import kept_rows
from tui.talkers import GroupIndex, TopFeed
from tui.widgets.sparkline import sparkline


def test_counter_rates_never_negative_and_restart_on_a_cleared_counter() -> None:
    rates = CounterRates()
    assert rates.update(10.0, ["a"], [(100, 1000)]) == [None]  # first reading: unknown
    assert rates.update(12.0, ["a", "b"], [(110, 1400), (1, 1)]) == [(5.0, 200.0), None]
    assert rates.update(14.0, ["b", "a"], [(3, 5), (3, 40)]) == [(1.0, 2.0), None]  # a restarted
    assert rates.update(14.0, ["a"], [(4, 50)]) == [None]  # no time passed: no rate
    rates.forget()
    assert rates.update(20.0, ["a"], [(5, 60)]) == [None]


def test_history_keeps_one_minute_in_time_slots_and_drops_idle_keys() -> None:
    h = History(60.0)
    h.add(0.0, {"x": 10.0})
    h.add(30.0, {"x": 20.0, "y": 5.0})
    assert h.series("x", 30.0, 6) == [0, 0, 0, 10.0, 0, 20.0]
    h.add(61.0, {})  # x's first sample is older than a minute now
    assert h.series("x", 61.0, 6)[:5] == [0, 0, 20.0, 0, 0]
    h.add(100.0, {})
    assert "x" not in h and "y" not in h


def test_filter_regex_inverts_and_reports_bad_expressions() -> None:
    assert Filter("!web").predicate()("corp web") is False  # type: ignore[misc]
    assert Filter("!web").predicate()("corp ssh") is True  # type: ignore[misc]
    assert Filter("WEB").predicate()("corp web") is True  # type: ignore[misc]
    assert Filter("").predicate() is None
    assert "bad filter" in (Filter("(").error() or "")


def test_flow_window_sorts_limits_and_totals_over_all_that_match() -> None:
    src = FixedSource(flows=1000)
    feed = FlowFeed()
    snap = src.snapshot()
    feed.read(src.flows(snap), 0.0)
    feed.read(src.flows(snap), 2.0)
    w = feed.window(Filter(), "rate", False, 50)
    assert (w.total, w.matching, len(w.rows)) == (1000, 1000, 50)
    rates = [s.rate[0] + s.rate[1] for s in w.rows if s.rate]
    assert rates == sorted(rates, reverse=True) and rates[0] == 10 * 100 * 3 / 2  # i % 11 == 10: 1000 B out, 2000 in per 2 s
    assert w.rate_out == sum(s[2][0] for s in feed.items if s[2])
    web = feed.window(Filter("web"), "src", False, 10_000)
    assert web.matching == 250 and all(s.row["dport"] == 443 for s in web.rows)
    srcs = [s.row["src"] for s in web.rows]
    assert srcs == sorted(srcs)
    assert [s.key for s in feed.window(Filter("web"), "src", True, 10_000).rows] == [s.key for s in web.rows][::-1]
    assert feed.window(Filter("!web"), "rate", False, 10_000).matching == 750


def test_flow_key_separates_tenants_with_the_same_addresses() -> None:
    a = {"segment": "cust-a", "protocol": "tcp", "src": "10.1.1.10", "sport": 5, "dst": "172.31.255.10", "dport": 7, "icmp_id": None}
    assert flow_key(a) != flow_key({**a, "segment": "cust-b"}) and row_key(flow_key(a)) == "cust-a|tcp|10.1.1.10|5|172.31.255.10|7|"
    assert nat_text({**a, "nat": {"src": "100.64.1.10", "sport": 5, "dst": "172.31.255.10", "dport": 7}}) == "src 100.64.1.10:5"


def test_pings_between_two_hosts_are_two_flows_and_flows_from_the_internet_sort_with_the_rest() -> None:
    """Two echo ids between the same hosts are two rows (the key holds the
    id), and a row with no segment (None) or no ports ties with others
    under every sort without a TypeError (it stopped the Flows screen)."""
    ping = {**flow_rows(1)[0], "protocol": "icmp", "sport": None, "dport": None, "application": None, "state": None}
    rows = [{**ping, "icmp_id": 7}, {**ping, "icmp_id": 8}, {**ping, "segment": None, "icmp_id": 9}, *flow_rows(3)]
    feed = FlowFeed()
    feed.read(rows, 0.0)
    for sort in ("rate", "segment", "src", "dst", "age", "bytes_out", "application", "rule", "state"):
        w = feed.window(Filter(), sort, False, 10)
        assert len(w.rows) == 6 and len({s.key for s in w.rows}) == 6, sort
    top = TopFeed()
    apps = {t.name for t in top.read(0.0, rows, [])["applications"]}
    assert "icmp" in apps and not any("None" in a for a in apps)


def test_top_sums_talkers_groups_and_shares_with_history() -> None:
    src = FixedSource(flows=44)
    snap = src.snapshot()
    top = TopFeed()
    top.set_groups(snap.number, src.groups(snap))
    for now in (0.0, 2.0, 4.0):
        tables = top.read(now, src.flows(snap), src.share_traffic(snap))
    segments = {t.name: t for t in tables["segments"]}
    assert set(segments) == {"corp", "prod", "dev", "partner"} and all(t.flows == 11 for t in segments.values())
    assert sum(t.out for t in segments.values()) == pytest.approx(sum(r[0] for _, _, r in top.flows.items if r))
    share = tables["shares"][0]
    assert share.name.startswith("portal") and (share.out, share.into) == (2500.0, 10000.0)
    assert share.history[-1] == 12500.0 and sparkline(share.history).plain.endswith("█")
    assert tables["groups"] and tables["groups"][0].name == "clients"


def test_group_index_finds_the_group_of_an_address_per_segment() -> None:
    idx = GroupIndex([{"group": "web", "segment": "corp", "prefixes": ["10.1.0.0/16"]}])
    assert idx.group("corp", "10.1.2.3") == "web"
    assert idx.group("prod", "10.1.2.3") is None and idx.group("corp", "10.2.0.1") is None


def test_scopes_from_the_engines_topology() -> None:
    rows = tree_rows("t", parse_config(PORTAL))
    alice = scope_of(rows, "host:alice")
    assert alice == Scope("host", "alice") and alice.flow_filters() == {"host": "alice"}
    assert alice.route_filters() == {"vpc": "wan-a"} and alice.policy_scope() == ("segment", "cust-a")
    share = scope_of(rows, "share:portal-a")
    assert share is not None and share.flow_filters() == {"share": "portal-a"} and share.route_filters() == {}
    assert share.text("routes") == "portal-a"
    hub = scope_of(rows, "cxp:core")
    assert hub is not None and hub.flow_filters() == {} and hub.text("flows") == "core" and hub.route_filters() == {"cxp": "core"}
    subnet = scope_of(rows, "subnet:wan-b/lan")
    assert subnet is not None and subnet.flow_filters() == {"vpc": "wan-b"}


def test_an_endpoint_scopes_flows_by_its_address_in_their_hops() -> None:
    """Its consumers live in other VPCs and segments (a VPC filter would
    miss them): the flows whose hops reach its address, a NAT'ed consumer's
    included; its VPC's routes, its segment's policy."""
    ep = scope_of(tree_rows("t", parse_config(ENDPOINTS)), "endpoint:endpoints/s3ep")
    assert ep is not None and ep.flow_filters() == {} and ep.text("flows") == "10.50.1.20"
    assert ep.route_filters() == {"vpc": "endpoints"} and ep.policy_scope() == ("segment", "apps")
    base = flow_rows(1)[0]
    direct = {**base, "dst": "10.50.1.20", "dport": 443}
    natted = {**base, "dst": "100.70.1.20", "dport": 443, "path": [{"node": "segment apps cxp east", "dst": "10.50.1.20"}]}
    other = {**base, "dst": "10.50.1.201", "dport": 443, "path": [{"node": "segment apps cxp east", "dst": "10.50.1.201"}]}
    assert scoped([direct, natted, other], ep.text("flows")) == [direct, natted]


def test_topology_filter_keeps_ancestors() -> None:
    rows = tree_rows("t", parse_config(PORTAL))
    kept = kept_rows(rows, Filter("alice"))
    assert [r["id"] for r in kept] == ["cxp:core", "segment:cust-a@core", "vpc:wan-a", "subnet:wan-a/lan", "host:alice"]


def test_interval_input() -> None:
    assert parse_interval("5") == 5.0 and parse_interval("0.5s") == 0.5
    assert parse_interval("0") is None and parse_interval("fast") is None and parse_interval("1e9") is None
    assert parse_interval("\u0663") is None and parse_interval("1e2") is None and parse_interval("inf") is None and parse_interval("1_0") is None
    assert parse_interval(" 2.5s ") == 2.5 and parse_interval(".5") == 0.5


def test_synthetic_rows_have_exactly_the_show_flows_fields() -> None:
    fields = {"protocol", "src", "sport", "dst", "dport", "segment", "application", "state", "nat", "packets_out", "bytes_out",
              "packets_in", "bytes_in", "firewall", "firewall_instance", "rule", "path"}
    assert all(set(r) - {"age", "icmp_id"} == fields for r in flow_rows(20))


def test_cells_are_never_markup() -> None:
    from tui.flowwindow import cell, cells

    assert cell("[bold red]x[/]").plain == "[bold red]x[/]"
    row = {**flow_rows(1)[0], "application": "[b]web", "rule": None, "nat": None}
    assert "[b]web" in [c.plain for c in cells(row, None)]
    assert cells(row, (1.0, 0.0))[0] != cells(row, None)[0]  # the highlight is part of the cell's equality
