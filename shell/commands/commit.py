"""Commit commands: commit (check, confirmed), rollback, and the history.

`commit confirmed` without seconds waits 600 s (Junos' 10 minutes);
`update` (Junos) merges another session's commit into this session's
uncommitted changes, which a commit refuses until then;
`rollback N` goes N commits back and `rollback to ID` to a commit by its
number (IOS-XR's `rollback configuration to`); `show commit history` names
what each commit changed in the configuration (`+vpc web, ~segment prod`)
and in the lab, and marks the commit waiting for confirmation.
"""

from __future__ import annotations

import time
from typing import Any

from shell.context import Context
from shell.grammar.registry import Command
from shell.render import rows_result
from shell.state import Result

CONFIRM_DEFAULT_SECONDS = 600


def counts_text(counts: dict[str, int]) -> str:
    """{'+ns': 3, '-route': 1} -> '+3 ns, -1 route'."""
    return ", ".join(f"{k[0]}{v} {k[1:]}" for k, v in sorted(counts.items())) or "nothing"


def commit_text(result: Any) -> Result:
    """What a commit (or rollback) says: its number, time and changes."""
    lines = list(result.messages)
    if result.number is not None and not result.changes.empty:
        lines.append(f"Commit {result.number} done in {result.seconds:.2f} s: {counts_text(result.changes.counts())}.")
    elif result.number is not None and result.seconds:  # recorded, but nothing in the kernel changed
        what = ", ".join(getattr(result, "config_changes", ())) or "configuration only"
        lines.append(f"Commit {result.number} done in {result.seconds:.2f} s: {what} (configuration only, the lab is unchanged).")
    data = {"commit": result.number, "changes": result.changes.counts(), "seconds": result.seconds,
            "messages": list(result.messages)}
    return Result("\n".join(lines) or "No configuration changes to commit.", data=data)


def _commit(ctx: Context, comment: str | None = None) -> Result:
    return commit_text(ctx.api.commit(comment=comment))


def _commit_confirmed(ctx: Context, seconds: int = CONFIRM_DEFAULT_SECONDS) -> Result:
    out = commit_text(ctx.api.commit(confirmed=seconds))
    if out.data["commit"] is not None and not out.text.startswith(f"commit {out.data['commit']} confirmed"):
        out.text += f"\nRolls back in {seconds} s unless confirmed by 'commit'."
        out.data["confirm_within"] = seconds
    return out


def _commit_check(ctx: Context) -> Result:
    api = ctx.api
    changes = api.commit_check()
    down = [f"  restart service {r['name']} ({r['kind']}) on {r['host']}: it is down"
            for r in api.services() if r["state"] == "down"]
    data = {"changes": changes.counts(), "restart": [line.split()[2] for line in down]}
    if changes.empty:
        head = ["Valid. No configuration changes; the commit would:"] if down else ["Valid. No changes to apply."]
        return Result("\n".join([*head, *down]), data=data)
    return Result("\n".join(["Valid. The commit would:", *changes.lines(), *down]), data=data)


def _update(ctx: Context) -> Result:
    start, merged = ctx.api.update()
    if merged is None:
        return Result(f"Your changes start from the running configuration (commit {start}): nothing to merge.")
    lines = [f"Merged the running configuration (commit {ctx.api.commit_number()}) into your changes, "
             f"which started from commit {start}."]
    lines += [f"% {what} was changed by both: your version is kept ('show configuration' shows it)" for what in merged.conflicts]
    return Result("\n".join(lines), data={"from": start, "conflicts": list(merged.conflicts)})


def _rollback(ctx: Context, n: int = 1) -> Result:
    return commit_text(ctx.api.rollback(n))


def _rollback_to(ctx: Context, commit: int) -> Result:
    return commit_text(ctx.api.rollback_to(commit))


def _clock(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def _history(ctx: Context) -> Result:
    pending = ctx.api.pending_confirmation()
    rows = []
    for r in ctx.api.history():
        waiting = pending is not None and pending[0] == r.number
        rows.append({
            "commit": f"{r.number}*" if waiting else r.number, "time": _clock(r.time), "user": r.user,
            "comment": r.comment, "configuration": ", ".join(r.config_changes) if r.config_changes else "-",
            "lab": counts_text(r.counts) if r.counts else "unchanged",
        })
    result = rows_result(rows, empty="No commits yet.")
    if pending is not None and rows:
        result.text = f"* commit {pending[0]} waits for confirmation: it rolls back at {_clock(pending[1])} unless 'commit' confirms it"
    result.data = [{"commit": r.number, "time": r.time, "user": r.user, "comment": r.comment,
                    "configuration": list(r.config_changes), "lab": r.counts,
                    "pending_confirmation": pending is not None and pending[0] == r.number,
                    "rolls_back_at": pending[1] if pending is not None and pending[0] == r.number else None}
                   for r in ctx.api.history()]
    return result


def commands(config_modes: tuple[str, ...]) -> list[Command]:
    """The commit commands (commit works in exec and every configuration mode)."""
    anywhere = ("exec", *config_modes)
    return [
        Command("commit [comment comment=LINE]", _commit, anywhere, {"comment": "Comment for the history"}),
        Command("commit check", _commit_check, anywhere),
        Command("commit confirmed [seconds=SECONDS]", _commit_confirmed, anywhere,
                {"seconds": f"Seconds before the automatic rollback (default {CONFIRM_DEFAULT_SECONDS})"}),
        Command("update", _update, anywhere,
                {"update": "Merge another session's commit into your uncommitted changes"}),
        Command("rollback [n=BACK]", _rollback, ("exec",)),
        Command("rollback to commit=COMMIT-ID", _rollback_to, ("exec",),
                {"to": "Go to the configuration of one commit, by its number"}),
        Command("show commit history", _history, ("exec",),
                {"commit": "The commit history", "history": "Commits: time, user, comment, what changed"}),
    ]
