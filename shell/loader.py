"""Read configuration text (a saved running-config, an `apply` file) into a Config.

The front door for programs and tests: the whole language is bound in, so
`parse_config(text)` needs nothing else. The work is `shell.replay`'s; the
reading of files (bounded, UTF-8, FILE:LINE errors) is `shell.source`'s.
"""

from __future__ import annotations

from engine.model import Config
from shell.language import GRAMMAR
from shell.replay import LoadError, replay
from shell.source import read_lines, text_lines

__all__ = ["LoadError", "parse_config", "read_config_file"]


def parse_config(text: str, base: Config | None = None, source: str = "<config>") -> Config:
    """`base` (default empty) with every line of `text` applied."""
    return replay(text_lines(text, source), GRAMMAR, base)


def read_config_file(path: str, base: Config | None = None) -> Config:
    """Read and parse a configuration file ('-' for stdin)."""
    return replay(read_lines(path, "stdin" if path == "-" else path), GRAMMAR, base)
