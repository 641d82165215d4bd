"""The difference of two Plans, as ordered operations.

Removing a kernel object removes what depends on it (a namespace takes its
links, a link takes its addresses and routes). The diff knows this: it
emits an explicit removal only for items whose dependencies survive, and
re-adds every surviving item that a removal takes down with it. Routes and
link settings change in place (replace / set), everything else is removed
and created again.

`simulate` applies operations to a Plan symbolically; after a failed commit
the realiser simulates what it managed to do and diffs that against the old
plan to undo exactly that (see lab/fabric.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.plan import KIND_ORDER, Item, Key, Plan, VethItem

IN_PLACE = frozenset({"conf", "route"})  # changed by set/replace, not remove+add


@dataclass(frozen=True)
class Op:
    """One operation: `remove` or `add` (add of an existing key replaces)."""

    action: str
    item: Item

    @property
    def kind(self) -> str:
        return self.item.key[0]


def _providers(plan: Plan) -> dict[Key, Key]:
    out: dict[Key, Key] = {}
    for key, item in plan.items.items():
        for provided in item.provides():
            out[provided] = key
    return out


def _dependents(plan: Plan) -> dict[Key, list[Key]]:
    """item key -> keys of items that depend on it directly."""
    prov = _providers(plan)
    out: dict[Key, list[Key]] = {}
    for key, item in plan.items.items():
        for dep in item.deps():
            owner = prov.get(dep)
            if owner is not None and owner != key:
                out.setdefault(owner, []).append(key)
    return out


def _cascade(plan: Plan, roots: set[Key]) -> set[Key]:
    """Every key of `plan` that goes away when `roots` are removed."""
    deps = _dependents(plan)
    gone = set(roots)
    stack = list(roots)
    while stack:
        for child in deps.get(stack.pop(), ()):
            if child not in gone:
                gone.add(child)
                stack.append(child)
    return gone


def _order(ops: list[Op], reverse: bool) -> list[Op]:
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    return sorted(ops, key=lambda op: rank[op.kind], reverse=reverse)


def plan_diff(old: Plan, new: Plan) -> list[Op]:
    """Operations that turn `old` into `new`: removals first, then additions."""
    changed = {k for k, v in old.items.items() if k in new.items and new.items[k] != v}
    roots = {k for k in old.items if k not in new.items} | {k for k in changed if k[0] not in IN_PLACE}
    gone = _cascade(old, roots)
    prov = _providers(old)
    removals = [Op("remove", old.items[k]) for k in roots if not _covered(old.items[k], prov, gone)]
    adds = [
        Op("add", item)
        for k, item in new.items.items()
        if k not in old.items or k in gone or k in changed
    ]
    return _order(removals, reverse=True) + _order(adds, reverse=False)


def _covered(item: Item, prov: dict[Key, Key], gone: set[Key]) -> bool:
    """True when the kernel removes `item` with a removed dependency.

    A namespace is freed asynchronously, so a veth with one end in a
    surviving namespace would linger there for a while: it is removed
    explicitly unless both of its namespaces go.
    """
    hits = [prov.get(dep) in gone and prov.get(dep) != item.key for dep in item.deps()]
    return all(hits) if isinstance(item, VethItem) else any(hits)


def simulate(plan: Plan, ops: list[Op]) -> Plan:
    """The plan that results from applying `ops` to `plan`, with kernel cascades."""
    items = dict(plan.items)
    for op in ops:
        if op.action == "add":
            items[op.item.key] = op.item
        else:
            current = Plan(items)
            for key in _cascade(current, {op.item.key}):
                items.pop(key, None)
    return Plan(items)


def summarize(ops: list[Op]) -> dict[str, int]:
    """Counts like {'+ns': 2, '-route': 1} for history and reports."""
    out: dict[str, int] = {}
    for op in ops:
        tag = ("+" if op.action == "add" else "-") + op.kind
        out[tag] = out.get(tag, 0) + 1
    return out
