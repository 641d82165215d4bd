"""Mode and session commands: configure, commit, abort, rollback, exit, do, load, save."""

from __future__ import annotations

from typing import Any

from engine.errors import VpclabError
from shell.grammar.registry import Command
from shell.loader import read_config_file
from shell.printer import config_diff, running_config
from shell.schema import OBJECT_KINDS
from shell.state import Result

CONFIG_MODES = ("config", *(k.mode for k in OBJECT_KINDS if k.mode))
NOT_FROM_DO = ("configure", "exit", "quit")


def _configure(sh: Any, _v: dict[str, str]) -> None:
    sh.state.enter("config")


def counts_text(counts: dict[str, int]) -> str:
    """{'+ns': 3, '-route': 1} -> '+3 ns, -1 route'."""
    return ", ".join(f"{k[0]}{v} {k[1:]}" for k, v in sorted(counts.items())) or "nothing"


def _commit_text(result: Any) -> Result:
    lines = list(result.messages)
    if result.number is not None and not result.changes.empty:
        lines.append(f"Commit {result.number} done in {result.seconds:.2f} s: {counts_text(result.changes.counts())}.")
    elif result.number is not None and result.seconds:  # recorded, but nothing in the kernel changed
        lines.append(f"Commit {result.number} done in {result.seconds:.2f} s: configuration only, the lab is unchanged.")
    data = {"commit": result.number, "changes": result.changes.counts(), "seconds": result.seconds,
            "messages": list(result.messages)}
    return Result("\n".join(lines) or "No configuration changes to commit.", data=data)


def _commit(sh: Any, v: dict[str, str]) -> Result:
    confirmed = int(v["seconds"]) if "seconds" in v else None
    out = _commit_text(sh.state.api.commit(comment=v.get("comment"), confirmed=confirmed))
    if confirmed and out.data["commit"] is not None:
        out.text += f"\nRolls back in {confirmed} s unless confirmed by 'commit'."
    return out


def _commit_check(sh: Any, _v: dict[str, str]) -> Result:
    api = sh.state.api
    changes = api.commit_check()
    down = [f"  restart service {r['name']} ({r['kind']}) on {r['host']}: it is down"
            for r in api.services() if r["state"] == "down"]
    data = {"changes": changes.counts(), "restart": [line.split()[2] for line in down]}
    if changes.empty:
        head = ["Valid. No configuration changes; the commit would:"] if down else ["Valid. No changes to apply."]
        return Result("\n".join([*head, *down]), data=data)
    return Result("\n".join(["Valid. The commit would:", *changes.lines(), *down]), data=data)


def _abort(sh: Any, _v: dict[str, str]) -> None:
    sh.state.api.abort()
    sh.state.enter("exec")


def _rollback(sh: Any, v: dict[str, str]) -> Result:
    return _commit_text(sh.state.api.rollback(int(v.get("n", "1"))))


def _leave_config(sh: Any) -> bool:
    """Ask (interactive) or refuse (batch) when the candidate has changes."""
    st = sh.state
    if not st.api.has_changes():
        return True
    if st.ask is None:
        raise VpclabError("Uncommitted changes found: 'commit' them or 'abort' before leaving configuration mode")
    answer = st.ask("Uncommitted changes found, commit them before exiting(yes/no/cancel)? [cancel]: ").strip().lower()
    if answer in ("y", "yes"):
        st.emit(_commit_text(st.api.commit()).text)
        return True
    if answer in ("n", "no"):
        st.api.abort()
        return True
    return False


def _exit(sh: Any, _v: dict[str, str]) -> None:
    st = sh.state
    if st.mode == "exec":
        st.done = True
    elif st.mode == "config":
        if _leave_config(sh):
            st.enter("exec")
    else:
        st.enter("config")


def _end(sh: Any, _v: dict[str, str]) -> None:
    if _leave_config(sh):
        sh.state.enter("exec")


