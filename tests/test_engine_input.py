"""Hostile configurations reaching the engine past the shell's grammar (a
file, the Python API, a state file): every name and every piece of text is
checked, special address ranges are refused, messages never echo control
characters (issue 10: items 5, 14, 15)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from engine.api import LabApi
from engine.errors import Diagnostic, ValidationError
from engine.model import NatMap, Vpc
from engine.store import LabStore
from engine.testing import RecordingFabric
from engine.text import REFUSED
from engine.validate import validate
from shell.loader import parse_config
from tests.configs import PORTAL

RICH = parse_config(PORTAL + """\
cxp east
 cloud aws
 region us-east-1
 description the east hub
!
segment cust-a
 description customer a
 policy 10 permit tcp host 10.1.1.10 10.1.200.0/24 eq 80
 policy 20 deny ip group web any
!
vpc wan-a
 description the wan
 group web
 subnet lan 10.1.1.0/24 group front
!
resource-share portal-a
 description the portal
!
""")

BAD = ["\n", "\r", "\x1b[2J", "\x07", "\x00", "\x7f", "\x9b", "\u2028", "\u0085", "\t", "\udce9"]


def string_fields(obj: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths (attribute names and tuple indexes) to every string in a model tree."""
    if isinstance(obj, str):
        yield path
    elif isinstance(obj, tuple):
        for i, member in enumerate(obj):
            yield from string_fields(member, (*path, i))
    elif dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            yield from string_fields(getattr(obj, f.name), (*path, f.name))


def with_value(obj: Any, path: tuple[Any, ...], value: str) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(obj, tuple):
        return (*obj[:head], with_value(obj[head], rest, value), *obj[head + 1 :])
    return dataclasses.replace(obj, **{head: with_value(getattr(obj, head), rest, value)})


def test_the_rich_configuration_is_valid() -> None:
    assert validate(RICH) == []
    assert len(list(string_fields(RICH))) > 60


@pytest.mark.parametrize("bad", BAD, ids=[f"U+{ord(b[0]):04X}" for b in BAD])
def test_every_string_of_a_configuration_refuses_control_characters(bad: str) -> None:
    """Whatever the field (names, descriptions, cloud, region, groups,
    policy terms, prefixes, NAT lines), a control character is a
    diagnostic naming the object, and no message carries it raw."""
    unreported = []
    for path in string_fields(RICH):
        original = _get(RICH, path)
        broken = with_value(RICH, path, original[:2] + bad + original[2:])
        diagnostics = validate(broken)
        if not diagnostics:
            unreported.append(path)
        for d in diagnostics:
            assert REFUSED.search(str(d)) is None, (path, str(d))
    assert unreported == []


def _get(obj: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        obj = obj[step] if isinstance(obj, tuple) else getattr(obj, step)
    return obj


def test_free_text_names_the_character_and_the_object() -> None:
    broken = RICH.put("segment", dataclasses.replace(RICH.require("segment", "cust-a"), description="evil\x1b]0;owned\x07"))
    assert [str(d) for d in validate(broken)] == [
        "segment cust-a: description: ESC (U+001B) at column 5 is not allowed: remove it"]


@pytest.mark.parametrize("name", ["web\n", "web\r", "\nweb", "we b", "web\x00"])
def test_names_are_whole_matches_at_every_level(name: str) -> None:
    vpc = RICH.require("vpc", "wan-a")
    host = vpc.hosts[0]
    cases = [
        RICH.put("vpc", dataclasses.replace(vpc, name=name)),
        RICH.put("vpc", dataclasses.replace(vpc, subnets=(dataclasses.replace(vpc.subnets[0], name=name),))),
        RICH.put("vpc", dataclasses.replace(vpc, hosts=(dataclasses.replace(host, name=name),))),
        RICH.put("vpc", dataclasses.replace(vpc, services=(dataclasses.replace(RICH.require("vpc", "portal").services[0], host=host.name, name=name),))),
    ]
    for config in cases:
        lines = [str(d) for d in validate(config)]
        assert any("invalid name" in line for line in lines), lines
        assert all(REFUSED.search(line) is None for line in lines)


def test_a_diagnostic_shows_a_bad_name_escaped() -> None:
    assert str(Diagnostic("vpc web\x1b[2J", "no segment")) == "vpc web\\x1b[2J: no segment"


def test_a_commit_comment_with_control_characters_is_refused(tmp_path: Any) -> None:
    api = LabApi("t_text", RecordingFabric(), LabStore("t_text", tmp_path))
    api.set_candidate(RICH)
    with pytest.raises(ValidationError, match=r"commit comment: newline \(LF\) \(U\+000A\) at column 4"):
        api.commit(comment="bad\nvpc evil")
    assert api.commit_number() == 0
    api.commit(comment="fine")
    assert api.history()[0].comment == "fine"


@pytest.mark.parametrize("cidr, what", [
    ("127.0.0.0/8", "loopback"), ("127.1.0.0/16", "loopback"), ("224.0.0.0/4", "multicast"),
    ("239.1.0.0/16", "multicast"), ("0.0.0.0/8", "'this network'"), ("0.0.0.0/0", "'this network'"),
    ("240.0.0.0/4", "reserved"), ("255.255.255.255/32", "reserved"), ("169.254.0.0/16", "the fabric's own links"),
])  # fmt: skip
def test_special_ranges_are_refused_as_cidrs(cidr: str, what: str) -> None:
    vpc = RICH.require("vpc", "wan-a")
    config = RICH.put("vpc", dataclasses.replace(vpc, cidrs=(*vpc.cidrs, cidr)))
    lines = [str(d) for d in validate(config)]
    assert any(line.startswith(f"vpc wan-a: cidr {cidr} overlaps") and what in line for line in lines), lines


@pytest.mark.parametrize("target, what", [("127.0.0.0/24", "loopback"), ("224.1.1.0/24", "multicast"),
                                          ("0.0.1.0/24", "'this network'"), ("240.0.0.0/24", "reserved")])
def test_special_ranges_are_refused_as_nat_targets(target: str, what: str) -> None:
    share = RICH.require("resource-share", "portal-a")
    config = RICH.put("resource-share", dataclasses.replace(share, nat=(NatMap("end-a", "10.1.1.0/24", target), share.nat[1])))
    lines = [str(d) for d in validate(config)]
    assert any(f"nat end-a 10.1.1.0/24 to {target}: {target} overlaps" in line and what in line for line in lines), lines


def test_a_vpc_without_a_cidr_is_refused() -> None:
    config = RICH.put("vpc", Vpc("bare", segment="cust-a"))
    assert "vpc bare: no cidr: add 'cidr A.B.C.D/N' (required: the VPC's addresses come from it)" in [str(d) for d in validate(config)]



def test_suggesting_a_nat_range_stays_fast_when_the_pool_is_used_up() -> None:
    """An import overlapping a /0 once made the `nat` suggestion try each of
    the 4 million /32s of 100.64.0.0/10 (30 s): spans are jumped now."""
    import time

    vpc = RICH.require("vpc", "wan-a")
    config = RICH.put("vpc", dataclasses.replace(vpc, cidrs=(*vpc.cidrs, "0.0.0.0/0")))
    start = time.process_time()
    assert validate(config)
    assert time.process_time() - start < 1.0
