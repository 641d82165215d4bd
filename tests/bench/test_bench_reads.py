"""Benchmark (issue 10): `show ip route | count` and `show lab health` on a
300-VPC lab, through the shell as a user types them (target: under 0.3 s
each), and the kernel reading they rest on.

Run: .venv/bin/pytest -m bench -s tests/bench/test_bench_reads.py
Figures: the best and the median of 7 runs, wall clock, in seconds. The
first run of each is a fresh process's (`cold`: nothing read yet).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import pytest

from engine.api import LabApi
from lab.fabric import LinuxFabric
from shell.language import interpreter
from shell.state import ShellState
from tests.bench.quiet import wait_for_quiet
from tests.bench.test_bench_fabric import big_config

pytestmark = [pytest.mark.bench, pytest.mark.lab]

N_VPCS = int(os.environ.get("BENCH_READ_VPCS", "300"))
RUNS = 7


def timed(work) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(RUNS):
        start = time.perf_counter()
        work()
        out.append(time.perf_counter() - start)
    return out


def test_bench_reads(state_dir: Path) -> None:
    lab = "t_reads"
    api = LabApi(lab, LinuxFabric(lab))
    try:
        api.set_candidate(big_config(N_VPCS))
        api.commit()
        wait_for_quiet()
        out: list[str] = []
        shell = interpreter(ShellState(api=LabApi(lab, LinuxFabric(lab)), lab=lab, emit=out.append))
        rows = []
        for command in ("show ip route | count", "show lab health"):
            times = timed(lambda: shell.run(command))
            rows.append((command, times[0], min(times), statistics.median(times)))
        assert out[0] == f"Count: {2 * N_VPCS + 2} lines"  # a route per VPC, and its backbone copy on the other hub
        assert out[-1].split("health")[1].split()[0] == "ok", out[-1]
    finally:
        api.destroy()
    print()
    print(f"{N_VPCS} VPCs: {'command':28} {'first':>7} {'best':>7} {'median':>7}   target < 0.3 s")
    for command, first, best, median in rows:
        print(f"{'':{len(str(N_VPCS)) + 6}}{command:28} {first:7.3f} {best:7.3f} {median:7.3f}")
