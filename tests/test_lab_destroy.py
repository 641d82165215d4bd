"""Destroy on real namespaces (issue 10: items 1, 8, 13, 16): it removes
only what vpclab made and marked, whatever the state files hold, takes
the lab from a commit in progress, and leaves no empty directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.api import LabApi
from engine.errors import CommitError
from lab import marks, netns, services
from lab.fabric import LinuxFabric
from tests.conftest import new_lab_name
from tests.labutil import fabric, vpc
from tests.test_lab_lifecycle import SLOW_COMMIT

pytestmark = pytest.mark.lab

VPCLAB = str(Path(sys.executable).parent / "vpclab")
ROOT = Path(__file__).parent.parent


def vpclab(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([VPCLAB, *argv], capture_output=True, text=True, timeout=120, env=env or dict(os.environ))


def one_vpc():  # type: ignore[no-untyped-def]
    return fabric(["prod"], ["core"], [vpc("web", "prod", "10.1.0.0/16", {"w1": "10.1.1.10"})])


class Foreign:
    """A namespace with the lab's prefix that someone else made, with a process in it."""

    def __init__(self, name: str):
        self.name = name
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.proc = subprocess.Popen(["ip", "netns", "exec", name, "sleep", "300"])

    def intact(self) -> bool:
        return netns.exists(self.name) and self.proc.poll() is None

    def remove(self) -> None:
        self.proc.kill()
        self.proc.wait()
        subprocess.run(["ip", "netns", "del", self.name], check=False)


def test_destroy_leaves_namespaces_vpclab_did_not_make(make_lab) -> None:  # type: ignore[no-untyped-def]
    api = make_lab()
    foreign = Foreign(f"{api.name}-foreign")
    try:
        api.set_candidate(one_vpc())
        api.commit()
        ours = netns.list_names(api.name + "-")
        assert marks.owner(f"{api.name}-v-web") == api.name and marks.owner(foreign.name) is None
        assert ("namespace", foreign.name, "foreign: not made by vpclab (destroy leaves it)") in {
            (d.kind, d.name, d.problem) for d in api.health().drift}
        proc = vpclab("--lab", api.name, "destroy")
        assert proc.returncode == 0, proc.stderr
        assert f"Destroyed lab {api.name}: {len(ours) - 1} namespaces removed." in proc.stdout
        assert (f"% left namespace {foreign.name}: vpclab did not make it (it has no vpclab mark); "
                f"'ip netns del {foreign.name}' removes it") in proc.stderr
        assert netns.list_names(api.name + "-") == [foreign.name] and foreign.intact()
    finally:
        foreign.remove()


def test_destroy_of_a_lab_that_does_not_exist_touches_no_foreign_namespace(state_dir: Path) -> None:
    lab = new_lab_name()
    foreign = Foreign(f"{lab}-x")
    try:
        proc = vpclab("--lab", lab, "destroy")
        assert proc.returncode == 1
        assert f"% left namespace {lab}-x: vpclab did not make it" in proc.stderr
        assert f"% lab {lab} does not exist: nothing to destroy" in proc.stderr
        assert foreign.intact()
    finally:
        foreign.remove()


def test_a_commit_never_takes_over_or_removes_a_foreign_namespace(make_lab) -> None:  # type: ignore[no-untyped-def]
    api = make_lab()
    foreign = Foreign(f"{api.name}-v-web")  # the name the commit wants for its VPC router
    try:
        api.set_candidate(one_vpc())
        with pytest.raises(CommitError, match=f"namespace {foreign.name} exists and was not made by vpclab: remove it"):
            api.commit()
        assert foreign.intact() and netns.list_names(api.name + "-") == [foreign.name]  # the undo left it
    finally:
        foreign.remove()


def test_destroy_works_with_a_damaged_state(make_lab, state_dir: Path) -> None:  # type: ignore[no-untyped-def]
    api = make_lab()
    api.set_candidate(one_vpc())
    api.commit()
    (state_dir / api.name / "running.json").write_text('{"number": 1, "config": {"vpcs": "web"}}')
    assert "is damaged (config.vpcs: expected a list, found str)" in vpclab("--lab", api.name, "-c", "show vpcs").stderr
    proc = vpclab("--lab", api.name, "destroy")
    assert proc.returncode == 0, proc.stderr
    assert netns.list_names(api.name + "-") == [] and not (state_dir / api.name).exists()


