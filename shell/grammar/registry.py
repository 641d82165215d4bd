"""Commands and modes: the declarations that parsing, help and completion share.

A `Command` is FRRouting's DEFUN: its syntax (one string), the help of its
words, the modes it lives in and its handler. A `Mode` is a node of the mode
tree: a name, a prompt, a parent to fall back to. Both are plain data;
`Grammar` compiles every command of a mode into one matching graph, once.

A handler is called as `handler(ctx, **arguments)`: one keyword argument per
capture of its syntax, already converted by the capture's declared type (a
PORT is an int, a flag like `[log=log]` a bool, a group of words a str), and
absent when the line left an optional part out, so the handler's own
defaults apply. That the handler takes every capture is checked when the
command is declared, not when a user first types it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shell.grammar import graph
from shell.grammar.syntax import Alt, Arg, Cap, Element, Kw, Opt, Rep, Seq, parse_syntax
from shell.grammar.types import ArgType
from shell.grammar.words import keyword_help

Handler = Callable[..., Any]
# how a capture becomes a value: an argument type, a flag (a lone keyword), or words
CaptureKind = ArgType | bool | None


def capture_kinds(elem: Element) -> dict[str, CaptureKind]:
    """Each capture of a declaration and how its words become a value."""
    out: dict[str, CaptureKind] = {}
    match elem:
        case Cap(name, item):
            kind: CaptureKind = item.type if isinstance(item, Arg) else True if isinstance(item, Kw) else None
            out[name] = kind if out.get(name, kind) == kind else None
            out.update({k: v for k, v in capture_kinds(item).items() if k not in out})
        case Seq(items) | Alt(items):
            for i in items:
                for k, v in capture_kinds(i).items():
                    out[k] = v if out.get(k, v) == v else None
        case Opt(item) | Rep(item):
            out.update(capture_kinds(item))
    return out


def convert_value(kind: CaptureKind, words: list[str]) -> Any:
    """The value of one capture from the words it matched (a repeated
    option, `top 5 top 9`, keeps the last, as IOS does)."""
    if isinstance(kind, ArgType):
        return kind.convert(words[-1])
    if kind is True:
        return True
    return " ".join(words)


@dataclass(eq=False)
class Command:
    """One declared command.

    `help` overrides the glossary for words or captures whose meaning is
    particular to this command (a dict), or, as a string, helps its last
    leading keyword. `accept_partial` lists the captures after which a
    shorter line is already complete: `no subnet web` needs the key, not the
    whole line. `edits` marks configuration lines (what `load` and `apply`
    accept, and what moves a session into the mode that accepted them).
    """

    syntax: str
    handler: Handler
    modes: tuple[str, ...]
    help: dict[str, str] | str = field(default_factory=dict)
    accept_partial: tuple[str, ...] | None = None
    edits: bool = False
    element: Element | None = None  # given when built from another declaration
    captures: dict[str, CaptureKind] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.element is None:
            self.element = parse_syntax(self.syntax)
        self.captures = capture_kinds(self.element)
        self._check_handler()

    def _check_handler(self) -> None:
        """Every capture must be a parameter of the handler (or it takes **kwargs)."""
        params = list(inspect.signature(self.handler).parameters.values())[1:]
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return
        names = {p.name for p in params}
        missing = [c for c in self.captures if not c.startswith("_") and c not in names]
        if missing:
            raise TypeError(f"handler {self.handler.__name__} of {self.syntax!r} lacks parameters {missing}")

    def arguments(self, words: dict[str, list[str]]) -> dict[str, Any]:
        """The handler's keyword arguments from the words each capture matched."""
        return {k: convert_value(self.captures.get(k), v) for k, v in words.items()}

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
