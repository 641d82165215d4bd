"""Pure engine tests: validation messages, compile, diff and sessions (no root)."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.api import LabApi
from engine.compile import compile_plan
from engine.diff import plan_diff, simulate
from engine.errors import LockedError, ValidationError
from engine.model import (
    Config,
    Host,
    NatMap,
    PrefixList,
    PrefixListEntry,
    ResourceShare,
    Segment,
    ShareEnd,
    Subnet,
    Vpc,
)
from engine.plan import Plan
from engine.serial import from_data, to_data
from engine.store import LabStore
from engine.testing import RecordingFabric
from engine.validate import validate


def base() -> Config:
    c = Config(segments=(Segment("prod"), Segment("dev")))
    return c.put("vpc", Vpc("web", segment="prod", cidrs=("10.1.0.0/16",), subnets=(Subnet("a", "10.1.1.0/24"),), hosts=(Host("h1", "10.1.1.10"),)))


def messages(config: Config) -> list[str]:
    return [str(d) for d in validate(config, base())]


def test_base_is_valid():
    assert validate(base()) == []


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda c: c.put("vpc", Vpc("api", segment="prod", cidrs=("10.1.0.0/16",))), "vpc api: cidr 10.1.0.0/16 overlaps vpc web (segment prod)"),
        (lambda c: c.put("vpc", Vpc("api", segment="prod", cidrs=("10.1.128.0/17",))), "vpc api: cidr 10.1.128.0/17 overlaps vpc web (segment prod)"),
        (lambda c: c.put("vpc", Vpc("api", segment="prod", cidrs=("10.2.0.0/16",), subnets=(Subnet("x", "10.3.1.0/24"),))), "vpc api subnet x: 10.3.1.0/24 is outside the vpc's cidrs (10.2.0.0/16)"),
        (lambda c: c.put("vpc", Vpc("api", segment="prod", cidrs=("10.2.0.0/16",), subnets=(Subnet("x", "10.2.1.0/24"),), hosts=(Host("hx", "10.2.2.5"),))), "vpc api host hx: 10.2.2.5 is in no subnet of the vpc"),
        (lambda c: c.put("vpc", Vpc("api", segment="prod", cidrs=("10.2.0.0/16",), subnets=(Subnet("x", "10.2.1.0/24"),), hosts=(Host("hx", "10.2.2.5", "x"),))), "vpc api host hx: 10.2.2.5 is outside its subnet x (10.2.1.0/24)"),
        (lambda c: c.put("vpc", Vpc("api", segment="prod", cidrs=("10.2.0.0/16",), subnets=(Subnet("x", "10.2.1.0/24"),), hosts=(Host("hx", "10.2.1.1"),))), "vpc api host hx: 10.2.1.1 is the gateway address of subnet x"),
        (lambda c: c.put("vpc", Vpc("api", segment="prod", cidrs=("10.2.0.0/16",), subnets=(Subnet("x", "10.2.1.0/24"),), hosts=(Host("h1", "10.2.1.5"),))), "vpc api host h1: host name already used in vpc"),
        (lambda c: c.put("vpc", Vpc("api", segment="prod", cidrs=("10.2.0.0/16",), subnets=(Subnet("x", "10.2.1.0/24"),), hosts=(Host("ha", "10.2.1.5"), Host("hb", "10.2.1.5")))), "vpc api host hb: address 10.2.1.5 is already used by host ha"),
        (lambda c: c.put("vpc", Vpc("api", segment="nope", cidrs=("10.2.0.0/16",))), "vpc api: segment nope does not exist"),
        (lambda c: c.put("vpc", Vpc("api", cidrs=("10.2.0.0/16",))), "vpc api: no segment"),
        (lambda c: c.put("vpc", Vpc("api", segment="prod", cxp="mars", cidrs=("10.2.0.0/16",))), "vpc api: cxp mars does not exist"),
        (lambda c: c.put("vpc", Vpc("api", segment="prod", cidrs=("10.2.0.1/16",))), "vpc api: cidr 10.2.0.1/16 is not a valid prefix"),
        (lambda c: c.put("vpc", Vpc("api", segment="prod", cidrs=("10.300.0.0/16",))), "vpc api: cidr 10.300.0.0/16 is not a valid prefix"),
        (lambda c: c.put("vpc", Vpc("api", segment="prod", cidrs=("169.254.0.0/24",))), "overlaps 169.254.0.0/16"),
        (lambda c: c.put("vpc", Vpc("api", segment="prod", cidrs=("10.2.0.0/16",), subnets=(Subnet("x", "10.2.1.0/24"), Subnet("y", "10.2.1.128/25")))), "vpc api subnet y: 10.2.1.128/25 overlaps subnet x"),
        (lambda c: c.put("vpc", Vpc("9bad", segment="prod", cidrs=("10.2.0.0/16",))), "vpc 9bad: invalid name"),
        (lambda c: c.put("prefix-list", PrefixList("L", (PrefixListEntry(5, "permit", "10.0.0.0/8", ge=4),))), "prefix-list L seq 5: ge 4 must be longer than /8"),
        (lambda c: c.put("resource-share", ResourceShare("s", ShareEnd("prod", "L"), ShareEnd("prod", "L"))), "resource-share s: both ends are in segment prod"),
        (lambda c: c.put("resource-share", ResourceShare("s", ShareEnd("prod", "X"), ShareEnd("dev", "X"), nat=(NatMap("end-a", "10.1.0.0/24", "100.64.0.0/16"),))), "sizes differ"),
    ],
)
def test_each_validation_error_names_the_object(change, expected):
    got = messages(change(base()))
    assert any(expected in m for m in got), got


def test_all_errors_at_once_and_nothing_changes(tmp_path):
    fab = RecordingFabric()
    api = LabApi("t_pure", fab, LabStore("t_pure", tmp_path))
    api.set_candidate(base())
    api.commit()
    plan = fab.plan
    bad = base().put("vpc", Vpc("api", segment="nope", cidrs=("10.1.0.0/16", "x")))
    api.set_candidate(bad)
    with pytest.raises(ValidationError) as err:
        api.commit()
    assert len(err.value.diagnostics) >= 2
    assert all(line.startswith("% ") for line in err.value.lines())
    assert fab.plan is plan and api.running == base() and api.session.number == 1


def test_same_cidrs_allowed_across_segments():
    c = base().put("vpc", Vpc("dev1", segment="dev", cidrs=("10.1.0.0/16",)))
    assert validate(c) == []


def test_round_trip_serialisation():
    c = base()
    assert from_data(to_data(c)) == c


def test_history_rollback_and_lock(tmp_path):
    fab = RecordingFabric()
    api = LabApi("t_pure", fab, LabStore("t_pure", tmp_path))
    api.set_candidate(base())
    api.commit(comment="first")
    grown = base().put("vpc", Vpc("db", segment="dev", cidrs=("10.9.0.0/16",)))
    api.set_candidate(grown)
    api.commit()
    assert [h.number for h in api.history()] == [2, 1]
    assert api.history()[1].comment == "first"
    api.rollback(1)
    assert api.running == base() and api.session.number == 3
    # another process attached to the same lab sees the running config
    other_store = LabStore("t_pure", tmp_path)
    other_store.lock_wait = 0.2
    other = LabApi("t_pure", RecordingFabric(), other_store)
    assert other.running == base()
    with api.session.store.lock():
        other.set_candidate(grown)
        with pytest.raises(LockedError, match="locked"):
            other.commit()


def test_a_commit_waits_briefly_for_the_lock_and_names_the_holder(tmp_path):
    """Two commits at the same moment: the second waits for the first (as
    destroy does); one that waits in vain names the process holding the
    lock, read from /proc/locks: a PID file written after the lock is
    taken was read empty ('process  is committing')."""
    api = LabApi("t_pure", RecordingFabric(), LabStore("t_pure", tmp_path))
    api.set_candidate(base())
    api.commit()
    lock = tmp_path / "t_pure" / "lock"
    (tmp_path / "t_pure" / "lock.pid").write_text("")  # as a holder leaves it just after taking the lock
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        api.session.store.lock_wait = 0.3
        api.set_candidate(base().put("vpc", Vpc("db", segment="dev", cidrs=("10.9.0.0/16",))))
        with pytest.raises(LockedError, match=f"lab t_pure is locked: process {os.getpid()} is committing; try again"):
            api.commit()
        api.session.store.lock_wait = 10.0  # generous: a loaded machine may fire the timer late
        threading.Timer(0.5, fcntl.flock, (fd, fcntl.LOCK_UN)).start()
        started = time.monotonic()
        assert api.commit().number == 2
        assert 0.4 < time.monotonic() - started < 10.0
    finally:
        os.close(fd)


def test_failed_apply_keeps_running(tmp_path):
    fab = RecordingFabric()
    api = LabApi("t_pure", fab, LabStore("t_pure", tmp_path))
    api.set_candidate(base())
    api.commit()
    fab.fail_next = True
    api.set_candidate(base().remove("vpc", "web"))
    with pytest.raises(Exception, match="restored"):
        api.commit()
    assert api.running == base()


# --- diff property: applying the diff of A to B gives B --------------------------

seg_names = st.sampled_from(["prod", "dev"])
hubs = st.sampled_from(["core", "east"])


@st.composite
def configs(draw: st.DrawFn) -> Config:
    c = Config(segments=(Segment("prod"), Segment("dev")))
    from engine.model import Cxp

    c = replace(c, cxps=(Cxp("east"),))
    for i in draw(st.sets(st.integers(0, 5), max_size=5)):
        seg, hub = draw(seg_names), draw(hubs)
        hosts = tuple(Host(f"h{i}_{j}", f"10.{i}.1.{10 + j + draw(st.integers(0, 3))}") for j in range(draw(st.integers(0, 2))))
        extra = draw(st.sets(st.sampled_from([f"9.{i}.0.0/16", f"11.{i}.0.0/16"])))  # below and above: moves the uplink address
        cidrs = tuple(sorted({f"10.{i}.0.0/16", *extra}))
        c = c.put("vpc", Vpc(f"v{i}", segment=seg, cxp=hub, cidrs=cidrs, subnets=(Subnet("s", f"10.{i}.1.0/24"),), hosts=hosts))
    return c


def test_a_cidr_below_the_others_re_adds_the_routes_through_the_moved_uplink_address():
    """The uplink's only address is replaced (removed, then the new one
    added): the kernel flushes the routes through the link in between."""
    before = base()
    after = before.put("vpc", replace(before.require("vpc", "web"), cidrs=("10.1.0.0/16", "9.9.0.0/16")))
    pa, pb = compile_plan("t", before), compile_plan("t", after)
    ops = {(op.action, op.item.key) for op in plan_diff(pa, pb)}
    assert ("remove", ("addr", "t-v-web", "uplink", "10.1.0.1/32")) in ops
    assert ("add", ("addr", "t-v-web", "uplink", "9.9.0.1/32")) in ops
    assert ("add", ("route", "t-v-web", "0.0.0.0/0")) in ops
    removed_address_only = simulate(pa, [op for op in plan_diff(pa, pb) if op.action == "remove"])
    assert ("route", "t-v-web", "0.0.0.0/0") not in removed_address_only.items


@settings(max_examples=150, deadline=None)
@given(configs(), configs())
def test_diff_then_simulate_equals_compile(a: Config, b: Config):
    pa, pb = compile_plan("t", a), compile_plan("t", b)
    assert simulate(pa, plan_diff(pa, pb)).items == pb.items
    assert plan_diff(pb, pb) == []
    assert simulate(Plan(), plan_diff(Plan(), pb)).items == pb.items
