"""Checks of segments: their policy entries and what those refer to."""

from __future__ import annotations

from collections.abc import Iterable

from engine.errors import Diagnostic
from engine.model import Config, PolicyEntry
from engine.validate.lines import policy_entry_problems

Groups = dict[str, list[tuple[str, str]]]


def check(config: Config, previous: Config) -> Iterable[Diagnostic]:
    """Every policy entry of every segment; seqs used once per segment."""
    groups = config.groups()
    for seg in config.segments:
        seqs: set[int] = set()
        for entry in seg.policies:
            yield from _policy_entry(config, groups, seg.name, entry)
            if entry.seq in seqs:
                yield Diagnostic(f"segment {seg.name} policy {entry.seq}", "seq used twice")
            seqs.add(entry.seq)


def _policy_entry(config: Config, groups: Groups, segment: str, e: PolicyEntry) -> Iterable[Diagnostic]:
    here = f"segment {segment} policy {e.seq}"
    for side in (e.src, e.dst):
        kind, _, ref = side.partition(" ")
        if kind == "group":
            members = groups.get(ref)
            if not members:
                yield Diagnostic(here, f"group {ref} does not exist")
            elif not any(_member_segment(config, m) == segment for m in members):
                homes = sorted({s for m in members if (s := _member_segment(config, m))})
                yield Diagnostic(
                    here, f"group {ref} belongs to segment {', '.join(homes) or '?'}, not {segment}: a policy can use only its own segment's groups"
                )
        elif kind == "prefix-list" and config.get("prefix-list", ref) is None:
            yield Diagnostic(here, f"prefix-list {ref} does not exist")
    for problem in policy_entry_problems(e):
        yield Diagnostic(here, problem)
    if e.action == "inspect" and config.get("firewall", e.firewall or "") is None:
        yield Diagnostic(here, f"firewall {e.firewall} does not exist")


def _member_segment(config: Config, member: tuple[str, str]) -> str | None:
    vpc = config.get("vpc", member[1].split("/")[0])
    return vpc.segment if vpc else None
