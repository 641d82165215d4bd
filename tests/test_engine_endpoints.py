"""Endpoint services and endpoints without a kernel: what the compiler
builds, what DNS answers whom, what validation refuses, what the shell shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.compile import compile_plan
from engine.compile.endpoint_layout import layout, reach
from engine.dns import Zones
from engine.items import AddressItem, NftItem, RouteItem, ServiceItem, VethItem
from engine.validate import validate
from shell.loader import parse_config
from shell.printer import running_config
from tests.configs import ENDPOINTS, TWIN_ENDPOINTS
from tests.test_shell_support import Shell


def _routes(plan, ns: str) -> dict[str, RouteItem]:  # type: ignore[no-untyped-def]
    return {i.dst: i for i in plan.of_kind("route") if isinstance(i, RouteItem) and i.ns == ns}


def test_provider_private_link_and_translation() -> None:
    config = parse_config(ENDPOINTS)
    plan = compile_plan("t", config)
    eps = {ep.endpoint.name: ep for ep in layout(config).endpoints}
    s3 = eps["s3ep"]
    assert plan.items[("ns", "t-e-objstore")].role == "provider"  # type: ignore[attr-defined]
    assert plan.items[("addr", "t-e-objstore", "lo", f"{s3.provider}/32")]
    # the VPC router holds the endpoint address and its link's own address
    assert isinstance(plan.items[("addr", "t-v-endpoints", "lo", "10.50.1.20/32")], AddressItem)
    assert plan.items[("addr", "t-v-endpoints", "pl.objstore", f"{s3.link}/32")]
    veth = plan.items[("veth", "t-v-endpoints", "pl.objstore")]
    assert isinstance(veth, VethItem) and (veth.peer_ns, veth.peer_ifname) == ("t-e-objstore", "ep.endpoints")
    # the provider routes only back to its endpoints: nothing else reaches it
    assert set(_routes(plan, "t-e-objstore")) == {f"{s3.link}/32"}
    assert _routes(plan, "t-e-api")[f"{eps['apiep'].link}/32"].ifname == "ep.endpoints"
    assert _routes(plan, "t-v-endpoints")[f"{s3.provider}/32"].ifname == "pl.objstore"
    table = plan.items[("nft", "t-v-endpoints")]
    assert isinstance(table, NftItem)
    assert f"10.50.1.20 . 443 : {s3.provider}" in table.ruleset and f"10.50.1.21 . 9000 : {eps['apiep'].provider}" in table.ruleset
    assert f'"pl.objstore" : {s3.link}' in table.ruleset
    assert 'oifname "pl*" ct status & dnat == 0 drop' in table.ruleset and 'iifname "pl*" drop' in table.ruleset
    # the servers: each provider runs its own, on its port
    svcs = {i.name: i for i in plan.of_kind("svc") if isinstance(i, ServiceItem) and i.ns.startswith("t-e-")}
    assert (svcs["objstore"].kind, svcs["objstore"].port, svcs["api"].kind, svcs["api"].port) == ("http", 443, "tcp-echo", 9000)
    assert "{client}" in svcs["objstore"].data


def test_routes_with_origin_endpoint_wherever_it_is_reached() -> None:
    plan = compile_plan("t", parse_config(ENDPOINTS))
    rows = {(i.meta.segment, i.meta.cxp, i.dst): i for i in plan.of_kind("route")
            if isinstance(i, RouteItem) and i.meta is not None and i.meta.origin == "endpoint"}
    want = {("apps", c, a) for c in ("east", "west", "north") for a in ("10.50.1.20/32", "10.50.1.21/32")}
    want |= {("prod", "west", a) for a in ("100.64.50.20/32", "100.64.50.21/32")}
    want |= {("partner", "north", a) for a in ("10.50.1.20/32", "10.50.1.21/32")}
    assert set(rows) == want
    home = rows[("apps", "east", "10.50.1.20/32")]
    assert home.ifname == "v.endpoints" and home.meta.via == "endpoint s3ep (vpc endpoints)"  # type: ignore[union-attr]
    assert rows[("apps", "west", "10.50.1.20/32")].ifname == "bb.east"
    seen = rows[("prod", "west", "100.64.50.20/32")]
    assert seen.ifname == "s.eps-prod" and seen.meta is not None and seen.meta.via == "endpoint s3ep (share eps-prod)"
    assert (seen.meta.original_prefix, seen.meta.translated_prefix) == ("10.50.1.20/32", "100.64.50.20/32")
    assert not any(seg == "iso" for seg, _c, _a in rows)


def test_an_endpoint_route_where_a_share_offers_exactly_that_address() -> None:
    text = ENDPOINTS.replace("prefix-list EP seq 5 permit 10.50.1.0/24", "prefix-list EP seq 5 permit 10.50.1.20/32")
    plan = compile_plan("t", parse_config(text))
    route = plan.items[("route", "t-s-partner@north", "10.50.1.20/32")]
    assert isinstance(route, RouteItem) and route.meta is not None and route.meta.origin == "endpoint" and route.ifname == "s.eps-partner"


def test_addresses_stay_put_when_endpoints_come_and_go() -> None:
    config = parse_config(ENDPOINTS)
    before = {(ep.vpc.name, ep.service.name): (ep.provider, ep.link) for ep in layout(config).endpoints}
    more = parse_config("endpoint-service queue\nvpc app-west\n endpoint qep service queue address 10.62.1.30\n"
                        "vpc app-east\n endpoint s3e service objstore address 10.61.1.20\n", base=config)
    after = {(ep.vpc.name, ep.service.name): (ep.provider, ep.link) for ep in layout(more).endpoints}
    assert {k: after[k] for k in before} == before
    every = [a for pair in after.values() for a in pair]
    assert len(set(every)) == len(every) - (len(after) - len({p for p, _ in after.values()}))  # links unique, providers shared
    links = [link for _p, link in after.values()]
    assert len(set(links)) == len(links)


def test_reach_and_dns_views_per_asking_segment() -> None:
    config = parse_config(ENDPOINTS)
    s3 = next(ep for ep in layout(config).endpoints if ep.endpoint.name == "s3ep")
    assert [(r.segment, r.address, r.share) for r in reach(config, s3)] == [
        ("apps", "10.50.1.20", None), ("partner", "10.50.1.20", "eps-partner"), ("prod", "100.64.50.20", "eps-prod")]
    zones = Zones("t", config)
    views = {tuple(v["sources"]): v["names"] for v in json.loads(zones.text("apps"))["views"]}
    apps = views[("10.50.0.0/16", "10.61.0.0/16", "10.62.0.0/16", "10.63.0.0/16")]
    prod = views[("10.10.0.0/16",)]
    assert apps["objstore"] == "10.50.1.20" and prod["objstore"] == "100.64.50.20"
    assert apps["dns1"] == "10.50.1.53" and prod["dns1"] == "100.64.50.53"
    # only what the segment reaches: apps imports prod's offers, prod only the endpoints' subnet
    assert {"e1", "p1", "q1"} <= set(apps) and "e1" not in prod and "q1" not in prod
    assert not any("i1" in v for v in views.values())
    assert views[("10.20.0.0/16",)]["api"] == "10.50.1.21"


def test_dns_prefers_an_endpoint_of_the_askers_own_segment() -> None:
    config = parse_config(ENDPOINTS + "vpc prod-app\n subnet b 10.10.2.0/24\n endpoint local service objstore address 10.10.2.20\n")
    names = Zones("t", config).names("prod")
    assert names["objstore"] == "10.10.2.20" and names["api"] == "100.64.50.21"


def test_overlapping_tenants_get_their_own_endpoints() -> None:
    config = parse_config(TWIN_ENDPOINTS)
    eps = {ep.endpoint.name: ep for ep in layout(config).endpoints}
    assert eps["store-a"].link != eps["store-b"].link and eps["store-a"].provider == eps["store-b"].provider
    plan = compile_plan("t", config)
    assert {i.ifname for i in plan.of_kind("route") if isinstance(i, RouteItem) and i.ns == "t-e-objstore"} == {"ep.wan-a", "ep.wan-b"}


QUEUE = "endpoint-service queue\nvpc endpoints\n endpoint x service queue address"
BAD = [
    (f"{QUEUE} 10.50.9.20\n",
     "vpc endpoints endpoint x: 10.50.9.20 is in no subnet of the vpc (subnets: ep 10.50.1.0/24): use an address of one of its subnets"),
    ("vpc endpoints\n endpoint x service queue address 10.50.1.30\n",
     "vpc endpoints endpoint x: endpoint-service queue does not exist: define 'endpoint-service queue' first"),
    (f"{QUEUE} 10.50.1.53\n",
     "vpc endpoints endpoint x: 10.50.1.53 is the address of host dns1: use another address"),
    (f"{QUEUE} 10.50.1.1\n",
     "vpc endpoints endpoint x: 10.50.1.1 is the gateway address of subnet ep: use another address"),
    (f"{QUEUE} 10.50.1.255\n",
     "vpc endpoints endpoint x: 10.50.1.255 is the network or broadcast address of subnet ep: use another address"),
    ("endpoint-service queue\nvpc endpoints\n endpoint x service queue address 10.50.1.20\n",
     "vpc endpoints endpoint x: address 10.50.1.20 is already endpoint s3ep's: use another address"),
    ("vpc endpoints\n endpoint x service objstore address 10.50.1.30\n",
     "vpc endpoints endpoint x: endpoint-service objstore already has endpoint s3ep in this vpc (one per vpc)"),
    ("vpc app-east\n endpoint s3ep service objstore address 10.61.1.20\n",
     "vpc app-east endpoint s3ep: endpoint name already used in vpc endpoints (endpoint names are lab-wide)"),
    ("endpoint-service queue\n cxp mars\n", "endpoint-service queue: cxp mars does not exist: define 'cxp mars' first"),
    ("endpoint-service E1\n",
     "endpoint-service E1: E1 is also the name of host e1 (vpc app-east), and DNS answers both in one zone: rename one"),
]


@pytest.mark.parametrize("extra,message", BAD)
def test_bad_input_is_refused_with_a_clear_message(extra: str, message: str) -> None:
    running = parse_config(ENDPOINTS)
    problems = [str(d) for d in validate(parse_config(extra, base=running), running)]
    assert problems == [message]


def test_bad_input_through_the_shell_changes_nothing(tmp_path: Path) -> None:
    sh = Shell(tmp_path)
    sh.ok("configure", *ENDPOINTS.splitlines(), "commit", "end")
    before = sh.api.running
    out = sh.run("configure", "vpc endpoints", "endpoint x service queue address 10.50.9.20", "commit")
    assert "% vpc endpoints endpoint x: endpoint-service queue does not exist" in out
    assert "% vpc endpoints endpoint x: 10.50.9.20 is in no subnet of the vpc" in out
    assert "% Invalid input" in sh.run("endpoint-service objstore", "port 70000")  # the line refuses it
    assert "% Invalid input" in sh.run("kind udp-echo")
    sh.run("abort")
    assert sh.api.running == before


def test_running_config_round_trip_and_show_endpoints(tmp_path: Path) -> None:
    config = parse_config(ENDPOINTS)
    text = running_config(config)
    assert text.index("endpoint-service api") < text.index("vpc endpoints")  # defined before use
    assert " endpoint s3ep service objstore address 10.50.1.20" in text and "endpoint-service api\n cxp west\n kind tcp-echo\n port 9000" in text
    assert parse_config(text) == config
    sh = Shell(tmp_path)
    sh.ok("configure", *ENDPOINTS.splitlines(), "commit", "end")
    out = sh.ok("show endpoints | json")
    rows = {r["endpoint"]: r for r in json.loads(out[out.index("["):])}
    assert rows["s3ep"] == {"service": "objstore", "endpoint": "s3ep", "vpc": "endpoints", "cxp": "east", "address": "10.50.1.20",
                            "port": 443, "reached_by": ["apps", "partner (share eps-partner)", "prod as 100.64.50.20 (share eps-prod)"],
                            "reach": [{"segment": "apps", "address": "10.50.1.20", "share": None},
                                      {"segment": "partner", "address": "10.50.1.20", "share": "eps-partner"},
                                      {"segment": "prod", "address": "100.64.50.20", "share": "eps-prod"}],
                            "connections": 0}
    assert "reached-by" in sh.ok("show endpoints")
    listed = sh.ok("show services | json")
    services = {r["name"]: r for r in json.loads(listed[listed.index("["):])}
    assert services["objstore"]["host"] == "endpoint-service objstore" and services["objstore"]["port"] == 443


def _walk(text: str, host: str, address: str, proto: str = "tcp", port: int | None = 443):  # type: ignore[no-untyped-def]
    from engine.datapath import from_host, model_of

    config = parse_config(text)
    return from_host(model_of("t", config, compile_plan("t", config)), host, address, proto, port, 40000)


def test_the_data_path_model_walks_through_an_endpoint() -> None:
    config = parse_config(ENDPOINTS)
    s3 = next(ep for ep in layout(config).endpoints if ep.endpoint.name == "s3ep")
    walk = _walk(ENDPOINTS, "p1", "100.64.50.20")
    assert walk.outcome.reachable and walk.outcome.reason == "endpoint-service objstore (http) listens on tcp 443"
    hops = {h.node: h for h in walk.hops}
    assert (hops["segment apps cxp west"].ingress, hops["segment apps cxp west"].dst) == ("s.eps-prod", "10.50.1.20")  # the share's DNAT
    vpc = hops["vpc endpoints"]
    assert (vpc.ingress, vpc.egress, vpc.src, vpc.dst) == ("uplink", "pl.objstore", s3.link, s3.provider)
    assert walk.hops[-1].node == "endpoint-service objstore" and walk.hops[-1].kind == "provider"
    # what the kernel does otherwise: the router's own address answers ping and refuses other ports
    assert _walk(ENDPOINTS, "w1", "10.50.1.20", "icmp", None).outcome.reason == "echo answered by vpc endpoints"
    refused = _walk(ENDPOINTS, "w1", "10.50.1.20", port=80).outcome
    assert not refused.reachable and refused.refused
    # one-way share: dropped on the way; no route: refused at once
    assert "one-way" in _walk(ENDPOINTS, "q1", "10.50.1.20").outcome.reason
    assert "no route" in _walk(ENDPOINTS, "i1", "10.50.1.20").outcome.reason


def test_the_model_judges_the_endpoint_address_and_guards_the_provider() -> None:
    text = ENDPOINTS + ("segment apps\n policy 10 deny tcp 10.50.2.0/24 host 10.50.1.20 eq 443\n"
                        "vpc endpoints\n micro-segmentation\n subnet b 10.50.2.0/24\n host b1 10.50.2.10\n")
    denied = _walk(text, "b1", "10.50.1.20")
    assert not denied.outcome.reachable and denied.hops[-1].node == "vpc endpoints" and denied.hops[-1].rule == "segment apps 10"
    allowed = _walk(text, "b1", "10.50.1.21", port=9000)
    assert allowed.outcome.reachable and next(h for h in allowed.hops if h.node == "vpc endpoints").rule == "segment apps default"
    assert _walk(text, "dns1", "10.50.1.20").outcome.reachable  # its own subnet is never judged
    provider = layout(parse_config(text)).providers["objstore"]
    direct = _walk(text, "dns1", provider).outcome  # the VPC router routes it, but only a translation may go
    assert not direct.reachable and "only an endpoint's translation" in direct.reason
