"""The running-config printer, derived from the declarations in `schema`.

Blocks come in the model's kind order, objects by name; sub-lines are
indented one space, `!` separates blocks, defaults are omitted. Because each
line is printed by unparsing its own syntax, reading the text back gives the
same Config.
"""

from __future__ import annotations

import difflib
from typing import Any

from engine.model import CORE_CXP, Config
from shell.schema import KIND_BY_NAME, ObjectKind, printing_order


def object_lines(kind: ObjectKind, obj: Any) -> list[str]:
    """The block of one object (empty for the implicit, unconfigured 'core')."""
    inline = kind.inline_binding()
    if inline is not None:
        return inline.render(obj, extra={"name": obj.name})
    body = [f" {text}" for _line, b in kind.bindings() for text in b.render(obj)]
    if kind.kind == "cxp" and obj.name == CORE_CXP and not body:
        return []
    return [f"{kind.kind} {obj.name}", *body]


def blocks(config: Config, kind: str | None = None, name: str | None = None) -> dict[tuple[str, str], list[str]]:
    """Every object's block keyed by (kind, name), in running-config order."""
    kinds = [KIND_BY_NAME[kind]] if kind else printing_order()
    out: dict[tuple[str, str], list[str]] = {}
    for k in kinds:
        for obj in config.objects(k.kind):
            if name is None or obj.name == name:
                lines = object_lines(k, obj)
                if lines:
                    out[(k.kind, obj.name)] = lines
    return out


def running_config(config: Config, kind: str | None = None, name: str | None = None) -> str:
    """The text of `show running-config` (also what `save` writes)."""
    out: list[str] = []
    for block in blocks(config, kind, name).values():
        out += [*block, "!"]
    return "\n".join(out)


def _order(key: tuple[str, str]) -> tuple[int, str]:
    kinds = [k.kind for k in printing_order()]
    return kinds.index(key[0]), key[1]


def config_diff(old: Config, new: Config) -> list[str]:
    """New against old, object by object: `+`/`-` lines under each header."""
    a, b = blocks(old), blocks(new)
    out: list[str] = []
    for key in sorted(set(a) | set(b), key=_order):
        before, after = a.get(key, []), b.get(key, [])
        if before == after:
            continue
        if not before or not after or KIND_BY_NAME[key[0]].inline:
            out += [f"- {ln}" for ln in before if ln not in after]
            out += [f"+ {ln}" for ln in after if ln not in before]
            continue
        out.append(f"  {after[0]}")
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=before[1:], b=after[1:], autojunk=False).get_opcodes():
            if tag != "equal":
                out += [f"- {ln}" for ln in before[1:][i1:i2]] + [f"+ {ln}" for ln in after[1:][j1:j2]]
    return out
