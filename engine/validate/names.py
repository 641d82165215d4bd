"""Checks of every object's name, for all kinds at once."""

from __future__ import annotations

import re
from collections.abc import Iterable

from engine.errors import Diagnostic
from engine.model import KINDS, Config

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,31}$")
INVALID_NAME = "invalid name: use a letter, then letters, digits, _ . - (32 at most)"


def check(config: Config, previous: Config) -> Iterable[Diagnostic]:
    """Names that are malformed or defined twice within a kind."""
    for kind in KINDS:
        seen: set[str] = set()
        for obj in config.objects(kind):
            if not NAME_RE.match(obj.name):
                yield Diagnostic(f"{kind} {obj.name}", INVALID_NAME)
            if obj.name in seen:
                yield Diagnostic(f"{kind} {obj.name}", "defined twice")
            seen.add(obj.name)