def _quit(sh: Any, _v: dict[str, str]) -> None:
    sh.state.done = True


def _do(sh: Any, v: dict[str, str]) -> Result | None:
    got = sh.parse(v["command"], mode="exec")
    if not isinstance(got, tuple):
        from shell.interpreter import _SyntaxError

        raise _SyntaxError(got)
    _mode, parsed = got
    if parsed.command.syntax.split()[0] in NOT_FROM_DO:
        raise VpclabError("'do' runs exec commands that stay in this mode (show, ping, ...)")
    st = sh.state
    saved = (st.mode, st.kind, st.name)
    st.enter("exec")
    try:
        out: Result | None = parsed.command.handler(sh, parsed.values)
        return out
    finally:
        st.mode, st.kind, st.name = saved


def _terminal_length(sh: Any, v: dict[str, str]) -> None:
    sh.state.term_length = int(v["length"])


def _load(sh: Any, v: dict[str, str]) -> Result:
    api = sh.state.api
    base = api.candidate if v.get("how", "merge") == "merge" else None
    api.set_candidate(read_config_file(v["file"], base))
    return Result(f"Loaded {v['file']} ({v.get('how', 'merge')}); 'show configuration' lists the changes.")


def _save(sh: Any, v: dict[str, str]) -> Result:
    text = running_config(sh.state.api.running)
    try:
        with open(v["file"], "w", encoding="utf-8") as f:
            f.write(text + "\n")
    except OSError as err:
        raise VpclabError(f"cannot write {v['file']}: {err.strerror}") from None
    return Result(f"Saved the running configuration to {v['file']}.")


def _show_changes(sh: Any, _v: dict[str, str]) -> Result:
    api = sh.state.api
    lines = config_diff(api.running, api.candidate)
    return Result("\n".join(lines) if lines else "No uncommitted changes.", data=lines)


def _show_running(sh: Any, v: dict[str, str]) -> Result:
    text = running_config(sh.state.api.running, v.get("kind"), v.get("name"))
    return Result(text, data=text.splitlines())


ALL_MODES = ("exec", *CONFIG_MODES)
KINDS = "|".join(k.kind for k in OBJECT_KINDS)


def _monitor(sh: Any, _v: dict[str, str]) -> None:
    if not sh.state.interactive:
        raise VpclabError("monitor is full-screen: run it from the interactive shell or as 'vpclab monitor'")
    from tui.app import run as run_monitor

    run_monitor(sh.state.api)


def commands() -> list[Command]:
    """The session commands."""
    return [
        Command("configure [terminal]", _configure, ("exec",), "Enter configuration mode"),
        Command("commit [comment comment=LINE]", _commit, ("exec", "config"), {"comment": "Comment for the history"}),
        Command("commit check", _commit_check, ("exec", "config")),
        Command("commit confirmed seconds=SECONDS", _commit, ("exec", "config"),
                {"seconds": "Seconds before the automatic rollback"}),
        Command("abort", _abort, ("exec", "config")),
        Command("rollback [n=BACK]", _rollback, ("exec",)),
        Command("exit", _exit, ALL_MODES),
        Command("end", _end, CONFIG_MODES),
        Command("quit", _quit, ("exec",)),
        Command("do command=COMMAND", _do, CONFIG_MODES, {"command": "An exec command"}),
        Command("terminal length length=LENGTH", _terminal_length, ("exec",)),
        Command("monitor", _monitor, ("exec",), "The full-screen flow monitor (q returns here)"),
        Command("load [how={merge|replace}] file=FILE", _load, ("config",), {"file": "Configuration file to read"}),
        Command("save file=FILE", _save, ("exec",), {"file": "File to write"}),
        Command("show configuration [diff]", _show_changes, ("exec", "config")),
        Command(f"show running-config [kind={{{KINDS}}} [name=NAME]]", _show_running, ("exec", "config"),
                {"name": "Name of the object"}),
    ]
