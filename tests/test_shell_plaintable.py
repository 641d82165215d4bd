"""The shell's tables written without rich read exactly as rich writes them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shell import plaintable
from shell.output import render_text
from shell.render import table
from shell.state import Result

cells = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12) | st.none() | st.booleans() | st.integers()
keys = st.lists(st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True), min_size=1, max_size=6, unique=True)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[dict[str, object]]]:
    columns = draw(keys)
    rows = draw(st.lists(st.fixed_dictionaries({c: cells for c in columns}), min_size=1, max_size=6))
    return columns, rows


def by_rich(result: Result, width: int) -> str:
    saved = plaintable.render
    plaintable.render = lambda *a: None  # type: ignore[assignment]
    try:
        return render_text(result, width)
    finally:
        plaintable.render = saved  # type: ignore[assignment]


@settings(max_examples=300, deadline=None)
@given(tables(), st.integers(20, 200))
def test_plain_tables_read_as_rich_writes_them(data: tuple[list[str], list[dict[str, object]]], width: int) -> None:
    columns, rows = data
    result = Result(renderable=table(rows, columns), data=rows)
    assert render_text(result, width) == by_rich(result, width)


def test_what_only_rich_can_lay_out_goes_to_rich() -> None:
    for cell in ("[bold]x[/bold]", ":smile:", "wide \u4e2d", "a" * 300):
        assert plaintable.render(table([{"a": cell}], ["a"]), 100) is None
    assert plaintable.render(table([{"a": "x"}], ["a"]), 100) == "a\n\u2500\nx"


plain_cells = st.text("abc xyz09-./", max_size=12) | st.none() | st.booleans()


@settings(max_examples=200, deadline=None)
@given(keys, st.data())
def test_plain_cells_take_the_fast_way(columns: list[str], data: st.DataObject) -> None:
    rows = data.draw(st.lists(st.fixed_dictionaries({c: plain_cells for c in columns}), min_size=1, max_size=6))
    result = Result(renderable=table(rows, columns), data=rows)
    fast = plaintable.render(result.renderable, 200)
    assert fast is not None and fast == by_rich(result, 200)
