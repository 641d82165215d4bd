"""Mode and session commands: configure, abort, exit, end, do, terminal,
load, save, and the configuration views (`show configuration`,
`show running-config`).

Session commands are declared in every configuration mode they work in, so
they run where they are typed: `commit` or `show configuration` in a vpc's
mode stays in that mode (IOS-XR, Junos), and `?` there lists them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

from engine.errors import NotFoundError, VpclabError
from shell.commands import commit
from shell.commands.commit import commit_text
from shell.context import Context
from shell.grammar.matcher import SyntaxFault
from shell.grammar.registry import Command
from shell.printer import config_diff, running_config
from shell.replay import replay
from shell.schema import OBJECT_KINDS
from shell.source import read_lines
from shell.state import Result, ShellState

CONFIG_MODES = ("config", *(k.mode for k in OBJECT_KINDS if k.mode))
NOT_FROM_DO = ("configure", "exit", "quit")


def _configure(ctx: Context) -> None:
    ctx.state.enter("config")


def _abort(ctx: Context) -> None:
    ctx.api.abort()
    ctx.state.enter("exec")


def leave_config(state: ShellState) -> bool:
    """May the session leave configuration mode? Asks (interactive) or
    refuses (batch) when the candidate has uncommitted changes; True to leave."""
    if not state.api.has_changes():
        return True
    if state.ask is None:
        raise VpclabError("Uncommitted changes found: 'commit' them or 'abort' before leaving configuration mode")
    answer = state.ask("Uncommitted changes found, commit them before exiting(yes/no/cancel)? [cancel]: ").strip().lower()
    if answer in ("y", "yes"):
        state.emit(commit_text(state.api.commit()).text)
        return True
    if answer in ("n", "no"):
        state.api.abort()
        return True
    return False


def _exit(ctx: Context) -> None:
    st = ctx.state
    if st.mode == "exec":
        st.done = True
    elif st.mode == "config":
        if leave_config(st):
            st.enter("exec")
    else:
        st.enter("config")


def _end(ctx: Context) -> None:
    if leave_config(ctx.state):
        ctx.state.enter("exec")


def _quit(ctx: Context) -> None:
    ctx.state.done = True


def _do(ctx: Context, command: str) -> Result | None:
    got = ctx.parse(command, "exec")
    if isinstance(got, SyntaxFault):
        raise ctx.fault_in_tail(got, command)
    _mode, parsed = got
    if parsed.command.syntax.split()[0] in NOT_FROM_DO:
        raise VpclabError("'do' runs exec commands that stay in this mode (show, ping, ...)")
    st = ctx.state
    saved = (st.mode, st.kind, st.name)
    st.enter("exec")
    try:
        return ctx.run(parsed)
    finally:
        st.mode, st.kind, st.name = saved


def _terminal_length(ctx: Context, length: int) -> None:
    ctx.state.term_length = length


def _load(ctx: Context, file: str, how: str = "merge") -> Result:
    api = ctx.api
    base = api.candidate if how == "merge" else None
    api.set_candidate(replay(read_lines(file, "stdin" if file == "-" else file), ctx.grammar, base))
    return Result(f"Loaded {file} ({how}); 'show configuration' lists the changes.")


def save_text(path: str, text: str) -> None:
    """Write `text` to `path` whole or not at all: into a temporary file in
    the same directory, then renamed over it, so a failing save (a full disk,
    text that cannot be encoded) leaves the old file as it was."""
    target = os.path.realpath(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(target):
            shutil.copymode(target, tmp)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _save(ctx: Context, file: str) -> Result:
    text = running_config(ctx.api.running) + "\n"
    try:
        save_text(file, text)
    except OSError as err:
        raise VpclabError(f"cannot write {file}: {err.strerror or err}; nothing was written") from None
    except UnicodeEncodeError as err:
        raise VpclabError(f"cannot write {file}: the configuration holds text that is not UTF-8 ({err.reason}); "
                          f"{file} was left as it was") from None
    return Result(f"Saved the running configuration to {file}.")


def _show_changes(ctx: Context, diff: bool = False) -> Result:
    api = ctx.api
    lines = config_diff(api.running, api.candidate)
    return Result("\n".join(lines) if lines else "No uncommitted changes.", data=lines)


def _show_running(ctx: Context, kind: str | None = None, name: str | None = None) -> Result:
    api = ctx.api
    if kind and name and api.running.get(kind, name) is None:
        if api.candidate.get(kind, name) is not None:
            note = f"{kind} {name} is only in the candidate configuration, not committed yet: 'show configuration' lists it"
            return Result(note, data=[])
        raise NotFoundError(f"{kind} {name} does not exist")
    text = running_config(api.running, kind, name)
    return Result(text, data=text.splitlines())


KINDS = "|".join(k.kind for k in OBJECT_KINDS)


def _monitor(ctx: Context) -> None:
    if not ctx.state.interactive:
        raise VpclabError("monitor is full-screen: run it from the interactive shell or as 'vpclab monitor'")
    from tui.app import run as run_monitor

    run_monitor(ctx.api)


def commands() -> list[Command]:
    """The session commands."""
    anywhere = ("exec", *CONFIG_MODES)
    return [
        Command("configure [terminal]", _configure, ("exec",), {"configure": "Enter configuration mode",
                                                                "terminal": "Configure from the terminal"}),
        *commit.commands(CONFIG_MODES),
        Command("abort", _abort, anywhere),
        Command("exit", _exit, anywhere),
        Command("end", _end, CONFIG_MODES),
        Command("quit", _quit, ("exec",)),
        Command("do command=COMMAND", _do, CONFIG_MODES, {"command": "An exec command"}),
        Command("terminal length length=LENGTH", _terminal_length, ("exec",),
                {"terminal": "Settings of this terminal session"}),
        Command("monitor", _monitor, ("exec",), "The full-screen flow monitor (q returns here)"),
        Command("load [how={merge|replace}] file=FILE", _load, CONFIG_MODES, {"file": "Configuration file to read"}),
        Command("save file=FILE", _save, ("exec",), {"file": "File to write"}),
        Command("show configuration [diff=diff]", _show_changes, anywhere),
        Command(f"show running-config [kind={{{KINDS}}} [name=NAME]]", _show_running, anywhere,
                {"name": "Name of the object"}),
    ]