def test_destroy_during_a_commit_ends_it_and_removes_everything(state_dir: Path) -> None:
    lab = new_lab_name()
    proc = subprocess.Popen([sys.executable, "-c", SLOW_COMMIT, lab], stdout=subprocess.PIPE, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout and proc.stdout.readline().strip() == b"committing"
        deadline = time.time() + 10
        while len(netns.list_names(lab + "-")) < 5 and time.time() < deadline:
            time.sleep(0.02)
        done = LabApi(lab, LinuxFabric(lab)).destroy()
        assert done.ended == (proc.pid,) and done.removed >= 5
        assert proc.wait(5) == -signal.SIGTERM
        assert netns.list_names(lab + "-") == [] and not (state_dir / lab).exists()
        assert not services.scan(services.marker(lab + "/"))
    finally:
        proc.kill()
        proc.wait()
        LinuxFabric(lab).destroy()


def test_no_empty_state_or_run_directory_is_left(tmp_path: Path) -> None:
    lab = new_lab_name()
    env = {**os.environ, "VPCLAB_STATE_DIR": str(tmp_path / "state"), "VPCLAB_RUN_DIR": str(tmp_path / "run")}
    script = tmp_path / "lab.cli"
    script.write_text("configure\nsegment prod\nvpc web\n segment prod\n cidr 10.1.0.0/16\n subnet s 10.1.1.0/24\n"
                      " host w1 10.1.1.10\n service site http on w1\ncommit\nend\nshow log\n")
    try:
        build = vpclab("--lab", lab, "-f", str(script), env=env)
        assert build.returncode == 0, build.stderr
        assert (tmp_path / "state" / lab).is_dir() and (tmp_path / "run" / lab).is_dir()
        assert vpclab("--lab", lab, "destroy", env=env).returncode == 0
        assert sorted(p.name for p in tmp_path.iterdir()) == ["lab.cli"]
    finally:
        vpclab("--lab", lab, "destroy", env=env)


BUILD_AND_WAIT = """
import os, sys
from engine.api import LabApi
from lab.fabric import LinuxFabric
from tests.test_lab_destroy import one_vpc
api = LabApi(sys.argv[1], LinuxFabric(sys.argv[1]))
api.set_candidate(one_vpc())
api.commit()
print(os.readlink("/proc/self/ns/net"), flush=True)
sys.stdin.read()
"""


def test_a_process_that_built_a_lab_stays_in_the_host_namespace(state_dir: Path) -> None:
    """Its first namespace operation was a creation: it used to stay in
    that namespace for good, and a destroy elsewhere then ended it."""
    lab = new_lab_name()
    builder = subprocess.Popen([sys.executable, "-c", BUILD_AND_WAIT, lab], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert builder.stdout and builder.stdout.readline().strip() == os.readlink("/proc/self/ns/net")
        assert vpclab("--lab", lab, "destroy").returncode == 0
        assert builder.poll() is None  # alive: it was never in the lab
    finally:
        builder.kill()
        builder.wait()
        LinuxFabric(lab).destroy()


def test_a_lab_made_before_the_marks_is_still_the_labs(make_lab) -> None:  # type: ignore[no-untyped-def]
    """Namespaces the running configuration names but that carry no mark
    (made by an earlier vpclab) are adopted by the next commit, and
    destroy removes them; an unmarked one it does not name stays foreign."""
    api = make_lab()
    api.set_candidate(one_vpc())
    api.commit()
    ours = netns.list_names(api.name + "-")
    for ns in ours:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "alias", ""], check=True)
    assert {marks.owner(ns) for ns in ours} == {None}
    foreign = Foreign(f"{api.name}-foreign")
    try:
        assert {d.problem for d in api.health().drift} == {"foreign: not made by vpclab (destroy leaves it)"}
        api.set_candidate(one_vpc().put("vpc", vpc("api", "prod", "10.2.0.0/16", {"a1": "10.2.1.10"})))
        api.commit()  # reads the router it changes: adopts it
        assert marks.owner(f"{api.name}-s-prod@core") == api.name and marks.owner(f"{api.name}-v-web") is None
        done = api.destroy()
        assert done.removed == len(ours) + 2 and done.foreign == (foreign.name,) and foreign.intact()
    finally:
        foreign.remove()
