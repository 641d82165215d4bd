"""Replay configuration lines into a scratch candidate (what `load`, `apply`
and the demo read).

Lines run through the same interpreter as typed lines, in configuration
mode, against a scratch candidate, so a file loads exactly as if pasted
(one difference: a `!` in the first column, the printer's block separator,
returns to configuration mode, so `segment prod` after a vpc block names a
segment rather than the vpc's segment); only configuration lines are
accepted, and the first bad line stops the load with `FILE:LINE: % ...`
and leaves the real candidate untouched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from engine.errors import VpclabError
from engine.model import Config
from shell.grammar.registry import Grammar
from shell.interpreter import Interpreter
from shell.state import ShellState

if TYPE_CHECKING:
    from engine.api import LabApi

WRAPPING = ("configure", "configure terminal", "end", "exit")


class LoadError(VpclabError):
    """A configuration file has a bad line; carries the printed lines."""

    def __init__(self, lines: list[str]):
        self.printed = lines
        super().__init__(lines[0] if lines else "load failed")

    def lines(self) -> list[str]:
        return self.printed


@dataclass
class ScratchApi:
    """Just enough of LabApi for configuration lines: a candidate."""

    candidate: Config
    running: Config

    def set_candidate(self, config: Config) -> None:
        """Replace the scratch candidate."""
        self.candidate = config


def replay(lines: Iterable[tuple[str, str]], grammar: Grammar, base: Config | None = None) -> Config:
    """`base` (default empty) with every (FILE:LINE, text) line applied."""
    start = base if base is not None else Config()
    api = ScratchApi(start, start)
    errors: list[str] = []
    # only configuration lines run here (edits_only), and they use nothing of
    # LabApi but the candidate, which the scratch api holds
    state = ShellState(api=cast("LabApi", api), lab="load", mode="config", emit=errors.append)
    interp = Interpreter(state, grammar)
    interp.edits_only = True
    for where, line in lines:
        if line.strip() in WRAPPING:
            continue  # the wrapping a hand-written file may carry
        if line.startswith("!"):  # the printer's block separator closes the object
            state.enter("config")
            continue
        state.where = where
        if not interp.run(line):
            raise LoadError("\n".join(errors).splitlines())
    return api.candidate
