"""Rich tables for people; the same rows are the `| json` data.

Column and field names are the configuration's words (`micro-segmentation`,
`default-action`, `vpc-routers`): the row keys with `_` written `-`; the JSON
keeps the keys as they are (snake_case).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich import box
from rich.console import Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from shell.state import Result


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def _data(text: str) -> str | Text:
    """A cell as data, never markup: a '[' (a name like '[/]') goes as Text,
    which rich prints as it is (a markup error otherwise); plain strings stay
    strings, the fast plain-table path (shell/plaintable.py)."""
    return Text(text) if "[" in text else text


def label(key: str) -> str:
    """A row key as people read it: the configuration's spelling."""
    return key.replace("_", "-")


def table(rows: list[dict[str, Any]], columns: Iterable[str] | None = None, title: str | None = None) -> Table:
    """A compact table of rows (dicts) with the given columns."""
    cols = list(columns) if columns is not None else list(rows[0]) if rows else []
    t = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False, show_edge=False)
    for c in cols:
        t.add_column(label(c), overflow="fold")
    for row in rows:
        t.add_row(*(_data(_cell(row.get(c))) for c in cols))
    return t


def rows_result(rows: list[dict[str, Any]], columns: Iterable[str] | None = None, empty: str = "Nothing configured.") -> Result:
    """A table result, or a one-line note when there are no rows."""
    if not rows:
        return Result(empty, data=[])
    return Result(renderable=table(rows, columns), data=rows)


def detail_result(fields: dict[str, Any], sections: list[tuple[str, list[dict[str, Any]]]], data: Any) -> Result:
    """A key/value head and titled tables under it (`show vpc NAME`). Each
    table is indented under its title, as IOS-XR prints sub-blocks, so
    `| section TITLE` keeps the table (a block is a line and the indented
    lines under it)."""
    head = Table.grid(padding=(0, 2))
    for k, v in fields.items():
        head.add_row(label(k), _cell(v))
    parts: list[Any] = [head]
    for title, rows in sections:
        if rows:
            parts += [Text(title, style="italic"), Padding(table(rows), (0, 0, 0, 2), expand=False)]
    return Result(renderable=Group(*parts), data=data)
