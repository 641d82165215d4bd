"""Stitched flows, pure: entries as the kernel would hold them, joined and shown."""

from __future__ import annotations

import socket

from engine.compile import compile_plan
from engine.datapath import Model
from engine.flows import TEXT_COLUMNS, FlowView
from engine.marks import ORIGIN
from engine.ports import Tracked
from shell.loader import parse_config
from shell.plain import columns, heading, widths
from tests.configs import PORTAL

A = socket.inet_aton


def entry(src: str, dst: str, sport: int, dport: int, r_src: str, r_dst: str, proto: int = 17, start: int | None = None) -> Tracked:
    """An entry whose first packet arrived as src:sport > dst:dport and left as r_dst > r_src."""
    return Tracked(proto, None, 0, None, start, A(src), A(dst), sport, dport, 1, 30, A(r_src), A(r_dst), dport, sport, 1, 30,
                   *([None] * 6))  # fmt: skip


def portal_flows(n: int) -> tuple[Model, dict[str, list[Tracked]]]:
    """n datagrams from alice and one from bill to the portal: each has an
    entry in its customer's router (SNAT) and in the provider's (DNAT)."""
    config = parse_config(PORTAL)
    m = Model("x", config, compile_plan("x", config))
    raw: dict[str, list[Tracked]] = {"x-s-cust-a@core": [], "x-s-cust-b@core": [], "x-s-provider@core": []}
    for i in range(n):
        raw["x-s-cust-a@core"].append(entry("10.1.1.10", "172.31.255.10", 40000 + i, 7, "172.31.255.10", "100.64.1.10", start=10**18))
        raw["x-s-provider@core"].append(entry("100.64.1.10", "172.31.255.10", 40000 + i, 7, "10.1.200.10", "100.64.1.10"))
    raw["x-s-cust-b@core"].append(entry("10.1.1.10", "172.31.255.10", 40000, 7, "172.31.255.10", "100.64.2.10"))
    raw["x-s-provider@core"].append(entry("100.64.2.10", "172.31.255.10", 40000, 7, "10.1.200.10", "100.64.2.10"))
    return m, raw


def test_entries_are_stitched_one_row_per_connection_even_with_the_same_tuple() -> None:
    """alice and bill send the same tuple; their NAT sets them apart where they meet."""
    m, raw = portal_flows(3)
    rows = FlowView(m, raw, 2e9).rows()
    assert len(rows) == 4
    assert sorted((r["segment"], r["nat"]["src"]) for r in rows if r["sport"] == 40000) == [("cust-a", "100.64.1.10"), ("cust-b", "100.64.2.10")]
    for r in rows:
        assert [h["node"] for h in r["path"]][1:] == [f"share portal-{r['segment'][-1]}", "segment provider cxp core"]
        assert r["nat"]["dst"] == "10.1.200.10" and r["application"] == "uecho (udp-echo)"
        assert [h["sport"] for h in r["path"]] == [r["sport"]] * 3
    assert [r["age"] for r in rows if r["segment"] == "cust-a"] == [1e9] * 3 and FlowView(m, raw, 2e9, sort="age").rows()[-1]["age"] is None
    assert len(FlowView(m, raw, 2e9, share="portal-b").chains) == 1 and len(FlowView(m, raw, 2e9, top=2).rows()) == 2


def test_the_fast_text_lines_are_the_plain_columns_of_the_cells() -> None:
    m, raw = portal_flows(700)
    view = FlowView(m, raw, 2e9)
    sizes = widths(list(view.cells())[:500], TEXT_COLUMNS)
    assert [*heading(TEXT_COLUMNS, sizes), *view.lines(sizes)] == list(columns(view.cells(), TEXT_COLUMNS))
    assert "cust-a@core > share portal-a > provider@core" in next(view.lines(sizes))


ENDPOINT_VPC = """\
segment corp
!
endpoint-service store
 kind tcp-echo
 port 7000
!
vpc va
 segment corp
 cidr 10.71.0.0/16
 subnet s 10.71.1.0/24
 host a1 10.71.1.10
 endpoint ep service store address 10.71.1.21
!
vpc vb
 segment corp
 cidr 10.72.0.0/16
 subnet s 10.72.1.0/24
 host b1 10.72.1.10
!
"""


def test_a_vpc_router_that_tracks_is_the_first_hop_of_the_connection_not_a_row_of_its_own() -> None:
    """A VPC router with endpoints has a table, so it tracks its VPC's
    connections too, before the segment router that marks them ORIGIN."""
    config = parse_config(ENDPOINT_VPC)
    m = Model("x", config, compile_plan("x", config))
    vpc_entry = entry("10.71.1.10", "10.72.1.10", 40000, 7, "10.72.1.10", "10.71.1.10", proto=6)
    raw = {"x-v-va": [vpc_entry], "x-s-corp@core": [vpc_entry._replace(mark=ORIGIN)]}
    rows = FlowView(m, raw, 2e9).rows()
    assert [[h["node"] for h in r["path"]] for r in rows] == [["vpc va", "segment corp cxp core"]]
    assert rows[0]["segment"] == "corp"
    alone = FlowView(m, {"x-v-va": [vpc_entry], "x-s-corp@core": []}, 2e9).rows()  # the segment router's entry gone
    assert [[h["node"] for h in r["path"]] for r in alone] == [["vpc va"]]
