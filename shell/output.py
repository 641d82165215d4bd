"""Turn a command's Result into text: rich rendering, JSON and `|` filters."""

from __future__ import annotations

import io
import json
import re
from typing import Any

from rich.console import Console
from rich.table import Table

from engine.errors import VpclabError
from shell import plaintable
from shell.state import Result


class FilterError(VpclabError):
    """A bad regular expression in an output filter."""


def render_text(result: Result, width: int, color: bool = False) -> str:
    """The human form of a result."""
    if result.renderable is None:
        return result.text
    plain = plaintable.render(result.renderable, width) if isinstance(result.renderable, Table) and not color else None
    if plain is not None:  # the common table, written without rich's layout (shell/plaintable.py)
        return f"{result.text}\n{plain}" if result.text else plain
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=color, color_system="auto" if color else None,
                      no_color=not color, highlight=False, soft_wrap=False)
    console.print(result.renderable)
    text = "\n".join(ln.rstrip() for ln in buf.getvalue().rstrip("\n").splitlines())
    return f"{result.text}\n{text}" if result.text else text


def json_data(result: Result) -> Any:
    """The structured form; commands without data give their text lines."""
    if callable(result.data):  # made on demand: `show flows` builds 100,000 rows only for JSON
        return result.data()
    return result.data if result.data is not None else result.text.splitlines()


def to_json(result: Result) -> str:
    """The structured form as JSON text."""
    return json.dumps(json_data(result), indent=2, default=str)


def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as err:
        raise FilterError(f"bad regular expression {pattern!r}: {err}") from None


def apply_filter(text: str, how: str, pattern: str | None) -> str:
    """One `| include|exclude|begin|section|count` filter over text lines."""
    lines = text.splitlines()
    if how == "count":
        return f"Count: {len(lines)} lines"
    rx = _regex(pattern or "")
    if how == "include":
        return "\n".join(ln for ln in lines if rx.search(ln))
    if how == "exclude":
        return "\n".join(ln for ln in lines if not rx.search(ln))
    if how == "begin":
        for i, ln in enumerate(lines):
            if rx.search(ln):
                return "\n".join(lines[i:])
        return ""
    return "\n".join(_sections(lines, rx))


def _sections(lines: list[str], rx: re.Pattern[str]) -> list[str]:
    """Blocks (a line and the indented lines under it) whose head matches."""
    out: list[str] = []
    keep = False
    for ln in lines:
        if ln and not ln[0].isspace():
            keep = bool(rx.search(ln))
        if keep and ln.strip() != "!":
            out.append(ln)
    return out
