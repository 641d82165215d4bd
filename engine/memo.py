"""Values derived from an immutable object, remembered on the object.

A Config or a Plan never changes after it is made, so an index of it (VPCs
by segment, items by namespace) is a pure function of its fields. Building
such an index for every new object would cost each shell edit a pass over
the whole configuration, so it is built on first use instead, and kept on
the object, where it lives and dies with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def derived(obj: Any, name: str, build: Callable[[], T]) -> T:
    """`build()`, remembered in `obj`'s __dict__ under `name`.

    Safe for threads that share the object: the value is built whole and
    then published with one dictionary store (atomic under the GIL), so no
    thread sees half an index; two threads may both build it, and since the
    results are equal either store is right. The value takes no part in the
    object's equality, hash or repr (dataclass fields only)."""
    value = obj.__dict__.get(name)
    if value is None:
        value = build()
        obj.__dict__[name] = value
    return value  # type: ignore[no-any-return]
