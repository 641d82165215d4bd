"""Fuzz: random and mutated lines never raise and never change state when they fail."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from shell.grammar.words import GLOSSARY
from tests.paths import EXAMPLES, example
from tests.test_shell_support import BASE, Shell

VALUES = ["web", "prod", "web1", "app", "10.1.1.10", "10.1.0.0/16", "0", "65536", "-1", "1.2.3", "a/b", "|", "?",
          "!", "#", '"', "'", "\\", "é", "x" * 40, "", "  ", "10.1.1.0/33", "256.1.1.1", "core", "seq", "5"]
CORPUS = BASE + [
    "show running-config | section vpc", "vpc web", " subnet b 10.1.2.0/24 group g2", " no host web1",
    "prefix-list PL seq 5 permit 10.0.0.0/8 ge 9 le 24", "resource-share s", " nat end-a 10.1.0.0/16 to 10.2.0.0/16",
    "segment prod", " policy 10 deny ip any group g1 range 1 2 log", "do show hosts | json", "no vpc web",
]


def corpus() -> list[str]:
    lines = list(CORPUS)
    for f in sorted(EXAMPLES.glob("*.cli")) or [example("shared-services.cli")]:
        lines += f.read_text().splitlines()
    return lines


def mutate(rng: random.Random, line: str) -> str:
    words = line.split()
    vocab = list(GLOSSARY) + VALUES
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(5)
        if op == 0 and words:
            words.pop(rng.randrange(len(words)))
        elif op == 1:
            words.insert(rng.randint(0, len(words)), rng.choice(vocab))
        elif op == 2 and words:
            i = rng.randrange(len(words))
            words[i] = words[i][: rng.randint(0, len(words[i]))]
        elif op == 3 and words:
            words[rng.randrange(len(words))] = rng.choice(vocab)
        else:
            rng.shuffle(words)
    return (" " if rng.random() < 0.3 else "") + " ".join(words)


@pytest.mark.parametrize("seed", range(4))
def test_random_and_mutated_lines(seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # `save FILE` may be generated
    sh = Shell(tmp_path / "lab")
    sh.ok(*BASE)
    sh.out.clear()
    rng = random.Random(seed)
    lines = corpus()
    vocab = list(GLOSSARY) + VALUES
    for i in range(1000):
        if i % 3 == 0:
            line = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 7)))
        else:
            line = mutate(rng, rng.choice(lines))
        if line.split()[:1] and "host".startswith(line.split()[0]) and "exec" in line:
            continue  # real commands are not the fuzzer's business
        before = (sh.api.candidate, sh.api.running, sh.state.mode, sh.state.kind, sh.state.name)
        ok = sh.interp.run(line)
        sh.interp.help_lines(line)
        sh.interp.completions(line)
        if not ok:
            after = (sh.api.candidate, sh.api.running, sh.state.mode, sh.state.kind, sh.state.name)
            assert after == before, line
            assert all(o.lstrip().startswith(("%", "^")) or o.startswith("  ") for o in "\n".join(sh.out).splitlines()), (line, sh.out)
        sh.state.done = False
        sh.out.clear()
