"""The layers of docs/design.md, checked on the source: engine/ is pure,
tui/ reads the lab only through the engine.

A walk over every file's syntax tree rather than import-linter: it sees
imports inside functions and under TYPE_CHECKING as well as module-level
ones, checks third-party names (pyroute2, textual) without a separate
"forbidden external packages" contract, needs no configuration file or
extra dependency, and names the file and line of each offence.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.paths import REPO

FORBIDDEN = {
    "engine": ("lab", "shell", "tui", "pyroute2", "textual"),
    "tui": ("lab",),
}


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, relative ones resolved."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                out.append((node.lineno, ".".join([*base, node.module or ""]).rstrip(".")))
            else:
                out.append((node.lineno, node.module or ""))
    return sorted(out)


def offences(layer: str) -> list[str]:
    """`file:line imports module` for each import the layer may not make."""
    banned = FORBIDDEN[layer]
    out = []
    for path in sorted((REPO / layer).rglob("*.py")):
        for line, module in imported(path):
            if module.split(".")[0] in banned:
                out.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    return out


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    assert offences(layer) == []


def test_the_check_sees_every_kind_of_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk finds module-level, from-, relative and function-level imports."""
    fake = tmp_path / "engine"
    fake.mkdir()
    (fake / "bad.py").write_text(
        "import pyroute2.netlink\nfrom lab import netns\n\ndef f():\n    from textual.app import App\n"
        "    import shell.main\nfrom . import views\n"
    )
    monkeypatch.setattr("tests.test_layers.REPO", tmp_path)
    assert offences("engine") == [
        "engine/bad.py:1 imports pyroute2.netlink",
        "engine/bad.py:2 imports lab",
        "engine/bad.py:5 imports textual.app",
        "engine/bad.py:6 imports shell.main",
    ]
