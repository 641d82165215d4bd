"""Things deleted or added behind vpclab's back, and commits killed half way
(issue 10: items 11 and 12, and drift made complete for repair): health
says everything that differs, edits are never blocked by drift, and the
next attach after a kill -9 brings the lab back exactly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from engine.api import LabApi
from engine.errors import NotFoundError
from engine.model import Config, PolicyEntry, Segment, Service
from engine.store import LabStore
from lab import netns, services
from lab.fabric import LinuxFabric
from tests.conftest import new_lab_name
from tests.labutil import fabric, kernel_state, vpc

pytestmark = pytest.mark.lab

ROOT = Path(__file__).parent.parent
VPCLAB = str(Path(sys.executable).parent / "vpclab")


def three() -> Config:
    return fabric(["prod"], ["core", "east"], [
        vpc("a", "prod", "10.1.0.0/16", {"ha": "10.1.1.10"}),
        vpc("b", "prod", "10.2.0.0/16", {"hb": "10.2.1.10"}),
        vpc("c", "prod", "10.3.0.0/16", {"hc": "10.3.1.10"}, "east"),
    ])  # fmt: skip


def ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True)


def reaches(api: LabApi, src: str, dst: str) -> bool:
    """A real ping from host `src` to host `dst` is answered."""
    return api.ping(dst, src, count=2, timeout=0.5)[0] == 0


def problems(api: LabApi) -> set[tuple[str, str, str, str]]:
    return {(d.ns, d.kind, d.name, d.problem) for d in api.health().drift}


def test_health_reports_what_is_there_but_not_planned(make_lab) -> None:  # type: ignore[no-untyped-def]
    api = make_lab()
    api.set_candidate(three())
    api.commit()
    seg, va = f"{api.name}-s-prod@core", f"{api.name}-v-a"
    ip("-n", va, "link", "add", "x.extra", "type", "bridge")
    ip("-n", va, "addr", "add", "10.1.9.1/24", "dev", "b.s1")
    ip("-n", seg, "route", "add", "10.99.0.0/16", "dev", "lo", "proto", "77")
    ip("-n", seg, "rule", "add", "priority", "555", "lookup", "100", "proto", "77")
    assert problems(api) == {
        (va, "link", "x.extra", "unexpected"),
        (va, "address", "10.1.9.1/24 on b.s1", "unexpected"),
        (seg, "route", "10.99.0.0/16", "unexpected"),
        (seg, "rule", "555: lookup 100", "unexpected"),
    }


def test_repair_removes_what_was_added_behind_vpclabs_back_and_nothing_else(make_lab) -> None:  # type: ignore[no-untyped-def]
    """Everything health calls unexpected goes, in the fabric's own
    namespaces: a stray link, address, routes (with and without a gateway,
    one in another table), a rule and a foreign nft table that blackholes
    traffic; a host's own table (its user's, set through host exec) stays.
    Connections not touched keep flowing: the plan's items are left alone."""
    api = make_lab()
    api.set_candidate(three())
    api.commit()
    seg, va, ha = f"{api.name}-s-prod@core", f"{api.name}-v-a", f"{api.name}-h-ha"
    assert reaches(api, "ha", "hb")
    ip("-n", va, "link", "add", "x.extra", "type", "bridge")
    ip("-n", va, "addr", "add", "10.1.9.1/24", "dev", "b.s1")
    ip("-n", seg, "route", "add", "10.99.0.0/16", "dev", "lo", "proto", "77")
    ip("-n", seg, "route", "add", "10.98.0.0/16", "via", "10.2.0.1", "dev", "v.b", "onlink", "proto", "77")
    ip("-n", seg, "route", "add", "10.97.0.0/16", "dev", "lo", "table", "100", "proto", "77")
    ip("-n", seg, "rule", "add", "priority", "555", "lookup", "100", "proto", "77")
    for ns in (seg, ha):
        subprocess.run(["ip", "netns", "exec", ns, "nft", "add table ip evil; add chain ip evil c1 { type filter hook forward priority -10; policy drop; }; "
                        "add chain ip evil c2 { type filter hook output priority -10; }"], check=True)  # fmt: skip
    assert not reaches(api, "ha", "hb")  # the stray table drops what the router forwards
    assert (seg, "table", "ip evil", "unexpected") in problems(api) and not any(p[0] == ha for p in problems(api))
    done = api.repair()
    text = "\n".join(done)
    for what in ("link x.extra", "address 10.1.9.1/24 on b.s1", "route 10.99.0.0/16", "route 10.98.0.0/16",
                 "route 10.97.0.0/16 table 100", "rule 555: lookup 100", "table ip evil"):
        assert f"removed unexpected {what} in " in text, (what, done)
    assert problems(api) == set()
    assert reaches(api, "ha", "hb") and reaches(api, "ha", "hc")
    assert "ip evil" in subprocess.run(["ip", "netns", "exec", ha, "nft", "list", "tables"], capture_output=True, text=True).stdout
    assert api.repair() == []  # nothing left to do


