"""Errors the engine raises; each renders as one or more `% ` lines."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnostic:
    """One problem with a configuration, naming the object and the conflict.

    `path` names the object as the CLI does ("vpc api", "vpc api subnet web");
    `message` says what is wrong and, where possible, what to do.
    """

    path: str
    message: str

    def __str__(self) -> str:
        """The line as shown: a name that holds control characters (from a
        file or the API) is escaped, so a message cannot drive a terminal."""
        from engine.text import printable

        return printable(f"{self.path}: {self.message}" if self.path else self.message)


class VpclabError(Exception):
    """Base of every error that the shell prints as `% message`."""

    def lines(self) -> list[str]:
        """The `% ` lines to show for this error."""
        return [f"% {self}"]


class ValidationError(VpclabError):
    """The candidate has problems; every one of them is listed."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__("; ".join(str(d) for d in diagnostics))

    def lines(self) -> list[str]:
        return [f"% {d}" for d in self.diagnostics]


class CommitError(VpclabError):
    """Applying a plan failed; the lab was restored to the running state
    (`restored` False: restoring failed too, the lab is in between)."""

    def __init__(self, message: str, restored: bool = True):
        super().__init__(message)
        self.restored = restored


class LockedError(VpclabError):
    """Another process holds the lab's commit lock."""


class NotFoundError(VpclabError):
    """A named object (host, lab, commit) does not exist."""


class SystemDependencyError(VpclabError):
    """Root or a Debian package is missing; the program exits 3."""


class DamagedStateError(VpclabError):
    """A state file of the lab cannot be read: the message names the file,
    what is wrong with it, and how to recover (destroy never needs it)."""

    def __init__(self, path: str, problem: str, recovery: str):
        self.path = path
        self.problem = problem
        self.recovery = recovery
        super().__init__(f"the state file {path} is damaged ({problem}): {recovery}")


class StaleCandidateError(VpclabError):
    """The candidate was edited from a running configuration that another
    session's commit has since replaced; committing it would undo that
    commit without a word (Junos: "configuration database modified")."""

    def __init__(self, base: int, running: int, by: str):
        self.base = base
        self.running = running
        super().__init__(f"configuration database modified: {by} after you started editing "
                         f"(your changes start from commit {base}, the lab runs commit {running})")

    def lines(self) -> list[str]:
        return [f"% {self}",
                "% 'update' merges the running configuration into your changes, 'abort' discards them; "
                "'show configuration' lists them"]
