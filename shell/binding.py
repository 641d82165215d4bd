"""Bind a configuration line's captures to the model, generically.

A line's captures are named after model fields, and the field's type hint
says what kind of line it is, so one small class serves every line:

- `str | None` / `int` field: a scalar (`no` restores the default);
- `bool`: a flag;
- `tuple[str, ...]`: a list of values (`cidr`), one line each;
- `tuple[Item, ...]`: keyed items (`subnet`, `policy`), key = the item's first
  field, kept sorted by key; a missing integer key is numbered as IOS does;
- `Item | None`: a structured value (`end-a segment S prefix-list L`).

Printing walks the same syntax backwards (`unparse`), so the running-config
printer cannot drift from the parser.
"""

from __future__ import annotations

import dataclasses
import typing
from functools import cache
from typing import Any

from engine import model
from engine.errors import VpclabError
from shell.grammar.syntax import (
    Alt,
    Arg,
    Cap,
    Element,
    Kw,
    Opt,
    Rep,
    Seq,
    captures,
    leading_keywords,
    parse_syntax,
)


class LineError(VpclabError):
    """A configuration line conflicts with the configuration (nothing changed)."""


@cache
def hints(cls: type) -> dict[str, Any]:
    """Resolved type hints of a model class."""
    return typing.get_type_hints(cls, vars(model))


