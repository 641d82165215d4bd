"""Benchmark (issue 12): firewall rule changes, 10,000 rules, throughput.

Run: .venv/bin/pytest -m bench -s tests/bench/test_bench_firewall.py
Targets: a rule change reloads one table per instance and commits in under
100 ms with 3 instances; 10,000 rules compile and load in under 0.5 s per
instance; TCP through a 3-instance firewall with 10,000 rules within 10% of
the same firewall with one rule (iperf3, 5 runs each, alternated), the
direct path recorded beside them.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from typing import Any

import pytest

from engine.compile import compile_plan
from engine.model import Config, FirewallRule
from shell.loader import parse_config
from tests.bench.test_bench_policy import iperf

pytestmark = [pytest.mark.bench, pytest.mark.lab]

N = 10_000
ROUNDS = 5  # iperf3 runs per figure, alternated: single runs move by 30% on a shared machine
LAB = """\
segment corp
 policy 10 inspect fw ip group web group app
 policy 20 permit ip any any
!
vpc web
 segment corp
 group web
 cidr 10.91.0.0/16
 subnet s 10.91.1.0/24
 host w1 10.91.1.10
!
vpc app
 segment corp
 group app
 cidr 10.92.0.0/16
 subnet s 10.92.1.0/24
 host a1 10.92.1.10
!
vpc direct
 segment corp
 cidr 10.93.0.0/16
 subnet s 10.93.1.0/24
 host d1 10.93.1.10
!
firewall fw
 instances 3
 zone web segment corp group web
 zone app segment corp group app
 rule 65000 permit tcp from web to app eq 5201
!
"""


def rules(n: int, ranged: bool = False) -> tuple[FirewallRule, ...]:
    """n rules; the last admits the measured traffic (so a new connection is
    looked up against all of them). Exact: one port each (one hash map);
    ranged: port ranges (interval maps)."""
    out = [FirewallRule(i + 1, "deny" if i % 2 else "permit", "tcp", "web" if i % 3 else "app", "app" if i % 3 else "web",
                        f"range {20000 + 2 * i} {20001 + 2 * i}" if ranged else f"eq {20000 + i}") for i in range(n - 1)]
    out.append(FirewallRule(65000, "permit", "tcp", "web", "app", "eq 5201"))
    return tuple(out)


def with_rules(config: Config, rs: tuple[FirewallRule, ...]) -> Config:
    return config.put("firewall", replace(config.require("firewall", "fw"), rules=rs))


def instance_load(api: Any, config: Config) -> tuple[float, float, str]:
    """(compile seconds, load seconds of one instance's table, that table)."""
    from lab import nft

    api.cache.policies.clear()
    start = time.perf_counter()
    plan = compile_plan(api.name, config, api.cache)
    compile_s = time.perf_counter() - start
    table = next(i for i in plan.of_kind("nft") if i.ns.endswith("-f-fw@1"))
    nft.remove(table.ns)
    start = time.perf_counter()
    nft.load(table.ns, table.ruleset)  # type: ignore[attr-defined]
    return compile_s, time.perf_counter() - start, table.ruleset  # type: ignore[attr-defined]


def test_bench_firewall(make_lab) -> None:  # type: ignore[no-untyped-def]
    api = make_lab()
    config = parse_config(LAB)
    api.set_candidate(config)
    api.commit()
    # a rule change: three tables reloaded, nothing else
    times, counts = [], set()
    for i in range(7):
        api.set_candidate(with_rules(config, (FirewallRule(10, "permit", "tcp", "web", "app", f"eq {100 + i}"),
                                              FirewallRule(65000, "permit", "tcp", "web", "app", "eq 5201"))))
        start = time.perf_counter()
        result = api.commit()
        times.append(time.perf_counter() - start)
        counts.add(tuple(sorted(result.changes.counts().items())))
    change = statistics.median(times)
    exact = instance_load(api, with_rules(config, rules(N)))
    ranged = instance_load(api, with_rules(config, rules(N, ranged=True)))
    assert exact[2].count("counter comment") == N and "counter drop comment \"firewall fw default\"" in exact[2]

    rates: dict[str, list[float]] = {"one rule": [], f"{N} rules": [], "direct": []}
    for _ in range(ROUNDS):
        for label, rs in (("one rule", rules(1)), (f"{N} rules", rules(N))):
            api.set_candidate(with_rules(config, rs))
            api.commit()
            rates[label].append(iperf(api, "w1", "a1", "10.92.1.10"))
        rates["direct"].append(iperf(api, "d1", "a1", "10.92.1.10"))
    hits = {r["seq"]: r["packets"] for r in api.policy_hits("firewall", "fw")}
    assert hits[65000] >= 1  # the measured connections went through the firewall
    one, big, direct = (statistics.median(rates[k]) for k in ("one rule", f"{N} rules", "direct"))
    print("\n| figure | measured | target |\n|---|---|---|")
    print(f"| rule change, 3 instances: commit (median of 7; changes {sorted(counts)}) | {change * 1000:.0f} ms | < 100 ms |")
    for shape, (c, ld, _t) in (("one port each (one hash map)", exact), ("port ranges (interval maps)", ranged)):
        print(f"| {N} rules, {shape}: compile (lab) + load one instance | {c:.3f} + {ld:.3f} = {c + ld:.3f} s | < 0.5 s per instance |")
    for label, value in (("direct path, no firewall", direct), ("3 instances, one rule", one), (f"3 instances, {N} rules", big)):
        print(f"| iperf3 TCP, {label} (median of {ROUNDS}: {', '.join(f'{r:.1f}' for r in rates[label.split(', ')[-1] if 'rule' in label else 'direct'])}) "
              f"| {value:.1f} Gbit/s | {'within 10%: ' + f'{big / one:.2f}' if label.endswith('rules') else '-'} |")
    assert change < 0.1
    assert counts == {(("+nft", 3),)}  # one table per instance reloaded, nothing else
    assert exact[0] + exact[1] < 0.5
    assert big >= 0.9 * one
