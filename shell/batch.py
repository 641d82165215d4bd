"""Run command scripts (`-f FILE`, `-c CMD`, piped stdin): stop at the first failing line.

Each failure prints `FILE:LINE: % message`; with `keep_going` the script runs
on and the status is still 1 at the end, as CLI.md says. When a block
header fails (an unindented line such as `vpc web` that would have entered
the object's mode), its indented lines are skipped, with one note, and the
session leaves the object it was editing, so neither they nor the next
header land on that object.

With `--json` and more than one command, the results form one JSON
document: a list with one entry per command (null for a command that
prints nothing, `{"error": ...}` for a failing one).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

from shell.interpreter import Interpreter
from shell.source import InputError


def run_script(interp: Interpreter, lines: Iterable[tuple[str, str]], keep_going: bool = False,
               json_list: bool = False) -> int:
    """Run (where, line) pairs; 0 when every line succeeded, else 1."""
    state = interp.state
    emit = state.emit
    if json_list:  # stdout holds the one JSON document; anything else said goes to stderr
        interp.results = []
        state.emit = state.emit_error or state.emit
    try:
        status = _run(interp, lines, keep_going)
    except BrokenPipeError:  # `vpclab -c ... | head`: the reader left, stop quietly
        _silence_stdout()
        return 0
    finally:
        state.where = ""
        state.emit = emit
        if json_list and interp.results is not None:
            _print_json(interp.results)
            interp.results = None
    if state.mode != "exec" and state.api.has_changes() and status == 0:
        (state.emit_error or state.emit)("% Note: the script ended in configuration mode; its uncommitted changes were not applied.")
    return status


def _run(interp: Interpreter, lines: Iterable[tuple[str, str]], keep_going: bool) -> int:
    state = interp.state
    status = 0
    failed_header: str | None = None  # where the last failed block header was
    skipped = False
    try:
        for where, line in lines:
            state.where = where
            if failed_header is not None and line[:1] in (" ", "\t") and line.strip():
                if not skipped:
                    interp.report([f"% skipped with the rest of its block: its header at {failed_header} failed"])
                    skipped = True
                continue
            failed_header, skipped = None, False
            ok = _run_line(interp, line)
            if not ok:
                status = 1
                if not keep_going:
                    break
                if line[:1] not in (" ", "\t"):
                    failed_header = where
                    _leave_object_mode(interp)
            if state.done:
                break
    except InputError as err:  # the file itself went bad (not UTF-8, too long)
        state.where = ""
        interp.report(err.lines())
        status = 1
    return status


def _leave_object_mode(interp: Interpreter) -> None:
    """A failed header meant to leave the object being edited: what follows
    must not land on that object (`segment dev` would set the vpc's segment)."""
    if interp.grammar.modes[interp.state.mode].kind is not None:
        interp.state.enter("config")


def _run_line(interp: Interpreter, line: str) -> bool:
    try:
        return interp.run(line)
    except BrokenPipeError:
        raise
    except Exception as err:  # a bug is a failing line, not a traceback
        interp.report([f"% internal error: {type(err).__name__}: {err}"])
        return False


def _print_json(results: list[object]) -> None:
    try:
        print(json.dumps(results, indent=2, default=str))
    except BrokenPipeError:
        _silence_stdout()


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the exit flush does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
