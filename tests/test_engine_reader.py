"""The read side (engine/reader.py), the compiler's explicit cache, and a
session whose reads never change its candidate: pure tests, threads included."""

from __future__ import annotations

import gc
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from engine import reader as reader_module
from engine.api import LabApi
from engine.compile import compile_plan
from engine.compile.cache import CompileCache
from engine.errors import NotFoundError
from engine.model import Config, Cxp, EndpointService, Firewall, Host, Internet, ResourceShare, Segment, ShareEnd, Subnet, Vpc, Zone
from engine.plan import Plan
from engine.reader import LabReader, RunningSnapshot
from engine.store import LabStore
from engine.testing import RecordingFabric
from shell.loader import parse_config
from tests.configs import PORTAL
from tests.polling import poll_during


def vpc(name: str, segment: str, n: int, cxp: str = "core", hosts: int = 1) -> Vpc:
    return Vpc(name, segment=segment, cxp=cxp, cidrs=(f"10.{n}.0.0/16",), subnets=(Subnet("s", f"10.{n}.1.0/24"),),
               hosts=tuple(Host(f"{name}h{j}", f"10.{n}.1.{10 + j}") for j in range(hosts)))  # fmt: skip


def lab_config(vpcs: int = 3) -> Config:
    config = Config(cxps=(Cxp("east"),), segments=(Segment("prod"), Segment("dev", default_action="deny")))
    for i in range(vpcs):
        config = config.put("vpc", vpc(f"v{i}", "prod" if i % 2 else "dev", i + 1, "east" if i % 3 == 2 else "core"))
    return config


def api_at(root: Path, **kw: Any) -> LabApi:
    return LabApi("t", RecordingFabric(), LabStore("t", root), **kw)


# --- snapshots -------------------------------------------------------------------


def test_a_snapshot_is_reused_until_a_commit_and_follows_other_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = api_at(tmp_path)
    reader = LabReader("t", RecordingFabric(), LabStore("t", tmp_path))  # as a monitor process would
    empty = reader.snapshot()
    assert (empty.number, empty.config, len(empty.plan)) == (0, Config(), 0)
    api.set_candidate(lab_config())
    api.commit()
    snap = reader.snapshot()
    assert snap.number == 1 and snap.config == lab_config() and snap.plan.items == compile_plan("t", lab_config()).items
    reads = []
    monkeypatch.setattr(reader.store, "load_running", lambda: reads.append(1) or (9, Config()))
    assert reader.snapshot() is snap and reads == []  # nothing committed: one stat, the same object
    with pytest.raises(AttributeError):
        snap.number = 2  # type: ignore[misc]


def test_the_committing_api_hands_its_plan_to_its_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = api_at(tmp_path)
    api.set_candidate(lab_config())
    api.commit()
    compiled = []
    monkeypatch.setattr(reader_module, "compile_plan", lambda *a: compiled.append(a) or Plan())
    snap = api.reader.snapshot()
    assert compiled == [] and snap.number == 1 and snap.plan is api.session.running_plan()


def test_reading_never_changes_the_candidate(tmp_path: Path) -> None:
    mine, other = api_at(tmp_path), api_at(tmp_path)
    mine.set_candidate(lab_config(2))
    mine.commit()
    edited = mine.candidate.put("segment", Segment("qa"))
    mine.set_candidate(edited)
    other.set_candidate(lab_config(4))
    other.commit()  # another process commits while this one has edits
    mine.routes(), mine.flows(), mine.policy_hits(), mine.health(), mine.services(), mine.topology()
    assert mine.running == lab_config(4) and mine.candidate is edited  # the edits stay, untouched
    mine.abort()
    assert mine.candidate == lab_config(4)
    other.set_candidate(lab_config(5))
    other.commit()
    assert mine.candidate == lab_config(5)  # without edits the candidate is the running config


def test_filters_naming_unknown_objects_are_errors(tmp_path: Path) -> None:
    api = api_at(tmp_path)
    api.set_candidate(lab_config())
    api.commit()
    snap = api.reader.snapshot()
    for call, message in [
        (lambda: api.reader.routes(snap, segment="nope"), "segment nope does not exist in the running configuration"),
        (lambda: api.reader.flows(snap, host="ghost"), "host ghost does not exist in the running configuration"),
        (lambda: api.reader.policy_hits(snap, "share", "x"), "resource-share x does not exist in the running configuration"),
    ]:
        with pytest.raises(NotFoundError, match=message):
            call()


def test_many_threads_read_while_commits_land(tmp_path: Path) -> None:
    """Readers in eight threads, a committer in another process's role: every
    snapshot any thread sees is whole (its plan is its config's plan), and
    each thread sees commit numbers only grow."""
    committer = api_at(tmp_path)
    committer.set_candidate(lab_config(2))
    committer.commit()
    reader = LabReader("t", RecordingFabric(), LabStore("t", tmp_path))

    def commits() -> None:
        for n in range(3, 9):
            committer.set_candidate(lab_config(n))
            committer.commit()

    seen, errors = poll_during(reader, 8, commits)
    assert errors == []
    distinct = {id(s): s for s in seen}.values()
    assert len({s.number for s in distinct}) >= 2 and reader.snapshot().number == 7  # polls overlapped the commits
    for snap in distinct:
        assert snap.plan.items == compile_plan("t", snap.config).items


# --- the compiler's cache ------------------------------------------------------------


