"""The Plan: the desired kernel state of a lab, as frozen plain data.

A Plan is a set of items (engine/items.py) keyed by identity; the compiler's
stages add them to a PlanBuilder, which refuses two different items with
one key. The item kinds are re-exported here: they are the plan's
vocabulary, and code that reads plans may import both from one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from engine.items import (
    ITEM_KINDS,
    MAIN_TABLE,
    REFUSED_MARK,
    AddressItem,
    BridgeItem,
    Item,
    Key,
    LinkConfItem,
    NetnsItem,
    NftItem,
    PlanItem,
    RouteItem,
    RouteMeta,
    RuleItem,
    ServiceDataItem,
    ServiceItem,
    VethItem,
    ifindex_of,
    kind_label,
    kind_rank,
)
from engine.memo import derived


@dataclass(frozen=True)
class Plan:
    """The desired state: items by key. Build with PlanBuilder."""

    items: dict[Key, Item] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items.values())

    def __len__(self) -> int:
        return len(self.items)

    def of_kind(self, kind: str) -> list[Item]:
        """Items whose key starts with `kind` ('ns', 'route', ...)."""
        return [i for k, i in self.items.items() if k[0] == kind]

    def by_namespace(self) -> dict[str, list[Item]]:
        """Items per namespace they live in (a veth in both), indexed on first
        use (engine/memo.py): whatever depends on an item lives in one of its
        namespaces, so the diff follows cascades only there."""
        return derived(self, "_by_ns", self._index_namespaces)

    def _index_namespaces(self) -> dict[str, list[Item]]:
        out: dict[str, list[Item]] = {}
        for item in self.items.values():
            for ns in item.spaces():
                out.setdefault(ns, []).append(item)
        return out

    def namespaces(self) -> list[str]:
        """Every namespace of the plan."""
        return [k[1] for k in self.items if k[0] == "ns"]

    def in_ns(self, ns: str) -> list[Item]:
        """Items living in namespace `ns` (a veth counts in both of its ends)."""
        return [i for i in self.items.values() if ns in i.spaces()]

    def counts(self) -> dict[str, int]:
        """How many items of each kind."""
        out: dict[str, int] = {}
        for k in self.items:
            out[k[0]] = out.get(k[0], 0) + 1
        return out


class PlanBuilder:
    """Collects items from the compiler's stages; refuses two items with one key."""

    def __init__(self) -> None:
        self._items: dict[Key, Item] = {}

    def add(self, item: Item) -> None:
        """Add one item; a second, different item with the same key is a compiler bug."""
        old = self._items.get(item.key)
        if old is not None and old != item:
            raise ValueError(f"plan conflict at {item.key}: {old} vs {item}")
        self._items[item.key] = item

    def get(self, key: Key) -> Item | None:
        """The item added under `key` so far (a later stage may build on it)."""
        return self._items.get(key)

    def put(self, item: Item) -> None:
        """Add `item`, replacing whatever holds its key: for a later stage
        that says more about the same kernel object (an endpoint's route
        where a share offers exactly that address)."""
        self._items[item.key] = item

    def extend(self, items: Iterable[Item]) -> None:
        """Add many items."""
        for item in items:
            self.add(item)

    def merge(self, keyed: Mapping[Key, Item]) -> None:
        """Add a memoised group of items by key: one C-level update, item by
        item only where keys meet (a commit merges hundreds of such groups)."""
        if not self._items.keys().isdisjoint(keyed):
            for item in keyed.values():
                self.add(item)
            return
        self._items.update(keyed)

    def keyed(self) -> Mapping[Key, Item]:
        """The items so far, by key, read-only (memoised groups are shared)."""
        return MappingProxyType(dict(self._items))

    def build(self) -> Plan:
        """The finished, frozen plan."""
        return Plan(dict(self._items))


__all__ = [
    "ITEM_KINDS", "MAIN_TABLE", "REFUSED_MARK", "AddressItem", "BridgeItem", "Item", "Key", "LinkConfItem", "NetnsItem",
    "NftItem", "Plan", "PlanBuilder", "PlanItem", "RouteItem", "RouteMeta", "RuleItem", "ServiceDataItem", "ServiceItem", "VethItem",
    "ifindex_of", "kind_label", "kind_rank",
]
