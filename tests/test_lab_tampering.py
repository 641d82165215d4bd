"""The lab changed behind vpclab's back in ways health used to miss (the
hostile trial of wave 3: A3, B1, B2): a rule inserted into a router's
table, a namespace file left unmounted by a killed commit, and a
namespace deleted under trace and verify."""

from __future__ import annotations

import os
import subprocess

import pytest

from engine.api import LabApi
from engine.errors import NotFoundError
from engine.model import Config, PolicyEntry, Segment
from lab import netns, nftgen
from lab.fabric import LinuxFabric
from tests.labutil import fabric, vpc

pytestmark = pytest.mark.lab

CHANGED = "different (changed behind vpclab's back)"


def two_hubs(deny_b: bool = True) -> Config:
    """ha and hc on hub core, hb on hub east; hb refuses everything (policy 10)."""
    config = fabric(["prod"], ["core", "east"], [
        vpc("a", "prod", "10.1.0.0/16", {"ha": "10.1.1.10"}),
        vpc("b", "prod", "10.2.0.0/16", {"hb": "10.2.1.10"}, "east"),
        vpc("c", "prod", "10.3.0.0/16", {"hc": "10.3.1.10"}),
    ])  # fmt: skip
    if deny_b:
        config = config.put("segment", Segment("prod", policies=(PolicyEntry(10, "deny", "ip", "any", "host 10.2.1.10"),)))
    return config


def nft_in(ns: str, *argv: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, "nft", *argv], check=True, capture_output=True)


def reaches(api: LabApi, src: str, dst: str) -> bool:
    return api.ping(dst, src, count=2, timeout=0.5)[0] == 0


def problems(api: LabApi) -> set[tuple[str, str, str, str]]:
    return {(d.ns, d.kind, d.name, d.problem) for d in api.health().drift}


def hits(api: LabApi) -> int:
    return sum(r["packets"] for r in api.policy_hits("segment", "prod") if r["seq"] == 10)


def test_a_rule_inserted_into_a_routers_table_is_drift_and_repair_reloads_the_table_keeping_counters(make_lab) -> None:  # type: ignore[no-untyped-def]
    api = make_lab()
    api.set_candidate(two_hubs())
    api.commit()
    core, east = f"{api.name}-s-prod@core", f"{api.name}-s-prod@east"
    assert not reaches(api, "ha", "hb") and reaches(api, "ha", "hc")
    counted = hits(api)
    assert counted > 0
    assert api.health().ok  # traffic counted and conntrack moved: the table did not change
    nft_in(core, "insert", "rule", "inet", "vpclab", "forward", "accept")
    nft_in(east, "insert", "rule", "inet", "vpclab", "forward", "accept")
    assert reaches(api, "ha", "hb")  # the inserted rule is live: policy 10 is bypassed
    assert problems(api) == {(core, "table", "inet vpclab", CHANGED), (east, "table", "inet vpclab", CHANGED)}
    done = api.repair()
    assert any(line.startswith("put back") for line in done), done
    assert f"  {core}: table inet vpclab ({CHANGED})" in done
    assert api.health().ok
    assert not reaches(api, "ha", "hb")  # the table is the plan's again
    assert hits(api) > counted  # the counts from before the repair were kept, and more added
    listing = subprocess.run(["ip", "netns", "exec", core, "nft", "list", "chain", "inet", "vpclab", "forward"],
                             capture_output=True, text=True, check=True).stdout
    assert "\t\taccept\n" not in listing


def test_another_table_added_beside_the_labs_is_seen_and_after_repair_health_is_ok(make_lab) -> None:  # type: ignore[no-untyped-def]
    """Any ruleset change in a router moves the generation: the stray
    table is removed and the lab's table reloaded; then all is quiet."""
    api = make_lab()
    api.set_candidate(two_hubs())
    api.commit()
    core = f"{api.name}-s-prod@core"
    nft_in(core, "add", "table", "ip", "stray")
    assert (core, "table", "ip stray", "unexpected") in problems(api)
    api.repair()
    assert api.health().ok, api.health().rows()


def test_vpclabs_own_changes_are_not_drift(make_lab) -> None:  # type: ignore[no-untyped-def]
    """Commits that reload or remove tables, and clearing counters, record
    the generation they leave: health stays ok after each."""
    api = make_lab()
    api.set_candidate(two_hubs(deny_b=False))
    api.commit()
    core = f"{api.name}-s-prod@core"
    before = nftgen.recorded(core)
    assert before is not None and before == nftgen.read(core)
    api.set_candidate(two_hubs())
    api.commit()
    assert api.health().ok
    assert nftgen.recorded(core) == nftgen.read(core) != before
    assert not reaches(api, "hc", "hb")
    api.clear_counters()
    assert api.health().ok