def default_of(cls: type, name: str) -> Any:
    """The declared default of a dataclass field (None when it has none)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
    return None


def _inner(tp: Any) -> Any:
    """`X | None` -> X; `tuple[X, ...]` -> X."""
    args = [a for a in typing.get_args(tp) if a is not type(None) and a is not Ellipsis]
    return args[0] if args else tp


def convert(tp: Any, value: Any) -> Any:
    """A captured value as the field's type (the grammar converted typed
    arguments already; an item key numbered here arrives as an int)."""
    base = _inner(tp) if typing.get_origin(tp) is not None else tp
    if base is bool:
        return True
    if base is int:
        return int(value)
    return value


def build_item(cls: type, values: dict[str, Any]) -> Any:
    """An item dataclass from captured values (absent fields take defaults)."""
    h = hints(cls)
    return cls(**{k: convert(h[k], v) for k, v in values.items() if k in h})


def fields_of(obj: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict, one level deep."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def unparse(elem: Element, values: dict[str, Any]) -> list[str] | None:
    """The words that would parse back into `values`, or None if impossible."""
    match elem:
        case Kw(word):
            return [word]
        case Arg():
            return None
        case Seq(items):
            out: list[str] = []
            for item in items:
                part = unparse(item, values)
                if part is None:
                    return None
                out += part
            return out
        case Alt(options):
            for option in options:
                part = unparse(option, values)
                if part is not None:
                    return part
            return None
        case Opt(item):
            if not captures(item):
                return []
            part = unparse(item, values)
            return [] if part is None else part
        case Rep():
            return []
        case Cap(name, item):
            return _unparse_capture(item, values.get(name))
    raise TypeError(elem)


def _unparse_capture(item: Element, value: Any) -> list[str] | None:
    if value is None or value is False:
        return None
    if value is True:
        return unparse(item, {})
    if _only_keywords(item):
        words = _keyword_words(item)
        return [str(value)] if str(value) in words else None
    return [str(value)]


def _only_keywords(elem: Element) -> bool:
    match elem:
        case Kw():
            return True
        case Alt(options):
            return all(isinstance(o, Kw) for o in options)
    return False


def _keyword_words(elem: Element) -> set[str]:
    if isinstance(elem, Kw):
        return {elem.word}
    return {o.word for o in elem.options}  # type: ignore[union-attr]


class Binding:
    """One declared configuration line bound to a field of a model class."""

    def __init__(self, syntax: str, owner: type, field: str | None = None):
        self.syntax = syntax
        self.element = parse_syntax(syntax)
        caps = captures(self.element)
        self.field = field or (caps[0] if caps else "")
        self.owner = owner
        tp = hints(owner)[self.field]
        origin = typing.get_origin(tp)
        inner = _inner(tp)
        if tp is bool:
            self.shape = "flag"
        elif origin is tuple:
            self.shape = "items" if dataclasses.is_dataclass(inner) else "strings"
        elif dataclasses.is_dataclass(inner):
            self.shape = "struct"
        else:
            self.shape = "scalar"
        self.item_cls: type | None = inner if self.shape in ("items", "struct") else None
        self.key = dataclasses.fields(inner)[0].name if self.shape == "items" else None
        # items are identified by their first field, or by the fields a model
        # class names in KEY_FIELDS (a share's nat lines: end and original)
        self.key_fields: tuple[str, ...] = getattr(inner, "KEY_FIELDS", (self.key,)) if self.key else ()

    # editing -----------------------------------------------------------------

    def apply(self, obj: Any, values: dict[str, Any]) -> Any:
        """`obj` with this line set."""
        if self.shape == "flag":
            return dataclasses.replace(obj, **{self.field: True})
        if self.shape == "scalar":
            return dataclasses.replace(obj, **{self.field: convert(hints(self.owner)[self.field], values[self.field])})
        if self.shape == "struct":
            assert self.item_cls is not None
            return dataclasses.replace(obj, **{self.field: build_item(self.item_cls, values)})
        current = getattr(obj, self.field)
        if self.shape == "strings":
            value = values[self.field]
            return obj if value in current else dataclasses.replace(obj, **{self.field: (*current, value)})
        return dataclasses.replace(obj, **{self.field: self._put_item(current, values)})

    def _put_item(self, current: tuple[Any, ...], values: dict[str, Any]) -> tuple[Any, ...]:
        assert self.item_cls is not None and self.key is not None
        values = dict(values)
        if self.key not in values:  # IOS numbers unnumbered entries by fives
            keys = [getattr(i, self.key) for i in current]
            values[self.key] = max(keys, default=0) // 5 * 5 + 5
        item = build_item(self.item_cls, values)

        def ident(i: Any) -> tuple[Any, ...]:
            return tuple(getattr(i, k) for k in self.key_fields)

        rest = [i for i in current if ident(i) != ident(item)]
        return tuple(sorted((*rest, item), key=ident))

    def remove(self, obj: Any, values: dict[str, Any], where: str) -> Any:
        """`obj` with this line removed (or defaulted); LineError if absent."""
        if self.shape in ("flag", "scalar", "struct"):
            return dataclasses.replace(obj, **{self.field: default_of(self.owner, self.field)})
        current = getattr(obj, self.field)
        if self.shape == "strings":
            value = values[self.field]
            if value not in current:
                raise LineError(f"{where}: {' '.join(self.words())} {value} is not configured")
            return dataclasses.replace(obj, **{self.field: tuple(v for v in current if v != value)})
        keep = [i for i in current if not self._selects(i, values)]
        if len(keep) == len(current):
            shown = " ".join(str(values[k]) for k in values if k in hints(self.item_cls))  # type: ignore[arg-type]
            raise LineError(f"{where}: {' '.join(self.words())} {shown} does not exist".replace("  ", " "))
        return dataclasses.replace(obj, **{self.field: tuple(keep)})

    def _selects(self, item: Any, values: dict[str, Any]) -> bool:
        given = {k: v for k, v in values.items() if k in hints(type(item))}  # type: ignore[arg-type]
        return all(str(getattr(item, k)) == str(v) for k, v in given.items())

    def words(self) -> list[str]:
        """The leading keywords of the line (`subnet`, `end-a`, ...)."""
        return leading_keywords(self.element)

    # printing ----------------------------------------------------------------

    def render(self, obj: Any, extra: dict[str, Any] | None = None) -> list[str]:
        """This line's configuration lines for `obj` (defaults omitted).

        `extra` supplies captures outside the field (an inline kind's name).
        """
        value = getattr(obj, self.field)
        more = extra or {}
        if value == default_of(self.owner, self.field):
            return []
        if self.shape == "flag":
            rows = [unparse(self.element, {})]
        elif self.shape == "scalar":
            rows = [unparse(self.element, {self.field: value})]
        elif self.shape == "struct":
            rows = [unparse(self.element, fields_of(value))]
        elif self.shape == "strings":
            rows = [unparse(self.element, {self.field: v}) for v in value]
        else:
            rows = [unparse(self.element, {**more, **fields_of(i)}) for i in value]
        return [" ".join(r) for r in rows if r is not None]