def test_health_reports_a_missing_policy_table(make_lab) -> None:  # type: ignore[no-untyped-def]
    api = make_lab()
    api.set_candidate(three())
    api.commit()
    seg = f"{api.name}-s-prod@core"
    subprocess.run(["ip", "netns", "exec", seg, "nft", "delete", "table", "inet", "vpclab"], check=True)
    assert problems(api) == {(seg, "table", "inet vpclab", "missing")}


def test_removing_what_is_already_gone_is_success(make_lab) -> None:  # type: ignore[no-untyped-def]
    api = make_lab()
    config = three()
    b = config.require("vpc", "b")
    api.set_candidate(config.put("vpc", replace(b, cidrs=(*b.cidrs, "10.20.0.0/16"))))
    api.commit()
    seg = f"{api.name}-s-prod@core"
    ip("-n", seg, "route", "del", "10.20.0.0/16")
    ip("-n", f"{api.name}-v-b", "route", "del", "unreachable", "10.20.0.0/16")
    api.set_candidate(config)  # `no cidr 10.20.0.0/16`: its routes are gone already
    api.commit()
    assert api.health().ok


def test_changing_a_host_whose_link_was_deleted_makes_the_link_again(make_lab) -> None:  # type: ignore[no-untyped-def]
    api = make_lab()
    api.set_candidate(three())
    api.commit()
    ip("-n", f"{api.name}-h-ha", "link", "del", "eth0")  # takes its veth peer in the VPC router along
    a = three().require("vpc", "a")
    api.set_candidate(three().put("vpc", replace(a, hosts=(replace(a.hosts[0], address="10.1.1.20"),))))
    result = api.commit()
    assert any(m.startswith("made again what had gone from the lab: link") for m in result.messages), result.messages
    assert api.health().ok
    assert api.probe("10.1.1.20", "hb").reachable and api.probe("hb", "ha").reachable


def test_a_missing_host_namespace_is_named_by_ping_and_host_exec(make_lab) -> None:  # type: ignore[no-untyped-def]
    api = make_lab()
    api.set_candidate(three())
    api.commit()
    subprocess.run(["ip", "netns", "del", f"{api.name}-h-ha"], check=True)
    message = (f"the namespace of host ha ({api.name}-h-ha) is missing from the lab (deleted outside vpclab?): "
               f"'show lab health' lists what else is missing, 'repair' makes it again")
    for call in (lambda: api.ping("hb", "ha", count=1), lambda: api.host_exec("ha", ["true"]),
                 lambda: api.probe("ha", "hb")):  # fmt: skip
        with pytest.raises(NotFoundError) as caught:
            call()
        assert str(caught.value) == message
    assert (f"{api.name}-h-ha", "namespace", f"{api.name}-h-ha", "missing") in problems(api)
    a = three().require("vpc", "a")
    api.set_candidate(three().put("vpc", replace(a, hosts=(replace(a.hosts[0], address="10.1.1.20"),))))
    api.commit()  # a change of the host makes its namespace again
    assert api.health().ok and api.probe("10.1.1.20", "hb").reachable


# --- kill -9 in the middle of a commit -----------------------------------------------

KILLED_COMMIT = textwrap.dedent(
    """
    import sys
    from engine.api import LabApi
    from engine.serial import from_data
    from lab.fabric import LinuxFabric
    import json
    name, after, first, second = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
    seen = []
    def count(op):
        seen.append(op)
        if len(seen) == after:
            print("now", flush=True)
            sys.stdin.read()  # killed here, half way
    api = LabApi(name, LinuxFabric(name))
    if first is not None:
        api.set_candidate(from_data(first))
        api.commit()
    def block(*args, **kwargs):
        print("now", flush=True)
        sys.stdin.read()  # killed here: the lab is the new one, running.json still the old one
    if after:
        api.fabric.fault = count  # the second commit only
    else:
        api.session.store.save_commit = block
    api.set_candidate(from_data(second))
    api.commit()
    """
)


