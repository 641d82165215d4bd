"""Crash safety and incremental-equals-full on real namespaces."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.api import LabApi
from engine.model import Config, Host, Subnet, Vpc
from engine.store import LabStore
from lab import netns
from lab.fabric import LinuxFabric
from tests.conftest import new_lab_name
from tests.labutil import fabric, kernel_state, vpc

pytestmark = pytest.mark.lab

SLOW_COMMIT = textwrap.dedent(
    """
    import sys, time
    from engine.api import LabApi
    from lab.fabric import LinuxFabric
    from tests.labutil import fabric, vpc
    def slow(op):
        time.sleep(0.02)
    name = sys.argv[1]
    api = LabApi(name, LinuxFabric(name, fault=slow))
    api.set_candidate(fabric(["prod"], ["core", "east"], [
        vpc(f"v{i}", "prod", f"10.{i}.0.0/16", {f"h{i}": f"10.{i}.1.10"}, "core" if i % 2 else "east")
        for i in range(30)]))
    print("committing", flush=True)
    api.commit()
    """
)


def test_destroy_after_kill_minus_9_in_the_middle_of_a_commit(state_dir: Path):
    other_name, victim = new_lab_name(), new_lab_name()
    other = LabApi(other_name, LinuxFabric(other_name))
    try:
        other.set_candidate(fabric(["prod"], ["core"], [vpc("a", "prod", "10.1.0.0/16", {"ha": "10.1.1.10"})]))
        other.commit()
        proc = subprocess.Popen(
            [sys.executable, "-c", SLOW_COMMIT, victim],
            stdout=subprocess.PIPE,
            cwd=Path(__file__).parent.parent,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
        )
        assert proc.stdout and proc.stdout.readline().strip() == b"committing"
        deadline = time.time() + 10
        while len(netns.list_names(victim + "-")) < 20 and time.time() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert len(netns.list_names(victim + "-")) >= 20  # killed half-way
        assert LabStore(victim).marker("inflight") is not None
        # a new process: destroy finds everything by the prefix
        removed = LabApi(victim, LinuxFabric(victim)).destroy()
        assert removed.removed >= 20
        assert netns.list_names(victim + "-") == []
        assert not (state_dir / victim).exists()
        assert other.health().ok and other.probe("ha", "ha").reachable
    finally:
        LinuxFabric(victim).destroy()
        other.destroy()


def _normalised(prefix: str) -> dict[str, object]:
    state = kernel_state(prefix)
    lab = prefix.rstrip("-")
    return {ns[len(prefix):]: repr(v).replace(lab, "LAB") for ns, v in state.items()}


def test_applying_a_then_b_equals_b_from_scratch(make_lab):
    a = fabric(["prod", "dev"], ["core", "east"], [
        vpc("x", "prod", "10.1.0.0/16", {"hx": "10.1.1.10", "hx2": "10.1.1.11"}),
        vpc("y", "dev", "10.1.0.0/16", {"hy": "10.1.1.10"}, "east"),
        vpc("z", "prod", "10.2.0.0/16", {"hz": "10.2.1.10"}, "east"),
    ])
    b = a.remove("vpc", "z").put("vpc", vpc("w", "dev", "10.9.0.0/16", {"hw": "10.9.1.10"}))
    b = b.put("vpc", vpc("x", "prod", "10.1.0.0/16", {"hx": "10.1.1.20"}, "east"))
    incremental, scratch = make_lab(), make_lab()
    incremental.set_candidate(a)
    incremental.commit()
    incremental.set_candidate(b)
    incremental.commit()
    scratch.set_candidate(b)
    scratch.commit()
    left, right = _normalised(incremental.name + "-"), _normalised(scratch.name + "-")
    assert left == right, _show_diff(left, right)


@st.composite
def lab_changes(draw: st.DrawFn) -> tuple[Config, Config]:
    """A small lab and a change of it: VPCs added, removed, moved between
    hubs and segments, cidrs added above and below the existing ones (which
    moves the VPC router's uplink address) or removed, hosts readdressed."""

    def one_vpc(i: int) -> Vpc:
        extra = draw(st.sets(st.sampled_from([f"9.{i}.0.0/16", f"11.{i}.0.0/16"])))
        hosts = tuple(Host(f"h{i}_{j}", f"10.{i}.1.{10 + 2 * j + draw(st.integers(0, 1))}") for j in range(draw(st.integers(0, 2))))
        return Vpc(f"v{i}", segment=draw(st.sampled_from(["prod", "dev"])), cxp=draw(st.sampled_from(["core", "east"])),
                   cidrs=tuple(sorted({f"10.{i}.0.0/16", *extra})), subnets=(Subnet("s", f"10.{i}.1.0/24"),), hosts=hosts)

    def config() -> Config:
        return fabric(["prod", "dev"], ["core", "east"], [one_vpc(i) for i in sorted(draw(st.sets(st.integers(0, 2), max_size=3)))])

    a = config()
    b = config() if draw(st.booleans()) else a
    for v in b.vpcs:  # and within kept VPCs, one change of cidrs
        if draw(st.booleans()):
            cidrs = draw(st.sets(st.sampled_from([f"9.{v.name[1:]}.0.0/16", f"11.{v.name[1:]}.0.0/16"])))
            b = b.put("vpc", replace(v, cidrs=tuple(sorted({v.cidrs[v.cidrs.index(f"10.{v.name[1:]}.0.0/16")], *cidrs}))))
    return a, b


@settings(max_examples=14, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(change=lab_changes())
def test_applying_a_then_b_equals_b_from_scratch_for_generated_changes(state_dir: Path, change: tuple[Config, Config]):
    a, b = change
    incremental, scratch = (LabApi(n, LinuxFabric(n)) for n in (new_lab_name(), new_lab_name()))
    try:
        for api, steps in ((incremental, (a, b)), (scratch, (b,))):
            for config in steps:
                api.set_candidate(config)
                api.commit()
        left, right = _normalised(incremental.name + "-"), _normalised(scratch.name + "-")
        assert left == right, _show_diff(left, right)
        assert incremental.health().ok, incremental.health().rows()
    finally:
        incremental.destroy()
        scratch.destroy()


def _show_diff(left: dict[str, object], right: dict[str, object]) -> str:  # debugging aid in failures
    out = []
    for k in sorted(set(left) | set(right)):
        if left.get(k) != right.get(k):
            out.append(f"{k}:\n  incremental {left.get(k)}\n  scratch     {right.get(k)}")
    return "\n".join(out)


def test_confirmed_commit_from_a_batch_rolls_back_after_the_process_exits(state_dir: Path, tmp_path: Path):
    lab = new_lab_name()
    script = tmp_path / "confirmed.cli"
    script.write_text(
        "configure\nsegment prod\nvpc a\n segment prod\n cidr 10.1.0.0/16\n subnet s 10.1.1.0/24\n"
        " host ha 10.1.1.10\ncommit\nvpc b\n segment prod\n cidr 10.2.0.0/16\n subnet s 10.2.1.0/24\n"
        " host hb 10.2.1.10\ncommit confirmed 2\nend\n"
    )
    vpclab = str(Path(sys.executable).parent / "vpclab")
    try:
        proc = subprocess.run([vpclab, "--lab", lab, "-f", str(script)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert netns.exists(f"{lab}-h-hb")  # the batch has exited; the confirmed commit is live
        deadline = time.time() + 10
        while netns.exists(f"{lab}-h-hb") and time.time() < deadline:
            time.sleep(0.1)
        assert not netns.exists(f"{lab}-h-hb") and netns.exists(f"{lab}-h-ha")
        history = LabApi(lab, LinuxFabric(lab)).history()
        assert history[0].comment == "rollback: commit 2 was not confirmed"
    finally:
        LabApi(lab, LinuxFabric(lab)).destroy()
