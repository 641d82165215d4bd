"""The compiler's memory, as an object its owner holds and passes in.

Recompiling a lab after a one-VPC change should cost one VPC: the stages
memoise their groups of items on exactly their inputs (a VPC's items on the
VPC and its segment's routers, a share's on its ends' offers, a segment's
policy maps on the segment and its resolved terms, each namespace's table
on its fragments), and an unchanged group comes back as the very same
objects, so the diff settles it by identity.

Whoever compiles owns a CompileCache (a Session, a LabReader; LabApi gives
both the same one), so nothing is shared behind anyone's back, a test can
start cold, and memory goes with the owner. It is thread-safe: a lookup
and a store each take the cache's lock; the value is built outside it, so
two threads may build the same group at once, and either result (they are
equal) is kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class _Key(list):  # type: ignore[type-arg]
    """A memo key whose hash is computed once (as functools.lru_cache does):
    keys hold frozen config objects and prefixes, whose hashes are not
    cached and cost a walk of everything they hold, and an LRU touches its
    key several times per lookup."""

    __slots__ = ("hashvalue",)

    def __init__(self, key: tuple[Any, ...]):
        super().__init__(key)
        self.hashvalue = hash(key)

    def __hash__(self) -> int:  # type: ignore[override]
        return self.hashvalue


class _Bounded:
    """An LRU-ordered map under the owner's lock, at most `size` entries."""

    def __init__(self, lock: threading.Lock, size: int):
        self._lock = lock
        self._size = size
        self._values: OrderedDict[Hashable, Any] = OrderedDict()

    def _lookup(self, key: Hashable) -> Any | None:
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def _store(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            if len(self._values) > self._size:
                self._values.popitem(last=False)

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        """Forget everything (benchmarks measure cold stages with it)."""
        with self._lock:
            self._values.clear()


class Memo(_Bounded):
    """A bounded map from inputs to the value built from them."""

    def get(self, key: tuple[Any, ...], build: Callable[[], T]) -> T:
        """The value for `key`, built (outside the lock) when it is not known."""
        hashed = _Key(key)
        value = self._lookup(hashed)
        if value is None:
            value = build()
            self._store(hashed, value)
        return value  # type: ignore[no-any-return]


class LatestMemo(_Bounded):
    """One value per name (a namespace), valid while its inputs are equal:
    for values too big to keep many of (a 10,000-entry policy's table is
    about 1 MB), only the latest per name is remembered."""

    def get(self, name: str, inputs: Hashable, build: Callable[[], T]) -> T:
        """The value built last for `name` if it was built from equal inputs,
        else a new one, which replaces it."""
        cached = self._lookup(name)
        if cached is not None and cached[0] == inputs:  # compared outside the lock: inputs are big
            return cached[1]  # type: ignore[no-any-return]
        value = build()
        self._store(name, (inputs, value))
        return value


class CompileCache:
    """The memos of one owner's compiles (see the module's docstring)."""

    def __init__(self, size: int = 16384, namespaces: int = 65536):
        lock = threading.Lock()
        self.vpcs = Memo(lock, size)  # (lab, vpc, its segment's routers) -> items
        self.shares = Memo(lock, size)  # (lab, share, hub, offers, routers) -> items and nft fragments
        self.policies = Memo(lock, 16)  # (segment, resolved terms) -> policy maps and chain (big)
        self.tables = LatestMemo(lock, namespaces)  # namespace -> (fragments, its NftItem)

    def sizes(self) -> dict[str, int]:
        """How many entries each memo holds (for tests and benchmarks)."""
        return {"vpcs": len(self.vpcs), "shares": len(self.shares), "policies": len(self.policies), "tables": len(self.tables)}
