"""Commits of firewalls and edges are diffs like any other: a chain of
changes applied one after another leaves the kernel as building the last
from scratch does (links, addresses, routes of every table, rules and
tables), and a commit that fails half-way restores the kernel exactly."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from engine.errors import CommitError
from engine.model import Config
from lab import nft
from shell.loader import parse_config
from tests.labutil import kernel_state
from tests.paths import example
from tests.test_lab_firewall_paths import SHARE

pytestmark = pytest.mark.lab


def story() -> Config:
    text = example("firewall-insertion.cli").read_text()
    return parse_config(text.split("configure\n")[1].split("commit\n")[0])


def steps() -> list[Config]:
    """The story, more instances, a share through the firewall, the edge no
    longer inspected, the policy no longer inspecting, the firewall gone."""
    a = story()
    fw = a.require("firewall", "fw1")
    b = a.put("firewall", replace(fw, instances=3))
    c = parse_config(SHARE.replace("firewall fw\n", "firewall fwx\n").replace("inspect firewall fw\n", "inspect firewall fwx\n"), b)
    edge = c.require("internet", "inet")
    d = c.put("internet", replace(edge, firewall=None))
    seg = d.require("segment", "spokes")
    e = d.put("segment", replace(seg, policies=(replace(seg.policies[0], action="permit", firewall=None),)))
    f = e.remove("firewall", "fw1")
    return [a, b, c, d, e, f]


def normalised(lab: str) -> dict[str, str]:
    """Every namespace's links, addresses, routes, rules and nft table, with the lab's name taken out."""
    out = {}
    for ns, state in kernel_state(lab + "-").items():
        table = nft.run(ns, "list table inet vpclab") if nft.exists(ns) else ""
        out[ns[len(lab):]] = (repr(state) + _without_counters(table)).replace(lab, "LAB")
    return out


def _without_counters(text: str) -> str:
    import re

    return re.sub(r"counter packets \d+ bytes \d+", "counter", text)


def test_a_chain_of_changes_equals_the_last_built_from_scratch(make_lab: Any) -> None:
    incremental, scratch = make_lab(), make_lab()
    configs = steps()
    for config in configs:
        incremental.set_candidate(config)
        incremental.commit()
        assert incremental.health().ok, incremental.health().rows()
    scratch.set_candidate(configs[-1])
    scratch.commit()
    assert normalised(incremental.name) == normalised(scratch.name)


@pytest.mark.parametrize("fail_at", [1, 7, 20, 45, 80])
def test_a_failed_firewall_commit_restores_the_kernel_exactly(make_lab: Any, fail_at: int) -> None:
    count = {"n": 0}
    armed = {"on": False}

    def fault(op: Any) -> None:
        if armed["on"]:
            count["n"] += 1
            if count["n"] == fail_at:
                raise OSError("injected failure")

    api = make_lab(fault=fault)
    first, second = steps()[1], steps()[2]
    api.set_candidate(first)
    api.commit()
    before = normalised(api.name)
    api.set_candidate(second)
    armed["on"] = True
    with pytest.raises(CommitError, match="restored"):
        api.commit()
    armed["on"] = False
    assert normalised(api.name) == before
    assert api.running == first and api.health().ok
    assert api.probe("s2app", "s1web", "tcp", 8080).reachable  # the firewall still inspects and admits
