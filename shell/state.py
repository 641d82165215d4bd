"""What one shell session holds: the lab, the mode, terminal settings.

The candidate configuration itself lives in the engine (`LabApi.candidate`);
the shell only remembers which mode (and which object of the mode) it is in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.model import Config

if TYPE_CHECKING:
    from engine.api import LabApi


@dataclass
class Result:
    """What a command produced: text or a rich renderable for people, data for JSON."""

    text: str = ""
    renderable: Any = None
    data: Any = None
    failure: str | None = None  # printed, then the line fails with this error (verify, trace)


@dataclass
class ShellState:
    """The session: the lab's api, mode, object, terminal.

    `api` is an `engine.api.LabApi`; reading a configuration file uses a
    scratch stand-in with only the candidate (shell.loader), since only
    configuration lines run there.
    """

    api: LabApi
    lab: str
    interactive: bool = False
    json: bool = False
    term_length: int = 0
    width: int = 100
    mode: str = "exec"
    kind: str | None = None
    name: str | None = None
    done: bool = False
    emit: Callable[[str], None] = print
    emit_error: Callable[[str], None] | None = None  # errors (stderr in batch runs)
    ask: Callable[[str], str] | None = None  # interactive questions; None in batch
    live: Callable[[str], None] | None = None  # raw output while a command runs (terminal, stdout)
    where: str = ""  # "FILE:LINE" of the batch line being run

    # scope for completion (shell.grammar.types.Scope) ---------------------------

    @property
    def config(self) -> Config:
        """Names complete from the candidate in config modes, the running lab in exec."""
        return self.api.running if self.mode == "exec" else self.api.candidate

    @property
    def mode_object(self) -> Any:
        """The object the current object mode edits (None elsewhere)."""
        if self.kind is None or self.name is None:
            return None
        return self.api.candidate.get(self.kind, self.name)

    def prompt(self, suffix: str) -> str:
        """The prompt for the current mode."""
        return f"{self.lab}{suffix} "

    def enter(self, mode: str, kind: str | None = None, name: str | None = None) -> None:
        """Switch mode (object modes carry the object they edit)."""
        self.mode, self.kind, self.name = mode, kind, name
