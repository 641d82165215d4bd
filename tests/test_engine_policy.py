"""Segment policy compiled to verdict maps: first match preserved, validation clear."""

from __future__ import annotations

import ipaddress
import re
import textwrap
import time
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.compile import compile_plan
from engine.compile.policy import blocks, policy_decls, resolve_terms
from engine.items import NftItem
from engine.model import Config, PolicyEntry, Segment
from engine.validate import validate
from shell.loader import parse_config

TERMS = ["any", "10.0.0.0/8", "10.1.0.0/16", "10.1.1.0/24", "host 10.1.1.10", "host 10.2.0.5", "10.2.0.0/16"]
PORTS = [None, "eq 22", "eq 443", "range 20 30", "range 400 500"]


@st.composite
def entries(draw: st.DrawFn) -> list[PolicyEntry]:
    n = draw(st.integers(0, 12))
    out = []
    for i in range(n):
        proto = draw(st.sampled_from(["ip", "tcp", "udp", "icmp"]))
        ports = draw(st.sampled_from(PORTS)) if proto in ("tcp", "udp") else None
        out.append(PolicyEntry((i + 1) * 10, draw(st.sampled_from(["permit", "deny"])), proto,
                               draw(st.sampled_from(TERMS)), draw(st.sampled_from(TERMS)), ports))
    return out


PACKETS = [
    (proto, src, dst, port)
    for proto in (1, 6, 17, 47)
    for src in ("10.1.1.10", "10.1.2.3", "10.2.0.5", "192.0.2.1")
    for dst in ("10.1.1.10", "10.2.0.5", "10.3.0.1")
    for port in (22, 25, 443, 450, 8080)
]


PROTO_NUMBERS = {"tcp": 6, "udp": 17, "icmp": 1}


def _in_term(term: str, address: int) -> bool:
    if term == "any":
        return True
    if term.startswith("host "):
        return address == int(ipaddress.ip_address(term[5:]))
    return ipaddress.ip_address(address) in ipaddress.ip_network(term)


def linear(seg: Segment, pkt: tuple[int, int, int, int]) -> int | None:
    """The reference, independent of the compiler: the first entry, in seq
    order, whose protocol, source, destination and port match."""
    proto, src, dst, port = pkt
    for e in sorted(seg.policies, key=lambda e: e.seq):
        if e.protocol != "ip" and PROTO_NUMBERS[e.protocol] != proto:
            continue
        if not (_in_term(e.src, src) and _in_term(e.dst, dst)):
            continue
        if e.ports:
            numbers = [int(x) for x in e.ports.split()[1:]]
            if not numbers[0] <= port <= numbers[-1]:
                continue
        return e.seq
    return None


def _span(text: str) -> tuple[int, int]:
    if "/" in text:
        net = ipaddress.ip_network(text)
        return int(net.network_address), int(net.broadcast_address)
    if "-" in text:
        lo, hi = text.split("-")
        return int(lo), int(hi)
    value = int(ipaddress.ip_address(text)) if "." in text else int(text)
    return value, value


def via_rendered_maps(decls: tuple[str, ...], pkt: tuple[int, int, int, int]) -> int | None:
    """What the kernel does with the rendered table: the maps in the order the
    chain consults them; an element matching means its verdict, and no map
    may hold two elements that match one packet."""
    chain = next(d for d in decls if d.startswith("chain seg_policy"))
    maps = {m.split()[1]: m for m in decls if m.startswith("map ")}
    for name in re.findall(r"vmap @(\S+);", chain):
        body = maps[name].split("elements = { ", 1)[1]
        hits = []
        for element in body.split(", "):
            key, _, rest = element.partition(" counter comment ")
            fields = [_span(f) for f in key.split(" . ")]
            if all(lo <= v <= hi for (lo, hi), v in zip(fields, pkt)):
                hits.append(int(rest.split('"')[1].split()[-1]))
        assert len(hits) <= 1, f"elements of map {name} overlap: {hits}"
        if hits:
            return hits[0]
    return None


@settings(max_examples=200, deadline=None)
@given(entries())
def test_rendered_verdict_maps_give_the_first_match(policy: list[PolicyEntry]) -> None:
    seg = Segment("s", policies=tuple(policy))
    decls = policy_decls(seg, resolve_terms(Config(segments=(seg,)), seg))
    for proto, src, dst, port in PACKETS:
        pkt = (proto, int(ipaddress.ip_address(src)), int(ipaddress.ip_address(dst)), port)
        assert via_rendered_maps(decls, pkt) == linear(seg, pkt), (proto, src, dst, port)


