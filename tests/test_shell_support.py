"""Helpers for the shell tests: a lab on a recording fabric, a shell driving it."""

from __future__ import annotations

from pathlib import Path

from engine.api import LabApi
from engine.store import LabStore
from engine.testing import RecordingFabric
from shell.language import interpreter
from shell.state import ShellState


def make_api(root: Path, name: str = "t") -> LabApi:
    """A LabApi whose commits are recorded, with its state under `root`."""
    return LabApi(name, RecordingFabric(), LabStore(name, root=root))


class Shell:
    """An interpreter whose output is collected, line by line."""

    def __init__(self, root: Path, name: str = "t"):
        self.out: list[str] = []
        self.api = make_api(root, name)
        self.state = ShellState(api=self.api, lab=name, emit=self.out.append)
        self.interp = interpreter(self.state)

    def run(self, *lines: str) -> str:
        """Run lines; return what they printed."""
        self.out.clear()
        for line in lines:
            self.interp.run(line)
        return "\n".join(self.out)

    def ok(self, *lines: str) -> str:
        """Run lines that must all succeed."""
        self.out.clear()
        for line in lines:
            assert self.interp.run(line), f"{line!r} failed: {self.out}"
        return "\n".join(self.out)


BASE = [
    "configure",
    "segment prod",
    "vpc web",
    " segment prod",
    " cidr 10.1.0.0/16",
    " subnet app 10.1.1.0/24 group g1",
    " host web1 10.1.1.10",
    "commit",
    "end",
]
