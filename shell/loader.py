"""Read configuration text (a saved running-config, an `apply` file) into a Config.

Lines run through the same interpreter as typed lines, in configuration
mode, against a scratch candidate, so a file loads exactly as if pasted
(one difference: a `!` in the first column, the printer's block separator,
returns to configuration mode, so `segment prod` after a vpc block names a
segment rather than the vpc's segment);
only configuration lines are accepted, and the first bad line stops the
load with `FILE:LINE: % ...` and leaves the real candidate untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import VpclabError
from engine.model import Config
from shell.state import ShellState


class LoadError(VpclabError):
    """A configuration file has a bad line; carries the printed lines."""

    def __init__(self, lines: list[str]):
        self.printed = lines
        super().__init__(lines[0] if lines else "load failed")

    def lines(self) -> list[str]:
        return self.printed


@dataclass
class ScratchApi:
    """Just enough of LabApi for configuration lines: a candidate."""

    candidate: Config
    running: Config

    def set_candidate(self, config: Config) -> None:
        """Replace the scratch candidate."""
        self.candidate = config


def parse_config(text: str, base: Config | None = None, source: str = "<config>") -> Config:
    """`base` (default empty) with every line of `text` applied."""
    from shell.interpreter import Interpreter

    start = base if base is not None else Config()
    api = ScratchApi(start, start)
    errors: list[str] = []
    state = ShellState(api=api, lab="load", mode="config", emit=errors.append)
    interp = Interpreter(state)
    interp.edits_only = True
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() in ("configure", "configure terminal", "end", "exit"):
            continue  # the wrapping a hand-written file may carry
        if line.startswith("!"):  # the printer's block separator closes the object
            state.enter("config")
            continue
        state.where = f"{source}:{number}"
        if not interp.run(line):
            raise LoadError("\n".join(errors).splitlines())
    return api.candidate


def read_config_file(path: str, base: Config | None = None) -> Config:
    """Read and parse a configuration file ('-' for stdin)."""
    import sys

    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as err:
        raise VpclabError(f"cannot read {path}: {err.strerror}") from None
    return parse_config(text, base, path)
