"""Three-way merge of configurations, object by object, for `update`.

Two sessions edit one lab: A starts from commit 4, B commits 5, A's
commit is refused ("configuration database modified", as Junos says),
since applying A's candidate would silently undo B's work. `update` (Junos'
name) rebases A's edits onto commit 5: per object (a VPC, a segment, ...),
what only one side changed is taken from that side; an object both changed
differently keeps A's version and is reported, so A can look at it before
committing.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.model import KINDS, Config


@dataclass(frozen=True)
class Merged:
    """The rebased candidate and the objects both sides changed (`vpc web`)."""

    config: Config
    conflicts: tuple[str, ...]


def merge(base: Config, mine: Config, theirs: Config) -> Merged:
    """`mine` rebased from `base` onto `theirs`."""
    out = theirs
    conflicts = []
    for kind in KINDS:
        b, m, t = ({o.name: o for o in c.objects(kind)} for c in (base, mine, theirs))
        for name in sorted(b.keys() | m.keys() | t.keys()):
            was, now, other = b.get(name), m.get(name), t.get(name)
            if now == was or now == other:
                continue  # only they changed it (theirs is in `out` already), or both alike
            if other != was:
                conflicts.append(f"{kind} {name}")
            out = out.put(kind, now) if now is not None else out.remove(kind, name)
    return Merged(out, tuple(conflicts))
