"""Benchmark (issue 11): `trace` under 1 s, `verify` of 20 groups (400 pairs) under 10 s.

Run: make bench   (or: .venv/bin/pytest -m bench -s tests/bench/test_bench_trace.py)

The lab: 20 VPCs in one segment across two hubs, each VPC its own group
with one host running a tcp-echo and a udp-echo service; a policy that
admits icmp from g0, everything to g1 and tcp 7 between all, denies the
rest. `verify` probes the 380 ordered pairs of groups (20 x 19; the 20
self-pairs are not probed) with icmp, tcp 7 and udp 7: 1,140 probes, all
at once. `trace` is timed for a reachable path across the backbone and
for a silently dropped one (which waits out its timeout).
"""

from __future__ import annotations

import statistics
import time

import pytest

from shell.loader import parse_config
from tests.bench.quiet import wait_for_quiet

pytestmark = [pytest.mark.bench, pytest.mark.lab]


def lab_text(n: int) -> str:
    lines = ["cxp east", "!", "segment big", " default-action deny", " policy 10 permit icmp group g0 any",
             " policy 20 permit ip any group g1", " policy 30 permit tcp any any eq 7", "!"]  # fmt: skip
    for i in range(n):
        lines += [f"vpc v{i}", " segment big", f" cxp {'east' if i % 2 else 'core'}", f" group g{i}", f" cidr 10.{i + 1}.0.0/16",
                  f" subnet s 10.{i + 1}.1.0/24", f" host h{i} 10.{i + 1}.1.10", f" service t{i} tcp-echo on h{i} port 7",
                  f" service u{i} udp-echo on h{i} port 7", "!"]  # fmt: skip
    return "\n".join(lines) + "\n"


def test_bench_trace_and_verify(make_lab, capsys) -> None:  # type: ignore[no-untyped-def]
    api = make_lab()
    api.set_candidate(parse_config(lab_text(20)))
    api.commit()
    wait_for_quiet()
    verify = []
    for _ in range(3):
        t0 = time.perf_counter()
        scope, checks = api.verify()
        verify.append(time.perf_counter() - t0)
        assert len(scope) == 20 and len(checks) == 1140 and all(c.agree for c in checks), [c for c in checks if not c.agree][:3]
    reachable, dropped = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        r = api.trace("h3", "h0", "tcp", 7)  # core to east over the backbone
        reachable.append(time.perf_counter() - t0)
        assert r.agree and r.walk.outcome.reachable
        t0 = time.perf_counter()
        r = api.trace("h3", "h2", "udp", 7)  # denied by the default action: silent until the timeout
        dropped.append(time.perf_counter() - t0)
        assert r.agree and not r.walk.outcome.reachable
    with capsys.disabled():
        print("\n| figure | measured | target |\n|---|---|---|")
        print(f"| verify, 20 groups: 380 pairs, 1,140 probes (3 runs) | {', '.join(f'{t:.2f}' for t in verify)} s | under 10 s |")
        print(f"| trace, reachable across the backbone (median of 5) | {statistics.median(reachable) * 1000:.0f} ms | under 1 s |")
        print(f"| trace, silently dropped (waits its 0.5 s timeout; median of 5) | {statistics.median(dropped) * 1000:.0f} ms | under 1 s |")
    assert max(verify) < 10 and max(reachable) < 1 and max(dropped) < 1