def test_disjoint_entries_share_one_map_and_10k_compile_fast() -> None:
    policy = tuple(
        PolicyEntry(i + 1, "permit", "tcp", f"host 10.{i // 250}.{i % 250}.1", "10.200.0.0/16", "eq 443") for i in range(10_000)
    )
    seg = Segment("big", policies=policy)
    from engine.session import gc_paused

    with gc_paused():  # as in a commit
        start = time.perf_counter()
        decls = policy_decls(seg, resolve_terms(Config(segments=(seg,)), seg))
        elapsed = time.perf_counter() - start
    maps = [d for d in decls if d.startswith("map pol_")]
    assert len(maps) == 10_000 // 128 + 1 and "flags interval" in maps[0]  # host to /16: bounded interval maps
    assert sum(m.count("counter comment") for m in maps) == 10_000
    # a guard against going quadratic, with room for a busy CI machine
    # (the figure itself, about 0.12 s, is in docs/benchmarks.md)
    assert elapsed < 1.0, elapsed


def test_exact_entries_share_one_hash_map() -> None:
    policy = tuple(PolicyEntry(i + 1, "permit", "tcp", f"host 10.1.{i // 250}.{i % 250 + 1}", "host 10.2.0.1", "eq 443") for i in range(2000))
    seg = Segment("s", policies=policy)
    maps = [d for d in policy_decls(seg, resolve_terms(Config(segments=(seg,)), seg)) if d.startswith("map pol_")]
    assert len(maps) == 1 and "flags interval" not in maps[0] and "6 . 10.1.0.1 . 10.2.0.1 . 443 counter" in maps[0]


def test_overlapping_entries_start_a_new_map() -> None:
    seg = Segment("s", policies=(
        PolicyEntry(10, "deny", "tcp", "host 10.1.1.10", "any", "eq 22"),
        PolicyEntry(20, "permit", "tcp", "10.1.0.0/16", "any"),
        PolicyEntry(30, "permit", "udp", "any", "any", "eq 53"),
    ))
    runs = blocks(seg, dict(resolve_terms(Config(segments=(seg,)), seg)))
    assert [[e.seq for e, _ in run] for run in runs] == [[10], [20, 30]]


MICRO = textwrap.dedent(
    """\
    segment corp
     default-action deny
     policy 10 permit tcp group bu01 group bu02 eq 443
     policy 20 permit icmp group bu01 group bu02 log
    !
    vpc shared-vpc
     segment corp
     cidr 10.30.0.0/16
     subnet bu01 10.30.1.0/24 group bu01
     subnet bu02 10.30.2.0/24 group bu02
     host a 10.30.1.10
     host b 10.30.2.10
     micro-segmentation
    !
    """
)


def test_policy_tables_in_segment_router_and_micro_segmented_vpc() -> None:
    plan = compile_plan("t", parse_config(MICRO))
    tables = {i.ns: i.ruleset for i in plan.of_kind("nft") if isinstance(i, NftItem)}
    for ns in ("t-s-corp@core", "t-v-shared-vpc"):
        rs = tables[ns]
        assert '6 . 10.30.1.0/24 . 10.30.2.0/24 . 443 counter comment "segment corp 10" : accept' in rs
        assert '1 . 10.30.1.0/24 . 10.30.2.0/24 . 0-65535 counter comment "segment corp 20" : jump log_20' in rs
        assert 'counter drop comment "segment corp default"' in rs
        assert rs.index("ct state established,related accept") < rs.index("jump seg_policy")
    assert 'iifname "b*" oifname "b*" jump seg_policy' in tables["t-v-shared-vpc"]
    assert any(i.kind == "policy-log" for i in plan.of_kind("svc"))  # type: ignore[attr-defined]


def _errors(extra: str) -> list[str]:
    """The commit's diagnostics, or the line's error when the shell refuses
    the line on its own already."""
    from shell.loader import LoadError

    try:
        config = parse_config(MICRO + extra)
    except LoadError as err:
        return err.lines()
    return [str(d) for d in validate(config)]


