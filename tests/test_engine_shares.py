"""Prefix lists, share offers and NAT, import conflicts, services in the plan: pure tests."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace

import pytest

from engine.compile import compile_plan
from engine.items import NftItem, ServiceItem
from engine.model import PrefixList, PrefixListEntry
from engine.prefixes import admitted, list_addresses, permits
from engine.shares import imports
from engine.validate import validate
from shell.loader import parse_config
from tests.configs import PORTAL

net = ipaddress.ip_network



def plist(*entries: tuple[int, str, str, int | None, int | None]) -> PrefixList:
    return PrefixList("L", tuple(PrefixListEntry(s, a, p, ge, le) for s, a, p, ge, le in entries))


def test_prefix_list_matches_as_ios_does() -> None:
    pl = plist((5, "deny", "10.1.2.0/24", None, None), (10, "permit", "10.1.0.0/16", None, 24), (20, "permit", "10.0.0.0/8", 28, 32))
    assert permits(pl, net("10.1.0.0/16"))
    assert permits(pl, net("10.1.1.0/24"))
    assert not permits(pl, net("10.1.2.0/24"))  # denied first
    assert not permits(pl, net("10.1.1.0/25"))  # longer than le 24, and shorter than ge 28
    assert permits(pl, net("10.1.1.16/28"))  # entry 20
    assert not permits(pl, net("10.2.0.0/16"))  # no entry: implicit deny
    exact = plist((5, "permit", "10.1.1.0/24", None, None))
    assert not permits(exact, net("10.1.1.0/25")) and not permits(exact, net("10.1.0.0/16"))


def test_prefix_list_as_address_match_is_first_match() -> None:
    pl = plist((5, "deny", "10.1.2.0/24", None, None), (10, "permit", "10.1.0.0/16", None, None))
    space = list_addresses(pl)
    assert "10.1.1.1" in space and "10.1.2.1" not in space and "10.2.0.1" not in space


def test_offers_are_admitted_prefixes_translated_by_nat() -> None:
    config = parse_config(PORTAL)
    assert validate(config) == []
    assert admitted(config, "cust-a", "CUST") == [net("10.1.1.0/24")]
    assert admitted(config, "provider", "PORTAL") == [net("10.1.200.10/32")]
    got = {(i.segment, i.share, str(i.offer.original), str(i.offer.seen)) for i in imports(config)}
    assert got == {
        ("provider", "portal-a", "10.1.1.0/24", "100.64.1.0/24"),
        ("provider", "portal-b", "10.1.1.0/24", "100.64.2.0/24"),
        ("cust-a", "portal-a", "10.1.200.10/32", "172.31.255.10/32"),
        ("cust-b", "portal-b", "10.1.200.10/32", "172.31.255.10/32"),
    }


def test_broader_admitted_prefix_hides_its_parts() -> None:
    config = parse_config(PORTAL + "prefix-list ALL seq 5 permit 10.0.0.0/8 le 32\n")
    assert admitted(config, "cust-a", "ALL") == [net("10.1.0.0/16")]


def test_routes_show_translated_and_original_prefixes() -> None:
    plan = compile_plan("t", parse_config(PORTAL))
    routes = {(r.ns, r.dst): r for r in plan.of_kind("route")}
    r = routes[("t-s-provider@core", "100.64.1.0/24")]
    assert r.meta.origin == "share" and r.meta.via == "share portal-a"  # type: ignore[union-attr]
    assert (r.meta.original_prefix, r.meta.translated_prefix) == ("10.1.1.0/24", "100.64.1.0/24")  # type: ignore[union-attr]
    assert ("t-s-cust-a@core", "172.31.255.10/32") in routes
    assert ("t-s-cust-a@core", "100.64.2.0/24") not in routes  # shares are not transitive
    tables = {i.ns: i for i in plan.of_kind("nft") if isinstance(i, NftItem)}
    assert "snat ip prefix to ip saddr map { 10.1.1.0/24 : 100.64.1.0/24 }" in tables["t-s-cust-a@core"].ruleset
    # a-to-b: what end-b would open arrives in end-a's router, and is dropped there
    cust_a, provider = tables["t-s-cust-a@core"].ruleset, tables["t-s-provider@core"].ruleset
    assert '"s.portal-a" counter comment "share portal-a direction" : drop' in cust_a and "ct state new iifname vmap @share_dir" in cust_a
    assert "ct state new iifname vmap" not in provider
    # only offered sources cross, each way
    assert '"s.portal-a" . 10.1.1.0/24' in cust_a and '"s.portal-a" . 172.31.255.10/32' in cust_a
    assert '"s.portal-a" . 10.1.200.10/32' in provider and '"s.portal-b" . 100.64.2.0/24' in provider


def _errors(config_text: str) -> list[str]:
    """The commit's diagnostics, or the line's error when the shell refuses
    the line on its own already."""
    from shell.loader import LoadError

    try:
        config = parse_config(config_text)
    except LoadError as err:
        return err.lines()
    return [str(d) for d in validate(config)]


def test_overlapping_import_is_refused_naming_both_shares_with_the_fix() -> None:
    config = parse_config(PORTAL)
    b = config.get("resource-share", "portal-b")
    clash = config.put("resource-share", replace(b, nat=tuple(n for n in b.nat if n.end == "end-b") + (
        replace(b.nat[0], translated="100.64.1.0/24"),)))
    errors = [str(d) for d in validate(clash, config)]
    assert any(
        "resource-share portal-b" in e and "100.64.1.0/24" in e and "resource-share portal-a" in e and "nat end-a 10.1.1.0/24 to" in e
        for e in errors
    ), errors
    no_nat = [str(d) for d in validate(config.put("resource-share", replace(b, nat=())), config)]
    assert any("overlapping 10.1.0.0/16 of vpc portal" in e and "add 'nat end-a 10.1.1.0/24 to 100.64." in e for e in no_nat), no_nat


@pytest.mark.parametrize(
    "change, message",
    [
        ("nat end-a 10.1.1.0/24 to 100.64.3.0/25", "sizes differ (/24 vs /25)"),
        ("end-b segment nowhere prefix-list PORTAL", "end-b segment nowhere does not exist"),
        ("end-b segment provider prefix-list NOPE", "end-b prefix-list NOPE does not exist"),
        ("end-b segment cust-a prefix-list PORTAL", "both ends are in segment cust-a"),
        ("nat end-a 10.1.0.0/16 to 100.65.0.0/16", "10.1.1.0/24 overlaps 10.1.0.0/16, translated by another nat line of end-a"),
    ],
)
def test_bad_shares_are_refused_clearly(change: str, message: str) -> None:
    text = PORTAL + f"resource-share portal-a\n {change}\n"
    errors = _errors(text)
    assert any(message in e and "resource-share portal-a" in e for e in errors), errors


def test_nat_must_translate_whole_offered_prefixes() -> None:
    text = PORTAL.replace("permit 10.1.1.0/24", "permit 10.1.0.0/16") + "resource-share portal-a\n nat end-a 10.1.1.0/24 to 100.64.9.0/24\n"
    assert any("cuts through offered prefix 10.1.0.0/16" in e for e in _errors(text))


def test_services_are_plan_items_and_dns_views_are_their_data() -> None:
    config = parse_config(PORTAL + "vpc portal\n service ns dns on portal1\n")
    plan = compile_plan("t", config)
    svcs = {i.name: i for i in plan.of_kind("svc") if isinstance(i, ServiceItem)}
    assert svcs["echo"].port == 7 and svcs["echo"].ns == "t-h-portal1"
    assert svcs["ns"].port == 53 and svcs["ns"].data == ""
    views = json.loads(plan.items[("data", "t-h-portal1", "ns")].data)["views"]  # type: ignore[attr-defined]
    # each customer is told apart by its translated prefix and sees the portal translated
    by_source = {tuple(v["sources"]): v["names"] for v in views}
    assert by_source[("100.64.1.0/24",)] == {"alice": "10.1.1.10", "portal1": "172.31.255.10"}
    assert by_source[("100.64.2.0/24",)] == {"bill": "10.1.1.10", "portal1": "172.31.255.10"}
    assert by_source[("10.1.0.0/16",)] == {"alice": "100.64.1.10", "bill": "100.64.2.10", "portal1": "10.1.200.10"}
    # a new host changes the views (read again by the server), neither service
    more = parse_config("vpc wan-a\n host carol 10.1.1.11\n", base=config)
    plan2 = compile_plan("t", more)
    svcs2 = {i.name: i for i in plan2.of_kind("svc")}
    assert svcs2 == svcs
    assert '"carol": "10.1.1.11"' in plan2.items[("data", "t-h-portal1", "ns")].data  # type: ignore[attr-defined]


def test_a_nat_line_must_translate_something_offered() -> None:
    errors = _errors(PORTAL + "resource-share portal-a\n nat end-a 10.99.0.0/16 to 100.99.0.0/16\n")
    assert any("nat end-a 10.99.0.0/16 to 100.99.0.0/16: end-a offers nothing inside 10.99.0.0/16" in e for e in errors), errors


def test_a_new_vpc_colliding_with_an_import_is_the_one_refused() -> None:
    config = parse_config(PORTAL)
    more = parse_config("vpc extra\n segment provider\n cidr 100.64.2.0/24\n", base=config)
    errors = [str(d) for d in validate(more, config)]
    assert any(e.startswith("vpc extra: cidr 100.64.2.0/24 overlaps 100.64.2.0/24, which resource-share portal-b imports") for e in errors), errors


def test_suggested_nat_lines_do_not_collide_and_existing_lines_are_changed() -> None:
    config = parse_config(PORTAL)
    b = config.get("resource-share", "portal-b")
    same = config.put("resource-share", replace(b, nat=(replace(b.nat[0], translated="100.64.1.0/24"), b.nat[1])))
    errors = [str(d) for d in validate(same, config)]
    assert any("change 'nat end-a 10.1.1.0/24 to 100.64.1.0/24' to 'nat end-a 10.1.1.0/24 to 100.64.0.0/24'" in e for e in errors), errors
    two = parse_config("vpc portal\n subnet dmz2 10.1.201.0/24\n!\nprefix-list PORTAL seq 10 permit 10.1.201.0/24\n", base=config)
    two = two.put("resource-share", replace(two.get("resource-share", "portal-a"), nat=two.get("resource-share", "portal-a").nat[:1]))
    two = two.put("resource-share", replace(two.get("resource-share", "portal-b"), nat=two.get("resource-share", "portal-b").nat[:1]))
    import re

    fixes = [m.group(1) for e in (str(d) for d in validate(two, config)) if (m := re.search(r"add 'nat \S+ \S+ to (\S+)'", e))]
    assert len(fixes) >= 2 and len(set(fixes)) == len(fixes), fixes


def test_two_services_on_one_port_are_refused() -> None:
    errors = _errors(PORTAL + "vpc portal\n service web http on portal1 port 7\n service ns dns on portal1 port 7\n")
    assert "vpc portal service web: tcp port 7 on host portal1 is already used by service echo" in errors
    assert any("service ns: tcp port 7 on host portal1 is already used by service echo" in e for e in errors)


def test_a_share_whose_nat_lands_one_offer_on_another_is_refused() -> None:
    text = PORTAL.replace("prefix-list PORTAL seq 5 permit 10.1.200.10/32", "prefix-list PORTAL seq 5 permit 10.1.200.0/24\nprefix-list PORTAL seq 10 permit 10.1.201.0/25")
    text = text.replace(" subnet dmz 10.1.200.0/24\n", " subnet dmz 10.1.200.0/24\n subnet dmz2 10.1.201.0/25\n")
    text += "resource-share portal-a\n no nat end-b 10.1.200.10/32 to 172.31.255.10/32\n nat end-b 10.1.200.0/24 to 172.31.0.0/24\n nat end-b 10.1.201.0/25 to 172.31.0.0/25\n"
    errors = _errors(text)
    assert any("resource-share portal-a: imports 172.31.0.0/25 into segment cust-a, overlapping 172.31.0.0/24 of resource-share portal-a" in e
               or "overlaps 172.31.0.0/24, the translation of another nat line" in e for e in errors), errors
