"""What a commit reports: its operations on the lab, its result, and the
history's record of it, with the configuration changes each names
(`+vpc web`, `~segment prod`). Apart from engine/session.py, which makes
commits, so that views and shells read results without the session."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.diff import Op, summarize
from engine.items import kind_label
from engine.model import KINDS, Config


@dataclass(frozen=True)
class PlanChanges:
    """What a commit does to the kernel, as operations."""

    ops: tuple[Op, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.ops

    def counts(self) -> dict[str, int]:
        """Counts like {'+ns': 3, '-route': 1}."""
        return summarize(list(self.ops))

    def lines(self) -> list[str]:
        """One line per operation, for `commit check`."""
        out = []
        for op in self.ops:
            sign = "+" if op.action == "add" else "-"
            key = op.item.key
            out.append(f"{sign} {kind_label(key[0])} {' '.join(key[1:])}")
        return out


@dataclass(frozen=True)
class CommitResult:
    """The outcome of a commit (number None: nothing to commit)."""

    number: int | None
    changes: PlanChanges
    seconds: float = 0.0
    confirmed_until: float | None = None
    messages: tuple[str, ...] = field(default=())
    config_changes: tuple[str, ...] = ()  # `+vpc web`, `-prefix-list P`: what it changed in the configuration


@dataclass(frozen=True)
class CommitRecord:
    """One line of `show commit history`: `counts` are the lab's changes,
    `config_changes` the configuration's (`+vpc web`, `~segment prod`),
    `expired` the confirmed commit this one rolled back, if any."""

    number: int
    time: float
    comment: str | None
    user: str
    counts: dict[str, int]
    config_changes: tuple[str, ...] = ()
    expired: int | None = None


def config_changes(old: Config, new: Config) -> list[str]:
    """What a commit changes in the configuration, object by object, in
    running-config order: `+` added, `-` removed, `~` changed."""
    out: list[str] = []
    for kind in KINDS:
        before = {o.name: o for o in old.objects(kind)}
        after = {o.name: o for o in new.objects(kind)}
        for name in sorted(before.keys() | after.keys()):
            if name not in after:
                out.append(f"-{kind} {name}")
            elif name not in before:
                out.append(f"+{kind} {name}")
            elif before[name] != after[name]:
                out.append(f"~{kind} {name}")
    return out
