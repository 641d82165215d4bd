"""Where tests find files outside the repository: the team's shared examples
live in ../shared next to the repository's root, wherever it is cloned."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO.parent / "shared" / "examples"
