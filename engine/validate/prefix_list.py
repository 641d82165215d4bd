"""Checks of prefix lists."""

from __future__ import annotations

from collections.abc import Iterable

from engine.errors import Diagnostic
from engine.model import Config
from engine.validate.lines import prefix_list_entry_problems


def check(config: Config, previous: Config) -> Iterable[Diagnostic]:
    """Each entry on its own, and seqs used once per list."""
    for pl in config.prefix_lists:
        seqs: set[int] = set()
        for e in pl.entries:
            here = f"prefix-list {pl.name} seq {e.seq}"
            if e.seq in seqs:
                yield Diagnostic(here, "seq used twice")
            seqs.add(e.seq)
            for problem in prefix_list_entry_problems(e):
                yield Diagnostic(here, problem)