def test_a_namespace_file_never_mounted_is_half_made_and_commit_repair_and_destroy_deal_with_it(make_lab) -> None:  # type: ignore[no-untyped-def]
    """A commit killed between creating /run/netns/NAME and mounting the
    namespace on it leaves an empty file that holds no namespace."""
    api = make_lab()
    api.set_candidate(two_hubs())
    api.commit()
    planned = f"{api.name}-v-d"
    open(netns.path(planned), "w").close()
    assert not netns.mounted(planned)
    assert (planned, "namespace", planned, "half-made (not mounted)") in problems(api)
    config = two_hubs().put("vpc", vpc("d", "prod", "10.4.0.0/16", {"hd": "10.4.1.10"}))
    api.set_candidate(config)
    result = api.commit()  # used to fail: [Errno 17] namespace ... exists and was not made by vpclab
    assert any(f"removed half-made namespace {planned}" in m for m in result.messages), result.messages
    assert netns.mounted(planned) and reaches(api, "hd", "ha")
    assert api.health().ok
    # in the running plan: repair removes the file and makes the namespace again
    subprocess.run(["ip", "netns", "del", f"{api.name}-h-hd"], check=True)
    open(netns.path(f"{api.name}-h-hd"), "w").close()
    health = problems(api)
    assert (f"{api.name}-h-hd", "namespace", f"{api.name}-h-hd", "half-made (not mounted)") in health
    done = api.repair()
    assert any("half-made" in line for line in done), done
    assert api.health().ok and reaches(api, "hd", "ha")
    # not planned at all: health names it, destroy removes it
    stray = f"{api.name}-v-zz"
    open(netns.path(stray), "w").close()
    assert (stray, "namespace", stray, "half-made (not mounted)") in problems(api)
    api.destroy()
    assert not os.path.exists(netns.path(stray))


def test_trace_and_verify_name_a_missing_namespace(make_lab) -> None:  # type: ignore[no-untyped-def]
    api = make_lab()
    api.set_candidate(two_hubs(deny_b=False))
    api.commit()
    router = f"{api.name}-s-prod@core"
    subprocess.run(["ip", "netns", "del", router], check=True)
    with pytest.raises(NotFoundError) as err:
        api.trace("hb", "ha", "tcp", 80)
    assert f"the namespace of segment router prod@core ({router}) is missing from the lab" in str(err.value)
    assert "'show lab health'" in str(err.value) and "'repair'" in str(err.value)
    api.repair()
    subprocess.run(["ip", "netns", "del", f"{api.name}-h-hb"], check=True)
    with pytest.raises(NotFoundError) as err:
        api.trace("hb", "ha", "tcp", 80)
    assert f"the namespace of host hb ({api.name}-h-hb) is missing from the lab" in str(err.value)
    with pytest.raises(NotFoundError):
        api.trace("ha", "hb", "tcp", 80)
    with pytest.raises(NotFoundError) as err:
        api.verify()
    assert f"the namespace of host hb ({api.name}-h-hb) is missing from the lab" in str(err.value)




def test_the_recovery_of_a_dead_commit_removes_the_namespace_file_it_left_unmounted(make_lab) -> None:  # type: ignore[no-untyped-def]
    """The hostile trial's B1 as it happened: the killed commit was adding a
    VPC; its namespace's file is there, never mounted, and the inflight
    marker names that commit."""
    api = make_lab()
    api.set_candidate(two_hubs())
    api.commit()
    config = two_hubs().put("vpc", vpc("d", "prod", "10.4.0.0/16", {"hd": "10.4.1.10"}))
    api.session.store.begin_commit(config, 2)  # as a commit leaves it when killed before save_commit
    half = f"{api.name}-v-d"
    open(netns.path(half), "w").close()
    done = LabApi(api.name, LinuxFabric(api.name)).session.recover()
    assert len(done) == 1 and f"removed half-made namespace {half}" in done[0], done
    assert not os.path.lexists(netns.path(half)) and api.health().ok
    api.set_candidate(config)
    assert api.commit().number == 2 and reaches(api, "hd", "ha")
