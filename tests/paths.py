"""Where tests find files outside the repository: the team's shared examples
live in ../shared next to the repository's root, wherever it is cloned."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO.parent / "shared" / "examples"


def example(name: str) -> Path:
    """A shared example script; a clear failure (never a skip) when missing."""
    path = EXAMPLES / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: the shared examples live in ../shared/examples next to the repository")
    return path
