"""Commands and modes: the declarations that parsing, help and completion share.

A `Command` is FRRouting's DEFUN: its syntax (one string), the help of its
words, the modes it lives in and its handler. A `Mode` is a node of the mode
tree: a name, a prompt, a parent to fall back to. Both are plain data;
`Grammar` compiles every command of a mode into one matching graph, once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shell.grammar import graph
from shell.grammar.syntax import Arg, Element, Kw, parse_syntax
from shell.grammar.words import keyword_help

Handler = Callable[[Any, dict[str, str]], Any]


@dataclass(eq=False)
class Command:
    """One declared command.

    `help` overrides the glossary for words or captures whose meaning is
    particular to this command (a dict), or, as a string, helps its first
    keyword. `accept_partial` lists the captures after which a shorter line is
    already complete: `no subnet web` needs the key, not the whole line.
    `edits` marks configuration lines (what `load` and `apply` accept).
    """

    syntax: str
    handler: Handler
    modes: tuple[str, ...]
    help: dict[str, str] | str = field(default_factory=dict)
    accept_partial: tuple[str, ...] | None = None
    edits: bool = False
    element: Element | None = None  # given when built from another declaration

    def __post_init__(self) -> None:
        if self.element is None:
            self.element = parse_syntax(self.syntax)

    def help_for(self, elem: Kw | Arg, capture: str | None) -> str:
        """The help of one word of this command, declared once somewhere."""
        own = self.help if isinstance(self.help, dict) else {}
        if isinstance(elem, Kw):
            return own.get(elem.word) or keyword_help(elem.word)
        return own.get(capture or "") or elem.type.help


@dataclass(frozen=True)
class Mode:
    """A node of the mode tree."""

    name: str
    prompt: str  # appended to the lab name: "#", "(config)#", "(config-vpc)#"
    parent: str | None
    kind: str | None = None  # the object kind an object mode edits


class Grammar:
    """Every command and mode, with one compiled graph per mode."""

    def __init__(self, modes: list[Mode], commands: list[Command]):
        self.modes = {m.name: m for m in modes}
        self.commands = commands
        self.roots: dict[str, list[graph.Node]] = {}
        for name in self.modes:
            roots: list[graph.Node] = []
            for cmd in commands:
                if name in cmd.modes:
                    roots.extend(graph.compile_command(cmd))
            self.roots[name] = roots

    def chain(self, mode: str) -> list[str]:
        """The mode and its ancestors, innermost first (IOS fall-back order)."""
        out: list[str] = []
        cur: str | None = mode
        while cur is not None:
            out.append(cur)
            cur = self.modes[cur].parent
        return out