def test_a_warm_compile_equals_a_cold_one_and_reuses_unchanged_groups() -> None:
    cache = CompileCache()
    config = parse_config(PORTAL)
    first = compile_plan("t", config, cache)
    grown = config.put("vpc", vpc("extra", "cust-a", 9))
    warm, cold = compile_plan("t", grown, cache), compile_plan("t", grown)
    assert warm.items == cold.items
    same = [k for k, v in warm.items.items() if first.items.get(k) is v]
    assert len(same) > len(first) * 0.7  # unchanged VPCs, shares and tables are the very same objects
    assert cache.sizes()["vpcs"] == 4 and cache.sizes()["shares"] == 2


def test_the_cache_is_bounded() -> None:
    cache = CompileCache(size=3)
    for i in range(10):
        compile_plan("t", lab_config(1).put("vpc", vpc("x", "prod", 50 + i)), cache)
    assert cache.sizes()["vpcs"] == 3


def test_threads_compiling_with_one_cache_agree() -> None:
    cache = CompileCache()
    configs = [lab_config(n) for n in range(2, 8)]
    results: dict[int, list[Plan]] = {n: [] for n in range(len(configs))}

    def work(k: int) -> None:
        for n, config in enumerate(configs[k % 2 :] + configs[: k % 2]):
            results[(n + k % 2) % len(configs)].append(compile_plan("t", config, cache))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n, plans in results.items():
        want = compile_plan("t", configs[n]).items
        assert len(plans) == 6 and all(p.items == want for p in plans)


# --- the garbage collector is the owner's choice --------------------------------------


class GcWatchingFabric(RecordingFabric):
    def apply(self, old, new, ops=None):  # type: ignore[no-untyped-def]
        self.gc_enabled = gc.isenabled()
        return super().apply(old, new, ops)


@pytest.mark.parametrize("pause", [True, False])
def test_commits_pause_the_collector_only_when_told(tmp_path: Path, pause: bool) -> None:
    fabric = GcWatchingFabric()
    api = LabApi("t", fabric, LabStore("t", tmp_path), pause_gc=pause)
    assert gc.isenabled()
    api.set_candidate(lab_config())
    api.commit()
    assert fabric.gc_enabled is (not pause) and gc.isenabled()


# --- the topology tree -----------------------------------------------------------------


def test_the_tree_lists_every_object_under_its_hub_parents_first() -> None:
    config = lab_config(3).put("prefix-list", parse_config("prefix-list P permit 10.0.0.0/8 le 32\n").prefix_lists[0])
    config = config.put("resource-share", ResourceShare("s", ShareEnd("prod", "P"), ShareEnd("dev", "P"), direction="a-to-b"))
    config = config.put("segment", Segment("idle"))
    config = config.put("firewall", Firewall("fw", "east", 2, (Zone("z", segment="prod"),)))
    config = config.put("internet", Internet("inet", segments=("prod",), snat_address="203.0.113.1"))
    config = config.put("endpoint-service", EndpointService("db", kind="http", port=8080))
    config = config.put("vpc", replace(config.get("vpc", "v0"), micro_segmentation=True))
    rows = LabReader("t", RecordingFabric(), LabStore("t", "/nonexistent")).topology(
        RunningSnapshot("t", 1, config, compile_plan("t", config), 0.0))
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    assert all(r["parent"] is None or ids.index(r["parent"]) < ids.index(r["id"]) for r in rows)
    by_id = {r["id"]: r for r in rows}
    assert by_id["cxp:core"]["parent"] is None and by_id["segment:dev@core"]["parent"] == "cxp:core"
    assert by_id["segment:dev@core"]["detail"] == "1 vpc, policy 0 entries, default deny"
    assert by_id["vpc:v2"]["parent"] == "segment:dev@east"  # v2 is on hub east
    assert by_id["subnet:v1/s"]["parent"] == "vpc:v1" and by_id["host:v1h0"]["parent"] == "subnet:v1/s"
    assert by_id["host:v1h0"]["detail"] == "10.2.1.10"
    assert by_id["vpc:v0"]["detail"] == "10.1.0.0/16 (micro-segmentation)"
    assert by_id["share:s"] == {"id": "share:s", "parent": "cxp:core", "kind": "share", "name": "s", "detail": "prod <-> dev (a-to-b)"}
    assert by_id["firewall:fw"]["parent"] == "cxp:east" and by_id["firewall:fw"]["detail"] == "2 instances; zones z"
    assert by_id["internet:inet"]["detail"] == "prod; snat 203.0.113.1"
    assert by_id["endpoint-service:db"]["detail"] == "http port 8080"
    assert by_id["segment:idle"]["parent"] is None  # no VPC anywhere: no router


class KernelFabric(RecordingFabric):
    """Drift as a kernel would show it: the namespaces of a plan that the
    last applied plan lacks are missing."""

    def drift(self, plan: Plan) -> list[Any]:
        from engine.ports import Drift

        return [Drift(ns, "namespace", ns, "missing") for ns in plan.namespaces() if ns not in self.plan.namespaces()]


def test_health_of_a_snapshot_a_commit_replaced_shows_no_false_drift(tmp_path: Path) -> None:
    fabric = KernelFabric()
    mine = LabApi("t", fabric, LabStore("t", tmp_path))
    other = LabApi("t", fabric, LabStore("t", tmp_path))
    mine.set_candidate(lab_config(3))
    mine.commit()
    snap = mine.reader.snapshot()
    other.set_candidate(lab_config(2))
    other.commit()  # lands between the snapshot and its reading: vpc v2 is gone from the kernel
    assert mine.reader.health(snap).ok
    assert not mine.reader.health(replace(snap, version=(0, 0, 0))).ok  # judged against the old plan, as before