def test_policy_validation_names_the_entry() -> None:
    other = "segment lab\n!\nvpc x\n segment lab\n cidr 10.9.0.0/16\n subnet s 10.9.1.0/24 group gx\n!\n"
    assert any("segment lab policy 5: group bu01 belongs to segment corp, not lab" in e
               for e in _errors(other + "segment lab\n policy 5 permit ip group bu01 any\n"))
    assert any("segment corp policy 30: group nope does not exist" in e for e in _errors("segment corp\n policy 30 permit ip group nope any\n"))
    assert any("segment corp policy 30: prefix-list NOPE does not exist" in e
               for e in _errors("segment corp\n policy 30 permit ip prefix-list NOPE any\n"))
    assert any("range 30 20 is reversed" in e for e in _errors("segment corp\n policy 30 permit tcp any any range 30 20\n"))


def test_ports_on_icmp_are_refused() -> None:
    seg = Segment("corp", policies=(PolicyEntry(5, "permit", "icmp", "any", "any", "eq 5"),))
    config = parse_config(MICRO).put("segment", seg)
    assert any("ports apply to tcp and udp only, not icmp" in str(d) for d in validate(config))


def test_duplicate_seq_and_ports_on_ip_are_refused() -> None:
    seg = Segment("corp", policies=(PolicyEntry(5, "permit", "ip", "any", "any", "eq 5"), PolicyEntry(5, "deny", "tcp", "any", "any")))
    errors = [str(d) for d in validate(parse_config(MICRO).put("segment", seg))]
    assert "segment corp policy 5: seq used twice" in errors
    assert "segment corp policy 5: ports apply to tcp and udp only, not ip" in errors


def test_a_refused_policy_changes_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from engine.errors import ValidationError
    from tests.test_shell_support import make_api

    api = make_api(tmp_path)
    api.set_candidate(parse_config(MICRO))
    api.commit()
    running, plan = api.running, api.session.running_plan()
    seg = api.running.get("segment", "corp")
    bad = replace(seg, policies=seg.policies + (PolicyEntry(30, "permit", "tcp", "group nope", "any", "range 9 3"),))
    api.set_candidate(api.running.put("segment", bad))
    with pytest.raises(ValidationError) as err:
        api.commit()
    assert any("group nope does not exist" in line for line in err.value.lines())
    assert any("range 9 3 is reversed" in line for line in err.value.lines())
    assert api.running == running and api.session.running_plan() == plan


def test_port_out_of_range_is_a_syntax_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from shell import main as program
    from tests.test_shell_support import make_api

    rc = program.main(["-c", "configure", "-c", "segment corp", "-c", "policy 10 permit tcp any any eq 70000"],
                      make_api=lambda name: make_api(tmp_path, name))
    assert rc == 1


def test_a_group_is_scoped_to_its_segment() -> None:
    other = "segment other\n!\nvpc o1\n segment other\n cidr 10.70.0.0/16\n subnet s 10.70.1.0/24 group bu01\n!\n"
    config = parse_config(MICRO + other)
    assert validate(config) == []
    plan = compile_plan("t", config)
    corp = next(i.ruleset for i in plan.of_kind("nft") if i.ns == "t-s-corp@core")  # type: ignore[attr-defined]
    assert "10.30.1.0/24" in corp and "10.70.1.0/24" not in corp
    from engine.views import group_rows

    rows = {(r["group"], r["segment"]): r for r in group_rows(config)}
    assert rows[("bu01", "corp")]["prefixes"] == ["10.30.1.0/24"] and rows[("bu01", "other")]["subnets"] == ["o1/s"]


def test_a_prefix_with_host_bits_is_refused_with_the_fix() -> None:
    errors = _errors("segment corp\n policy 5 deny tcp 10.50.1.10/16 any eq 5432\n")
    assert any("segment corp policy 5: 10.50.1.10/16 has host bits set: use 10.50.0.0/16" in e for e in errors), errors
    seg = Segment("corp", policies=(PolicyEntry(5, "deny", "tcp", "10.50.1.10/16", "any"),))
    committed = [str(d) for d in validate(parse_config(MICRO).put("segment", seg))]
    assert "segment corp policy 5: 10.50.1.10/16 has host bits set: use 10.50.0.0/16" in committed  # one wording, line and commit
