"""The difference of two Plans, as ordered operations.

Removing a kernel object removes what depends on it (a namespace takes its
links, a link takes its addresses and routes). The diff knows this: it
emits an explicit removal only for items whose dependencies survive, and
re-adds every surviving item that a removal takes down with it. Kinds that
declare IN_PLACE (routes, link settings, tables, services) change where
they stand; everything else is removed and created again. Operations are
ordered by each kind's declared ORDER (engine/plan.py).

`simulate` applies operations to a Plan symbolically; after a failed commit
the realiser simulates what it managed to do and diffs that against the old
plan to undo exactly that (see lab/fabric.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.items import Item, Key, NftItem, kind_rank
from engine.plan import Plan


@dataclass(frozen=True)
class Op:
    """One operation: `remove` or `add` (add of an existing key replaces)."""

    action: str
    item: Item

    @property
    def kind(self) -> str:
        return self.item.KIND


def _providers(plan: Plan) -> dict[Key, Key]:
    out: dict[Key, Key] = {}
    for key, item in plan.items.items():
        for provided in item.provides():
            out[provided] = key
    return out


def _cascade(plan: Plan, roots: set[Key]) -> set[Key]:
    """Every key of `plan` that goes away when `roots` are removed: what
    depends on a removed item, and what needs an address on a link that
    loses its last one (engine/items.py `needs_address`)."""
    by_ns = plan.by_namespace()
    gone = set(roots)
    stack = list(roots)
    while stack:
        while stack:
            item = plan.items[stack.pop()]
            provided = set(item.provides())
            for ns in item.spaces():
                for child in by_ns.get(ns, ()):
                    if child.key not in gone and provided.intersection(child.deps()):
                        gone.add(child.key)
                        stack.append(child.key)
        stack = _unaddressed(plan, by_ns, gone)
        gone.update(stack)
    return gone


def _unaddressed(plan: Plan, by_ns: dict[str, list[Item]], gone: set[Key]) -> list[Key]:
    """Items not yet gone that need an address on a link whose every
    address is gone (the link itself staying)."""
    emptied: set[Key] = set()
    for key in gone:
        link = plan.items[key].address_of()
        if link is not None and link not in emptied and not _addressed(by_ns[link[1]], link, gone):
            emptied.add(link)
    if not emptied:
        return []
    return [i.key for ns in {link[1] for link in emptied} for i in by_ns[ns]
            if i.key not in gone and i.needs_address() in emptied]


def _addressed(items: list[Item], link: Key, gone: set[Key]) -> bool:
    return any(i.key not in gone and i.address_of() == link for i in items)


def _order(ops: list[Op], reverse: bool) -> list[Op]:
    rank = kind_rank()
    return sorted(ops, key=lambda op: rank[op.kind], reverse=reverse)


def plan_diff(old: Plan, new: Plan) -> list[Op]:
    """Operations that turn `old` into `new`: removals first, then additions.
    A commit computes them once and hands them to the fabric with the plans."""
    new_items = new.items
    # unchanged VPCs come from the compiler's memo as the very same objects,
    # so an identity test settles most items without comparing fields
    changed = {k for k, v in old.items.items() if k in new_items and new_items[k] is not v and new_items[k] != v}
    roots = {k for k in old.items if k not in new.items} | {k for k in changed if not new_items[k].IN_PLACE}
    gone = _cascade(old, roots) if roots else set()
    prov = _providers(old) if roots else {}
    removals = [Op("remove", old.items[k]) for k in roots if not _covered(old.items[k], prov, gone)]
    adds = [
        Op("add", item)
        for k, item in new.items.items()
        if k not in old.items or k in gone or k in changed
    ]
    return _order(removals, reverse=True) + _order(adds, reverse=False)


def repair_ops(plan: Plan, missing: set[Key], different: set[Key]) -> list[Op]:
    """Operations that put back what drifted from `plan`, and nothing else.

    A missing item is added with everything the kernel took down with it:
    a missing namespace brings back all that lives in it, a missing link
    its settings (up, master), addresses and routes. A different item is changed
    where it stands when its kind can be (routes, link settings, tables),
    else removed and added again together with what that removal takes down.
    Everything else is left alone: connections through it keep flowing."""
    missing = {k for k in missing if k in plan.items}
    different = {k for k in different if k in plan.items} - missing
    missing |= _cascade(plan, missing) if missing else set()
    roots = {k for k in different if not plan.items[k].IN_PLACE}
    gone = _cascade(plan, roots) if roots else set()
    prov = _providers(plan) if roots else {}
    removals = [Op("remove", plan.items[k]) for k in roots if not _covered(plan.items[k], prov, gone)]
    adds = [Op("add", item) for k, item in plan.items.items() if k in missing or k in gone or k in different]
    return _order(removals, reverse=True) + _order(adds, reverse=False)


def _covered(item: Item, prov: dict[Key, Key], gone: set[Key]) -> bool:
    """True when the kernel removes `item` with a removed dependency (each
    kind says how: engine/plan.py `removed_with`)."""
    return item.removed_with([prov.get(dep) in gone and prov.get(dep) != item.key for dep in item.deps()])


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


def reloaded_tables(old: Plan, ops: Iterable[Op]) -> list[tuple[NftItem, NftItem | None]]:
    """Each nftables table that `ops` load, with the table it replaces
    (None when the namespace had none): where counters carry over and where
    a changed policy must judge the open connections again."""
    out = []
    for op in ops:
        if op.action == "add" and isinstance(op.item, NftItem):
            before = old.items.get(op.item.key)
            out.append((op.item, before if isinstance(before, NftItem) else None))
    return out


def summarize(ops: list[Op]) -> dict[str, int]:
    """Counts like {'+ns': 2, '-route': 1} for history and reports."""
    out: dict[str, int] = {}
    for op in ops:
        tag = ("+" if op.action == "add" else "-") + op.kind
        out[tag] = out.get(tag, 0) + 1
    return out
