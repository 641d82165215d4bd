"""Compile a command's syntax AST into matching nodes (Thompson style).

Each node is one word position: a keyword or a typed argument, the captures
it feeds, its help, and the nodes that may follow; an `END` node marks where
the command may finish. Optional parts and repeats are just extra edges, so
matching, `?` and TAB all walk the same graph, as FRRouting's CLI does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shell.grammar.syntax import (
    Alt,
    Arg,
    Cap,
    Element,
    Kw,
    Opt,
    Rep,
    Seq,
    leading_keywords,
)

if TYPE_CHECKING:
    from shell.grammar.registry import Command


@dataclass(eq=False)
class Node:
    """One position in a command; `token` is None for the end of the command."""

    command: Command
    token: Kw | Arg | None
    captures: tuple[str, ...] = ()
    help: str = ""
    next: list[Node] = field(default_factory=list)


def compile_command(cmd: Command) -> list[Node]:
    """The first nodes of `cmd`; following `next` edges reaches its END."""
    end = Node(cmd, None, help="")
    assert cmd.element is not None
    roots = _Builder(cmd).build(cmd.element, [end], ())
    fix_first_help(roots)
    return roots


class _Builder:
    def __init__(self, cmd: Command):
        self.cmd = cmd

    def build(self, elem: Element, follow: list[Node], caps: tuple[str, ...]) -> list[Node]:
        """Nodes that start `elem`, given what follows it (built back to front)."""
        match elem:
            case Kw() | Arg():
                return [self._leaf(elem, follow, caps)]
            case Seq(items):
                nodes = follow
                for item in reversed(items):
                    nodes = self.build(item, nodes, caps)
                return nodes
            case Alt(options):
                return [n for o in options for n in self.build(o, follow, caps)]
            case Opt(item):
                return self.build(item, follow, caps) + follow
            case Rep(item):
                loop: list[Node] = []
                first = self.build(item, loop, caps)
                loop.extend(first + follow)
                return first + follow
            case Cap(name, item):
                return self.build(item, follow, caps + (name,))
        raise TypeError(elem)

    def _leaf(self, elem: Kw | Arg, follow: list[Node], caps: tuple[str, ...]) -> Node:
        node = Node(self.cmd, elem, caps, "", follow)
        node.help = self.cmd.help_for(elem, caps[-1] if caps else None)
        return node


def fix_first_help(roots: list[Node]) -> None:
    """Give a command's own help string to its last leading keyword.

    `show vpc NAME` declared with "Details of one VPC" helps `vpc`, while
    `show` keeps the glossary's line.
    """
    if not roots or not isinstance(roots[0].command.help, str):
        return
    cmd = roots[0].command
    assert cmd.element is not None
    lead = leading_keywords(cmd.element)
    nodes = roots
    for i, word in enumerate(lead):
        nodes = [n for n in nodes if isinstance(n.token, Kw) and n.token.word == word]
        if i == len(lead) - 1:
            for n in nodes:
                n.help = str(cmd.help)
        nodes = [m for n in nodes for m in n.next]
