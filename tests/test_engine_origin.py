"""Origins: one format written into nft comments and table sources, one parse."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.compile import compile_plan
from engine.items import NftItem
from engine.origin import SCOPES, Origin, within
from shell.loader import parse_config
from tests.configs import PORTAL

NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_.-]{0,31}", fullmatch=True)
ENTRIES = st.one_of(st.integers(1, 65535).map(str), st.sampled_from(["", "default", "direction", "nat end-a", "source"]))


@given(st.sampled_from(sorted(SCOPES)), NAMES, ENTRIES)
def test_parse_reads_back_what_format_writes(scope: str, name: str, entry: str) -> None:
    origin = Origin(scope, name if SCOPES[scope] else "", entry)
    assert Origin.parse(str(origin)) == origin
    if entry:
        assert origin.whole().entry_text(entry) == str(origin)


@pytest.mark.parametrize(
    "text, origin",
    [
        ("segment corp 10", Origin("segment", "corp", "10")),
        ("segment corp default", Origin("segment", "corp", "default")),
        ("share x direction", Origin("share", "x", "direction")),
        ("share x nat end-a", Origin("share", "x", "nat end-a")),
        ("firewall fw 20", Origin("firewall", "fw", "20")),
        ("firewall fw default", Origin("firewall", "fw", "default")),
        ("shares source", Origin("shares", "", "source")),
        ("fabric", Origin("fabric")),
        ("segment corp", Origin("segment", "corp")),
    ],
)
def test_the_texts_in_use(text: str, origin: Origin) -> None:
    assert Origin.parse(text) == origin and str(origin) == text


@pytest.mark.parametrize("text", ["", "resource-share x", "segment", "counter", "sharesx source"])
def test_other_texts_name_no_origin(text: str) -> None:
    assert Origin.parse(text) is None


def test_unknown_scope_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown origin scope"):
        Origin("zone", "z")


def test_selections_of_show_policy_hits() -> None:
    assert within("segment corp 10", "segment", "corp")
    assert not within("segment corporate 10", "segment", "corp")  # a name, not a text prefix
    assert within("segment corp default", "segment")
    assert not within("shares source", "share")  # `shares` is the routers' own scope
    assert within("shares source", None) and within("someone else's", None)
    assert not within("someone else's", "segment")
    assert Origin("firewall", "fw", "20").seq == 20 and Origin("segment", "a", "default").seq is None
    assert Origin("share", "x", "direction").whole() == Origin("share", "x") and Origin("share", "x").kind == "resource-share"


def test_every_counter_comment_the_compiler_writes_is_an_origin() -> None:
    config = parse_config(PORTAL + "segment provider\n default-action deny\n policy 10 permit tcp any any eq 80 log\n!\n")
    tables = [i for i in compile_plan("t", config) if isinstance(i, NftItem)]
    comments = {c for t in tables for c, _ in t.counted}
    assert {"segment provider 10", "segment provider default", "share portal-a direction", "shares source"} <= comments
    assert all(Origin.parse(c) is not None for c in comments)
    assert all(isinstance(s, Origin) and not s.entry for t in tables for s in t.sources)
