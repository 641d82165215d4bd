"""Checks of every name and every piece of text in a configuration.

A configuration arrives from the shell (whose grammar already refuses bad
characters), from a saved file, from the Python API or from a state file,
so the whole object tree is walked generically: a field added to the
model is covered without a change here. Every `name` must be a whole
match of NAME_RE (`re.match` with `$` would let a trailing newline
through); every other string, free text included (descriptions, cloud,
region, policy terms), must hold no control character (engine/text.py).
Messages show a bad name escaped, never raw.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from engine.errors import Diagnostic
from engine.model import KINDS, Config
from engine.text import REFUSED, text_problem

NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,31}")
INVALID_NAME = "invalid name: use a letter, then letters, digits, _ . - (32 at most)"

# what the CLI calls the members of a collection field (default: the field
# name without its plural s, `_` as `-`)
_WORDS = {"policies": "policy", "entries": "entry", "nat": "nat", "end_a": "end-a", "end_b": "end-b",
          "public_hosts": "public-host", "load_balancers": "load-balancer", "cidrs": "cidr", "backends": "backend"}


def valid_name(name: object) -> bool:
    """A name as every kind of object needs it (the whole string)."""
    return isinstance(name, str) and NAME_RE.fullmatch(name) is not None


def check(config: Config, previous: Config) -> Iterable[Diagnostic]:
    """Names that are malformed or defined twice within a kind, and text
    with characters that are refused, anywhere in the configuration."""
    for kind in KINDS:
        seen: set[str] = set()
        for obj in config.objects(kind):
            where = f"{kind} {obj.name}"
            if not valid_name(obj.name):
                yield Diagnostic(where, INVALID_NAME)
            if obj.name in seen:
                yield Diagnostic(where, "defined twice")
            seen.add(obj.name)
            yield from _text(where, obj)


def _text(where: str, obj: Any) -> Iterator[Diagnostic]:
    """The nested names and the strings of one object, recursively. Cheap
    when all is well (a 10,000-entry policy is walked on every commit): one
    search over the object's own strings joined, details only on a hit."""
    texts, nested = _shape(type(obj))
    values = [getattr(obj, f) for f in texts]
    if REFUSED.search(" ".join(v for v in values if isinstance(v, str))):
        for f, value in zip(texts, values):
            if isinstance(value, str) and REFUSED.search(value):
                yield Diagnostic(where, f"{_word(f)}: {text_problem(value)}: remove it")
    for f in nested:
        value = getattr(obj, f)
        if _flat_and_clean(value):
            continue
        for member in value if isinstance(value, tuple) else (value,):
            if isinstance(member, str):
                if REFUSED.search(member):
                    yield Diagnostic(where, f"{_word(f)}: {text_problem(member)}: remove it")
            elif dataclasses.is_dataclass(member) and not _clean(member):
                yield from _member(where, f, member)


def _flat_and_clean(value: Any) -> bool:
    """True for a tuple of objects of one class without names or nested
    fields (policy entries, prefix-list entries) none of which holds a
    refused character: all their strings in one search."""
    if not isinstance(value, tuple) or not value or not dataclasses.is_dataclass(value[0]):
        return False
    cls = type(value[0])
    if _shape(cls)[1] or hasattr(value[0], "name") or any(type(m) is not cls for m in value):
        return False
    get = _getter(cls)
    return REFUSED.search(" ".join(v for m in value for v in get(m) if isinstance(v, str))) is None


def _clean(obj: Any) -> bool:
    """True when nothing in `obj` is refused: the fast path of the walk."""
    texts, nested = _shape(type(obj))
    values = _getter(type(obj))(obj)
    if REFUSED.search(" ".join(v for v in values if isinstance(v, str))):
        return False
    if hasattr(obj, "name") and not valid_name(obj.name):
        return False
    for f in nested:
        value = getattr(obj, f)
        for member in value if isinstance(value, tuple) else (value,):
            if isinstance(member, str) and REFUSED.search(member):
                return False
            if dataclasses.is_dataclass(member) and not _clean(member):
                return False
    return True


def _getter(cls: Any) -> Callable[[Any], tuple[Any, ...]]:
    """The values of a class's string fields, as one tuple."""
    found = _GETTERS.get(cls)
    if found is None:
        texts = _shape(cls)[0]
        if len(texts) > 1:
            found = operator.attrgetter(*texts)
        else:
            found = lambda obj: tuple(getattr(obj, f) for f in texts)  # noqa: E731 - one or none
        _GETTERS[cls] = found
    return found


def _member(where: str, field: str, member: Any) -> Iterator[Diagnostic]:
    name = getattr(member, "name", None)
    problems = list(_text("", member))
    bad_name = hasattr(member, "name") and not valid_name(name)
    if not problems and not bad_name:
        return
    label = name if name is not None else getattr(member, "seq", None)
    here = " ".join(part for part in (where, _word(field), None if label is None else str(label)) if part)
    if bad_name:
        yield Diagnostic(here, INVALID_NAME)
    for p in problems:
        yield Diagnostic(f"{here}{' ' + p.path if p.path else ''}", p.message)


def _shape(cls: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(fields holding one string, other than the name; fields holding
    tuples or objects) of a model class (computed once per class)."""
    found = _SHAPES.get(cls)
    if found is None:
        found = _SHAPES[cls] = _shape_of(cls)
    return found


def _shape_of(cls: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    texts, nested = [], []
    for f in dataclasses.fields(cls):
        hint = str(f.type)
        if hint in ("str", "str | None"):
            if f.name != "name":
                texts.append(f.name)
        elif "tuple" in hint or hint[:1].isupper():
            nested.append(f.name)
    return tuple(texts), tuple(nested)


_SHAPES: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}
_GETTERS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def _word(field: str) -> str:
    return _WORDS.get(field) or (field[:-1] if field.endswith("s") else field).replace("_", "-")