def _kill_during(lab: str, first: Config | None, second: Config, after: int) -> None:
    import json

    from engine.serial import to_data

    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_COMMIT, lab, str(after), json.dumps(to_data(first) if first else None),
         json.dumps(to_data(second))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert proc.stdout and proc.stdout.readline().strip() == b"now"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def _normalised(lab: str) -> dict[str, str]:
    """Links, addresses, routes, rules and policy tables (counters aside) of
    every namespace, with the lab's name written LAB."""
    out = {ns[len(lab):]: repr(v).replace(lab, "LAB") for ns, v in kernel_state(lab + "-").items()}
    for ns in netns.list_names(lab + "-"):
        table = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "ruleset"], capture_output=True, text=True).stdout
        out[ns[len(lab):] + " nft"] = re.sub(r"packets \d+ bytes \d+", "", table).replace(lab, "LAB")
    return out


def changed() -> Config:
    """From three(): a VPC gone, one new with a service, a cidr below
    another's (its uplink address moves), a policy (tables reloaded)."""
    d = replace(vpc("d", "prod", "10.4.0.0/16", {"hd": "10.4.1.10"}, "east"), services=(Service("site", "http", "hd"),))
    prod = Segment("prod", policies=(PolicyEntry(10, "deny", "tcp", "any", "host 10.3.1.10", "eq 22"),))
    config = three().remove("vpc", "b").put("vpc", d).put("segment", prod)
    return config.put("vpc", replace(three().require("vpc", "a"), cidrs=("10.1.0.0/16", "9.1.0.0/16")))


CHANGED = changed()


@pytest.mark.parametrize("after", [2, 5, 7, 18, 28, 33, 34, 0])  # 0: after the kernel took it all, before it was recorded
def test_the_next_attach_after_a_kill_minus_9_brings_the_lab_back_exactly(state_dir: Path, after: int) -> None:
    lab, scratch = new_lab_name(), new_lab_name()
    try:
        _kill_during(lab, three(), CHANGED, after)
        assert LabStore(lab).marker("inflight") is not None
        attach = subprocess.run([VPCLAB, "--lab", lab, "-c", "show lab health"], capture_output=True, text=True, timeout=60)
        assert attach.returncode == 0, attach.stderr
        assert attach.stderr.startswith("% commit 2 (process ") and "did not finish: the lab was brought back to the " \
            "running configuration, commit 1 (" in attach.stderr, attach.stderr  # fmt: skip
        assert LabStore(lab).marker("inflight") is None
        api = LabApi(lab, LinuxFabric(lab))
        assert api.health().ok, api.health().rows()
        reference = LabApi(scratch, LinuxFabric(scratch))
        reference.set_candidate(three())
        reference.commit()
        built = _normalised(scratch)
        assert sum("table inet vpclab" in v for k, v in built.items() if k.endswith(" nft")) == 2  # both routers' tables compared
        assert _normalised(lab) == built  # exactly commit 1, as built from scratch
        assert not services.scan(services.marker(f"{lab}/"))  # the new commit's service is stopped
        api.set_candidate(CHANGED)
        assert api.commit().number == 2  # and commits work again
        assert api.health().ok and api.probe("hd", "ha").reachable
    finally:
        LabApi(lab, LinuxFabric(lab)).destroy()
        LabApi(scratch, LinuxFabric(scratch)).destroy()


def test_a_commit_recovers_a_dead_commit_first_and_says_so(state_dir: Path) -> None:
    lab = new_lab_name()
    try:
        _kill_during(lab, None, three(), 12)  # the first commit, from nothing
        assert netns.list_names(lab + "-")  # it made some namespaces before it died
        api = LabApi(lab, LinuxFabric(lab))
        api.set_candidate(three())
        result = api.commit()
        assert result.messages[0].startswith("% commit 1 (process ") and "commit 0 (" in result.messages[0]
        assert result.number == 1 and api.health().ok
    finally:
        LabApi(lab, LinuxFabric(lab)).destroy()
