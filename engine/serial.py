"""Config <-> JSON-ready dicts, for persistence under /run/vpclab/LAB/.

Generic over the model's frozen dataclasses: a field is rebuilt from its
type hint, so adding a field to the model needs no change here. Defaults
are omitted on the way out to keep the files small and diff-friendly.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache, lru_cache
from typing import Any

from engine import model
from engine.model import Config


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def to_data(obj: Any) -> Any:
    """A dataclass tree as plain dicts, lists and scalars, without defaults.

    Model objects are frozen and hashable, so each one's data is memoised:
    saving a commit re-serialises only what changed. Callers must not
    mutate the returned structures (they are written out as JSON)."""
    if isinstance(obj, tuple):
        return [to_data(v) for v in obj]
    if dataclasses.is_dataclass(obj):
        # the Config itself is hashed from everything it holds: not worth a memo
        return _object_data.__wrapped__(obj) if isinstance(obj, Config) else _object_data(obj)  # type: ignore[arg-type]
    return obj


@lru_cache(maxsize=65536)
def _object_data(obj: Any) -> dict[str, Any]:
    out = {}
    for f in _fields(type(obj)):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if value != _default(f):
            out[f.name] = to_data(value)
    return out


@cache
def _fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(cls)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(model))


class DataError(ValueError):
    """Data that `to_data` could not have written (a damaged state file)."""


def _build(tp: Any, data: Any, path: str = "config") -> Any:
    """Rebuild a value of type `tp`, checking every type on the way: a state
    file someone edited or truncated must fail here, naming the place, not
    later as a crash far away (or as a string taken for a tuple of letters)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _build(inner[0], data, path)
    if origin is tuple:
        (elem, _) = typing.get_args(tp)
        _expect(isinstance(data, list), path, "a list", data)
        return tuple(_build(elem, d, f"{path}[{i}]") for i, d in enumerate(data))
    if dataclasses.is_dataclass(tp):
        _expect(isinstance(data, dict), path, "an object", data)
        hints = _hints(tp)  # type: ignore[arg-type]
        values = {k: _build(hints[k], v, f"{path}.{k}") for k, v in data.items() if k in hints}
        missing = [f.name for f in _fields(tp) if f.name not in values and _default(f) is dataclasses.MISSING]  # type: ignore[arg-type]
        _expect(not missing, path, f"the field {', '.join(missing)}", data)
        return tp(**values)  # type: ignore[operator]
    if tp is bool:
        _expect(isinstance(data, bool), path, "true or false", data)
    elif tp is int:
        _expect(isinstance(data, int) and not isinstance(data, bool), path, "a whole number", data)
    elif tp is str:
        _expect(isinstance(data, str), path, "a string", data)
    return data


def _expect(ok: bool, path: str, what: str, data: Any) -> None:
    if not ok:
        raise DataError(f"{path}: expected {what}, found {type(data).__name__ if data is not None else 'null'}")


def from_data(data: Any) -> Config:
    """Rebuild a Config from `to_data`'s output; DataError (naming the
    field) when the data could not have come from it."""
    return _build(Config, data)  # type: ignore[no-any-return]
