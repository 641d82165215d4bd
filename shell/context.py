"""What a command handler gets besides its arguments: a small context.

Handlers see the session state (mode, terminal settings, the lab's api),
a way to print, and, for `do`, a way to parse a line in another mode; not
the interpreter. That keeps commands, the loader and the interpreter free
of each other (the interpreter imports the grammar, never the reverse).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import VpclabError
from shell.grammar.matcher import Parsed, SyntaxFault
from shell.grammar.registry import Grammar
from shell.state import Result, ShellState

if TYPE_CHECKING:
    from engine.api import LabApi

Parser = Callable[[str, str], "tuple[str, Parsed] | SyntaxFault"]


class SyntaxFaultError(VpclabError):
    """A syntax fault carried as an error (printed with its caret)."""

    def __init__(self, fault: SyntaxFault):
        self.fault = fault
        super().__init__(fault.lines()[-1])

    def lines(self) -> list[str]:
        return self.fault.lines()


@dataclass(frozen=True)
class Context:
    """The session, output and language a handler may use.

    `line` is the whole line as typed and `head` the part the command was
    parsed from (before any `|` filter), so a handler that parses a part of
    its own line (`do`) can put a caret into the whole line. `live` is set
    when the output may go to the terminal while the command runs (no
    filter, no JSON): `host X exec` streams through it.
    """

    state: ShellState
    grammar: Grammar
    parse: Parser
    line: str = ""
    head: str = ""
    live: Callable[[str], None] | None = None

    @property
    def api(self) -> LabApi:
        """The lab this session edits and shows."""
        return self.state.api

    def emit(self, text: str) -> None:
        """Print a line now (before the command's result)."""
        self.state.emit(text)

    def run(self, parsed: Parsed) -> Result | None:
        """Call a parsed command's handler with its typed arguments."""
        args = {k: v for k, v in parsed.values.items() if not k.startswith("_")}
        out: Result | None = parsed.command.handler(self, **args)
        return out

    def fault_in_tail(self, fault: SyntaxFault, tail: str) -> SyntaxFaultError:
        """A fault found in `tail`, the end of this command's head (what `do`
        runs), as an error whose caret points into the whole line."""
        return SyntaxFaultError(fault.within(self.line, len(self.head) - len(tail)))
