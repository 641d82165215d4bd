"""Run command scripts (`-f FILE`, `-c CMD`): stop at the first failing line.

Each failure prints `FILE:LINE: % message`; with `keep_going` the script runs
on and the status is still 1 at the end, as CLI.md says.
"""

from __future__ import annotations

from collections.abc import Iterable

from shell.interpreter import Interpreter


def run_script(interp: Interpreter, lines: Iterable[tuple[str, str]], keep_going: bool = False) -> int:
    """Run (where, line) pairs; 0 when every line succeeded, else 1."""
    state = interp.state
    status = 0
    for where, line in lines:
        state.where = where
        try:
            ok = interp.run(line)
        except BrokenPipeError:  # `vpclab -c ... | head`: the reader left, stop quietly
            _silence_stdout()
            return 0
        except Exception as err:  # a bug is a failing line, not a traceback
            interp.report([f"% internal error: {type(err).__name__}: {err}"])
            ok = False
        if not ok:
            status = 1
            if not keep_going:
                break
        if state.done:
            break
    state.where = ""
    if state.mode != "exec" and state.api.has_changes() and status == 0:
        state.emit("% Note: the script ended in configuration mode; its uncommitted changes were not applied.")
    return status


def numbered(source: str, text: str) -> list[tuple[str, str]]:
    """The lines of a script, each with its FILE:LINE label."""
    return [(f"{source}:{n}", line) for n, line in enumerate(text.splitlines(), 1)]


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the exit flush does not fail again."""
    import os
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
