"""Names that hash alike (issue 10.10): two links of one namespace that
would get one interface name or one fixed ifindex are refused at
validation, naming both objects, never met in the kernel."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.compile import compile_plan, naming
from engine.items import LinkConfItem
from engine.model import (
    Config,
    Firewall,
    Host,
    Internet,
    PolicyEntry,
    PrefixList,
    PrefixListEntry,
    PublicHost,
    ResourceShare,
    ShareEnd,
    Subnet,
    Vpc,
)
from engine.validate import validate
from engine.validate.interfaces import links
from shell.loader import parse_config
from tests.configs import ENDPOINTS, PORTAL, TWIN_ENDPOINTS
from tests.labutil import fabric, vpc
from tests.test_engine import configs
from tests.test_engine_firewall import story
from tests.test_lab_firewall import EAST_WEST
from tests.test_lab_firewall_paths import CROSS_HUB, SHARE, TWO_FIREWALLS
from tests.test_lab_internet import EDGE
from tests.test_lab_internet import FIREWALL as EDGE_FIREWALL


def lines(config: Config, previous: Config | None = None) -> list[str]:
    return [str(d) for d in validate(config, previous)]


def test_vpcs_whose_long_names_share_a_crc32_are_refused_on_the_newer() -> None:
    old = fabric(["prod"], ["core"], [vpc("longvpcname32060020", "prod", "10.2.0.0/16", {})])
    new = old.put("vpc", vpc("longvpcname29685295", "prod", "10.1.0.0/16", {}))
    assert lines(new, old) == [
        "vpc longvpcname29685295: its link and that of vpc longvpcname32060020 in the router of segment prod on hub core "
        "would both be named v-a8e890aa: their names hash alike; rename one of them"]
    assert lines(old) == []


def test_vpcs_whose_ports_share_an_ifindex_are_refused() -> None:
    config = fabric(["prod"], ["core"], [vpc("s0031554", "prod", "10.1.0.0/16", {}), vpc("s0114158", "prod", "10.2.0.0/16", {})])
    assert lines(config) == [
        "vpc s0114158: its link and that of vpc s0031554 in the router of segment prod on hub core (v.s0031554 and "
        "v.s0114158) would get the same interface index 1541811430: their names hash alike; rename one of them"]
    apart = fabric(["prod", "dev"], ["core"], [vpc("s0031554", "prod", "10.1.0.0/16", {}), vpc("s0114158", "dev", "10.2.0.0/16", {})])
    assert lines(apart) == []  # other routers: no clash


def test_hosts_subnets_and_shares_are_checked_alike() -> None:
    """Pairs found by search: host ports, bridges and share links whose
    ifindexes clash in their router, and a share link against a VPC port."""
    hosts = Vpc("a", segment="prod", cidrs=("10.1.0.0/16",), subnets=(Subnet("s", "10.1.1.0/24"),),
                hosts=(Host("h113825", "10.1.1.11"), Host("h58258", "10.1.1.10")))
    bridges = Vpc("b", segment="prod", cidrs=("10.2.0.0/16",), subnets=(Subnet("n4183", "10.2.1.0/24"), Subnet("n78805", "10.2.2.0/24")))
    config = Config().put("segment", fabric(["prod"], [], []).segments[0]).put("vpc", hosts).put("vpc", bridges)
    assert [line.split(":")[0] for line in lines(config)] == ["vpc a host h58258", "vpc b subnet n78805"]  # the later of each pair
    portal = parse_config(PORTAL)
    shares = portal.put("resource-share", ResourceShare("x117457", ShareEnd("cust-a", "CUST"), ShareEnd("provider", "PORTAL")))
    shares = shares.put("resource-share", ResourceShare("x200293", ShareEnd("cust-a", "CUST"), ShareEnd("provider", "PORTAL")))
    assert any(line.startswith("resource-share x200293: its link and that of resource-share x117457") for line in lines(shares, portal))
    cross = portal.put("vpc", vpc("v30315", "cust-a", "10.9.0.0/16", {}))
    cross = cross.put("resource-share", ResourceShare("s16733", ShareEnd("cust-a", "CUST"), ShareEnd("provider", "PORTAL")))
    assert any("vpc v30315" in line and "resource-share s16733" in line and "interface index" in line
               for line in lines(cross, portal))


def test_firewall_legs_and_edge_links_are_checked_too() -> None:
    """Names that hash alike among the links of firewall instances and
    internet edges: two public hosts' ports in the edge router, two
    firewalls' legs in the router of a segment both inspect, two inspected
    shares' legs inside an instance."""
    edge = parse_config(EDGE)
    hosts = (PublicHost("longvpcname32060020", "203.0.113.10"), PublicHost("longvpcname29685295", "203.0.113.11"))
    assert lines(edge.put("internet", replace(edge.require("internet", "inet"), public_hosts=hosts))) == [
        "internet inet public-host longvpcname29685295: its link and that of internet inet public-host longvpcname32060020 "
        "in the router of internet inet would both be named p-a8e890aa: their names hash alike; rename one of them"]
    ew = parse_config(EAST_WEST)
    corp = ew.require("segment", "corp")
    two = ew.put("firewall", Firewall("longvpcname32060020", instances=1)).put("firewall", Firewall("longvpcname29685295", instances=1))
    two = two.put("segment", replace(corp, policies=(
        PolicyEntry(1, "inspect", "tcp", "any", "any", "eq 1", firewall="longvpcname32060020"),
        PolicyEntry(2, "inspect", "tcp", "any", "any", "eq 2", firewall="longvpcname29685295"), *corp.policies)))
    assert [line for line in lines(two) if "hash alike" in line] == [
        "firewall longvpcname32060020 (segment corp): its link and that of firewall longvpcname29685295 (segment corp) in the "
        "router of segment corp on hub core would both be named f1-a8e890aa: their names hash alike; rename one of them"]
    shares = parse_config(SHARE)
    first = shares.shares[0]
    twins = shares.put("resource-share", replace(first, name="longvpcname32060020"))
    twins = twins.put("resource-share", replace(first, name="longvpcname29685295"))
    found = [line for line in lines(twins, shares) if "hash alike" in line]
    assert "in instance 1 of firewall fw would both be named sa-a8e890aa" in " ".join(found)


