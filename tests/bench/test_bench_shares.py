"""Benchmark (issue 4): 200 segments each sharing one services VPC; then one more share.

Run: make bench   (or: .venv/bin/pytest -m bench -s tests/bench/test_bench_shares.py)
Targets: the whole lab applies in under 5 s; adding one share commits in under 150 ms.
"""

from __future__ import annotations

import os
import statistics
import time

import pytest

from engine.model import (
    Config,
    Host,
    PrefixList,
    PrefixListEntry,
    ResourceShare,
    Segment,
    Service,
    ShareEnd,
    Subnet,
    Vpc,
)
from tests.bench.quiet import wait_for_quiet

pytestmark = [pytest.mark.bench, pytest.mark.lab]

N = int(os.environ.get("BENCH_SEGMENTS", "200"))


def consumer(i: int) -> Vpc:
    a, b = divmod(i, 250)
    return Vpc(f"v{i}", segment=f"c{i}", cidrs=(f"10.{a}.{b}.0/24",), subnets=(Subnet("s", f"10.{a}.{b}.0/26"),),
               hosts=(Host(f"h{i}", f"10.{a}.{b}.10"),))


def share(i: int) -> ResourceShare:
    return ResourceShare(f"svc{i}", ShareEnd(f"c{i}", "ALL"), ShareEnd("shared", "SVC"), "a-to-b")


def lab_config(n: int, shares: int) -> Config:
    config = Config(
        segments=tuple(Segment(f"c{i}") for i in range(n)) + (Segment("shared"),),
        prefix_lists=(PrefixList("ALL", (PrefixListEntry(5, "permit", "10.0.0.0/8", le=32),)),
                      PrefixList("SVC", (PrefixListEntry(5, "permit", "172.16.1.0/24"),))),
    )
    svc = Vpc("svc", segment="shared", cidrs=("172.16.0.0/16",), subnets=(Subnet("infra", "172.16.1.0/24"),),
              hosts=(Host("ad1", "172.16.1.10"),), services=(Service("ldap", "tcp-echo", "ad1", 389),))
    for v in [svc, *(consumer(i) for i in range(n))]:
        config = config.put("vpc", v)
    for i in range(shares):
        config = config.put("resource-share", share(i))
    return config


def test_bench_shares(make_lab) -> None:  # type: ignore[no-untyped-def]
    api = make_lab()
    full = lab_config(N + 1, N)  # segment c{N} exists, its share comes later
    api.set_candidate(full)
    wait_for_quiet()
    start = time.perf_counter()
    api.commit()
    build = time.perf_counter() - start
    assert api.probe("ad1", f"h{N - 1}", "tcp", 389).reachable
    assert not api.probe("ad1", f"h{N}", "tcp", 389).reachable

    adds = []
    for k in range(3):
        api.set_candidate(full.put("resource-share", share(N)))
        start = time.perf_counter()
        api.commit()
        adds.append(time.perf_counter() - start)
        if k == 0:
            assert api.probe("ad1", f"h{N}", "tcp", 389).reachable
        api.set_candidate(full)
        api.commit()
    add = statistics.median(adds)
    print("\n| figure | measured | target |\n|---|---|---|")
    print(f"| apply {N} segments sharing a services VPC ({len(api.session.running_plan())} plan items) | {build:.2f} s | < 5 s |")
    print(f"| add one share (median of 3: {', '.join(f'{a * 1000:.0f}' for a in adds)} ms) | {add * 1000:.0f} ms | < 150 ms |")
    assert build < 5.0
    assert add < 0.150
