"""Commits an open shell did not make, told to its user.

Another session's commit, or the automatic rollback of a confirmed commit
that nobody confirmed (done by the detached watcher, shell/confirm_watch.py),
changes the running configuration under an open shell. The REPL asks this
watch between prompts, and twice a second while it waits at one, by the
lab's running commit number (a stat of running.json), so the news appears
in every open shell of the lab.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.api import LabApi


class CommitNews:
    """Remembers the last commit this session knows of."""

    def __init__(self, api: LabApi):
        self.api = api
        self.seen = api.commit_number()

    def mark_seen(self) -> None:
        """This session's own command may have committed: nothing to tell."""
        self.seen = self.api.commit_number()

    def poll(self) -> list[str]:
        """A `% ` line for each commit made elsewhere since the last look."""
        number = self.api.commit_number()
        if number == self.seen:
            return []
        fresh = [r for r in self.api.history() if r.number > self.seen]
        self.seen = number
        out = []
        for r in reversed(fresh):  # oldest first
            if r.expired is not None:
                out.append(f"% Commit {r.expired} was not confirmed in time: commit {r.number} rolled it back.")
            else:
                note = f": {r.comment}" if r.comment else ""
                out.append(f"% Commit {r.number} was made by {r.user} in another session{note}.")
        return out
