"""Names that hash alike (issue 10.10): two links of one namespace that
would get one interface name or one fixed ifindex are refused at
validation, naming both objects, never met in the kernel."""

from __future__ import annotations

from hypothesis import given, settings

from engine.compile import compile_plan, naming
from engine.items import LinkConfItem
from engine.model import Config, Host, PrefixList, PrefixListEntry, ResourceShare, ShareEnd, Subnet, Vpc
from engine.validate import validate
from engine.validate.interfaces import links
from shell.loader import parse_config
from tests.configs import ENDPOINTS, PORTAL, TWIN_ENDPOINTS
from tests.labutil import fabric, vpc
from tests.test_engine import configs


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


def plan_links(config: Config) -> set[tuple[str, str]]:
    return {(item.ns, item.ifname) for item in compile_plan("LAB", config) if isinstance(item, LinkConfItem)}


def listed_links(config: Config) -> set[tuple[str, str]]:
    spaces = {"segment": lambda s: naming.segment_ns("LAB", s[1], s[2]), "vpc": lambda s: naming.vpc_ns("LAB", s[1]),
              "host": lambda s: naming.host_ns("LAB", s[1]), "provider": lambda s: naming.provider_ns("LAB", s[1])}
    return {(spaces[space[0]](space), name) for space, name, _owner in links(config)}


def _shared(config: Config) -> Config:
    """`config` with a share between its two segments."""
    lists = PrefixList("ALL", (PrefixListEntry(5, "permit", "10.0.0.0/8", le=32),))
    return config.put("prefix-list", lists).put(
        "resource-share", ResourceShare("x", ShareEnd("prod", "ALL"), ShareEnd("dev", "ALL")))


@settings(max_examples=80, deadline=None)
@given(configs())
def test_the_check_lists_exactly_the_links_the_compiler_makes(config: Config) -> None:
    """A stage that adds links without listing them here fails this test."""
    for each in (config, _shared(config), parse_config(PORTAL), parse_config(ENDPOINTS), parse_config(TWIN_ENDPOINTS)):
        assert listed_links(each) == plan_links(each)