def plan_links(config: Config) -> set[tuple[str, str]]:
    return {(item.ns, item.ifname) for item in compile_plan("LAB", config) if isinstance(item, LinkConfItem)}


def listed_links(config: Config) -> set[tuple[str, str]]:
    spaces = {"segment": lambda s: naming.segment_ns("LAB", s[1], s[2]), "vpc": lambda s: naming.vpc_ns("LAB", s[1]),
              "host": lambda s: naming.host_ns("LAB", s[1]), "provider": lambda s: naming.provider_ns("LAB", s[1]),
              "firewall": lambda s: naming.firewall_ns("LAB", s[1], int(s[2])),
              "internet": lambda s: naming.internet_ns("LAB", s[1]), "public": lambda s: naming.public_ns("LAB", s[1])}
    return {(spaces[space[0]](space), name) for space, name, _owner in links(config)}


def _shared(config: Config) -> Config:
    """`config` with a share between its two segments."""
    lists = PrefixList("ALL", (PrefixListEntry(5, "permit", "10.0.0.0/8", le=32),))
    return config.put("prefix-list", lists).put(
        "resource-share", ResourceShare("x", ShareEnd("prod", "ALL"), ShareEnd("dev", "ALL")))


@st.composite
def appliances(draw: st.DrawFn) -> Config:
    """A generated fabric with its share, a firewall on one hub that the
    segments' policies and the share may inspect with, and an internet edge
    (with public hosts) serving some segments, inspected when the firewall
    is on its hub; hubs with no VPC get routers for them."""
    config = _shared(draw(configs()))
    hub = st.sampled_from(["core", "east"])
    fw = Firewall("fw", cxp=draw(hub), instances=draw(st.integers(1, 3))) if draw(st.booleans()) else None
    if fw is not None:
        config = config.put("firewall", fw)
        for name in sorted(draw(st.sets(st.sampled_from(["prod", "dev"])))):
            seg = config.require("segment", name)
            config = config.put("segment", replace(seg, policies=(PolicyEntry(10, "inspect", "ip", "any", "any", firewall="fw"),)))
        if draw(st.booleans()):
            config = config.put("resource-share", replace(config.require("resource-share", "x"), firewall="fw"))
    if draw(st.booleans()):
        where = fw.cxp if fw is not None and draw(st.booleans()) else draw(hub)
        inspected = fw is not None and fw.cxp == where and draw(st.booleans())
        served = tuple(sorted(draw(st.sets(st.sampled_from(["prod", "dev"]), min_size=1))))
        public = tuple(PublicHost(f"pub{i}", f"203.0.113.{10 + i}") for i in range(draw(st.integers(0, 2))))
        config = config.put("internet", Internet("inet", where, served, "198.51.100.1", "fw" if inspected else None, public))
    return config


EXAMPLES = (PORTAL, ENDPOINTS, TWIN_ENDPOINTS, EDGE, EDGE + EDGE_FIREWALL, EAST_WEST, SHARE, CROSS_HUB, TWO_FIREWALLS)


@settings(max_examples=80, deadline=None)
@given(configs())
def test_the_check_lists_exactly_the_links_the_compiler_makes(config: Config) -> None:
    """A stage that adds links without listing them here fails this test."""
    for each in (config, _shared(config), story(), *(parse_config(text) for text in EXAMPLES)):
        assert listed_links(each) == plan_links(each)


@settings(max_examples=120, deadline=None)
@given(appliances())
def test_the_check_lists_firewall_and_edge_links_exactly(config: Config) -> None:
    """Firewall instances' hairpin legs and wires (shares and internet
    links), edge routers, their links and public hosts, and the routers
    made for them on hubs without VPCs."""
    assert listed_links(config) == plan_links(config)
