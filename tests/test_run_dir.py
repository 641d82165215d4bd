"""A lab's runtime directory survives another lab's destroy removing the
empty run root at the same moment (a race the full suite met when several
suites ran at once: a commit failed with ENOENT on /run/vpclab-run/LAB)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab import services


def test_run_dir_is_made_again_when_the_root_vanishes_under_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "run"
    monkeypatch.setattr(services, "RUN_ROOT", str(root))
    real_mkdir = os.mkdir
    raced = []

    def mkdir(path: str | os.PathLike[str], mode: int = 0o777, *args: object, **kwargs: object) -> None:
        if str(path) == str(root / "lab1") and not raced:  # another destroy's rmdir(RUN_ROOT) gets in first
            raced.append(path)
            os.rmdir(root)
        real_mkdir(path, mode)

    monkeypatch.setattr(os, "mkdir", mkdir)
    assert services.run_dir("lab1") == str(root / "lab1")
    assert raced and (root / "lab1").is_dir()
