"""The whole language: the mode tree and every command, compiled once."""

from __future__ import annotations

from shell.commands import configure, diagnose, endpoints, flows, pathcheck, session, show
from shell.context import Context
from shell.grammar.registry import Command, Grammar, Mode
from shell.interpreter import Interpreter
from shell.schema import OBJECT_KINDS
from shell.state import Result, ShellState


def _filter(_ctx: Context, pattern: str = "") -> Result:
    return Result()  # pipes are applied by the interpreter, never run


PIPE_COMMANDS = [
    Command("include pattern=REGEX", _filter, ("pipe",), "Lines matching a regular expression"),
    Command("exclude pattern=REGEX", _filter, ("pipe",), "Lines not matching a regular expression"),
    Command("begin pattern=REGEX", _filter, ("pipe",), "From the first line matching a regular expression"),
    Command("section pattern=REGEX", _filter, ("pipe",), "Blocks whose first line matches a regular expression"),
    Command("count", _filter, ("pipe",), "Count the output lines"),
    Command("json", _filter, ("pipe",), "The structured result as JSON"),
]

MODES = [
    Mode("exec", "#", None),
    Mode("config", "(config)#", "exec"),
    *(Mode(k.mode, f"({k.mode})#", "config", k.kind) for k in OBJECT_KINDS if k.mode),
    Mode("pipe", "", None),
]

GRAMMAR = Grammar(MODES, [*session.commands(), *configure.commands(), *show.commands(), *endpoints.commands(),
                          *diagnose.commands(), *pathcheck.commands(), *flows.commands(),
                          *PIPE_COMMANDS])


def interpreter(state: ShellState) -> Interpreter:
    """An interpreter of the whole language for one session."""
    return Interpreter(state, GRAMMAR)
