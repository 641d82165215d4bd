"""Shell speed: `?` and TAB with 2,000 objects, and a 5,000-line batch.

Run: `make bench` (all benchmarks) or .venv/bin/pytest -q -m bench -s tests/bench/test_bench_shell.py
(or .venv/bin/python -m tests.bench.test_bench_shell). Targets: < 20 ms, < 1 s.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from engine.validate import validate
from shell.loader import parse_config
from tests.test_shell_support import Shell


def big_config(vpcs: int) -> str:
    """`vpcs` VPCs with a subnet and a host each, over 4 segments and 2 hubs (about 2,000 objects for 500)."""
    lines = ["cxp east", " cloud aws", "!", "cxp west", " cloud azure", "!"]
    lines += [f"segment s{i}\n!" for i in range(4)]
    for i in range(vpcs):
        a, b = divmod(i, 250)
        lines += [f"vpc v{i}", f" cxp {'east' if i % 2 else 'west'}", f" segment s{i % 4}",
                  f" cidr 10.{a}.{b}.0/24", f" subnet n 10.{a}.{b}.0/25", f" host h{i} 10.{a}.{b}.10", "!"]
    return "\n".join(lines)


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median milliseconds of `repeat` calls."""
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def measure() -> list[tuple[str, float, float]]:
    sh = Shell(Path(tempfile.mkdtemp()))
    sh.api.set_candidate(parse_config(big_config(700)))  # 700 vpcs, subnets and hosts: 2,100 objects
    sh.ok("configure", "vpc v1")
    rows = [
        ("? at the top of a vpc mode", timed(lambda: sh.interp.help_lines(""), 50), 20),
        ("? after 'host h9 10.0.1.10 subnet '", timed(lambda: sh.interp.help_lines(" host h9 10.0.1.10 subnet "), 50), 20),
        ("TAB 'do show vpc v1' (700 vpcs)", timed(lambda: sh.interp.completions("do show vpc v1"), 50), 20),
        ("TAB 'exit' / 'vpc v4' from vpc mode", timed(lambda: sh.interp.completions("vpc v4"), 50), 20),
        ("TAB 'do ping h1' (700 hosts)", timed(lambda: sh.interp.completions("do ping h1"), 50), 20),
        ("? after 'vpc ' (lists 700 vpcs)", timed(lambda: sh.interp.help_lines("vpc "), 50), 20),
    ]
    text = big_config(715)  # ~5,000 lines
    n = len(text.splitlines())
    rows.append((f"parse + validate a {n}-line batch", timed(lambda: validate(parse_config(text)), 3), 1000))
    return rows


def report(rows: list[tuple[str, float, float]]) -> None:
    t = Table(title="vpclab shell benchmark")
    t.add_column("what")
    t.add_column("median ms", justify="right")
    t.add_column("target ms", justify="right")
    t.add_column("ok")
    for what, ms, target in rows:
        t.add_row(what, f"{ms:.2f}", f"{target:.0f}", "yes" if ms < target else "NO")
    Console().print(t)


@pytest.mark.bench
def test_shell_speed() -> None:
    rows = measure()
    report(rows)
    assert all(ms < target for _w, ms, target in rows)


if __name__ == "__main__":
    report(measure())
