"""The whole language: the mode tree and every command, compiled once."""

from __future__ import annotations

from shell.commands import configure, diagnose, flows, pathcheck, session, show
from shell.grammar.registry import Command, Grammar, Mode
from shell.schema import OBJECT_KINDS
from shell.state import Result


def _filter(sh: object, values: dict[str, str]) -> Result:
    return Result()  # pipes are applied by the interpreter, never run


PIPE_COMMANDS = [
    Command("include pattern=REGEX", _filter, ("pipe",)),
    Command("exclude pattern=REGEX", _filter, ("pipe",)),
    Command("begin pattern=REGEX", _filter, ("pipe",)),
    Command("section pattern=REGEX", _filter, ("pipe",)),
    Command("count", _filter, ("pipe",), "Count the output lines"),
    Command("json", _filter, ("pipe",)),
]

MODES = [
    Mode("exec", "#", None),
    Mode("config", "(config)#", "exec"),
    *(Mode(k.mode, f"({k.mode})#", "config", k.kind) for k in OBJECT_KINDS if k.mode),
    Mode("pipe", "", None),
]

GRAMMAR = Grammar(MODES, [*session.commands(), *configure.commands(), *show.commands(),
                          *diagnose.commands(), *pathcheck.commands(), *flows.commands(),
                          *PIPE_COMMANDS])
