"""The read side on a real lab: monitor threads poll every view while the
shell commits, and none of them fails or sees half a state."""

from __future__ import annotations

import pytest

from engine.model import PolicyEntry, Segment
from engine.reader import LabReader
from engine.store import LabStore
from lab.fabric import LinuxFabric
from tests.labutil import fabric, vpc
from tests.polling import poll_during

pytestmark = pytest.mark.lab


def test_threads_poll_every_view_while_commits_land(make_lab):
    api = make_lab()
    base = fabric(["prod"], ["core", "east"], [
        vpc("a", "prod", "10.1.0.0/16", {"ha": "10.1.1.10"}),
        vpc("b", "prod", "10.2.0.0/16", {"hb": "10.2.1.10"}, "east"),
    ])  # fmt: skip
    api.set_candidate(base)
    api.commit()
    monitor = LabReader(api.name, LinuxFabric(api.name), LabStore(api.name))  # as the monitor process builds it
    grown = base.put("vpc", vpc("c", "prod", "10.3.0.0/16", {"hc": "10.3.1.10"}))
    guarded = grown.put("segment", Segment("prod", default_action="deny", policies=(PolicyEntry(10, "permit", "icmp", "any", "any"),)))

    def commits() -> None:
        for config in (grown, guarded, base):
            api.set_candidate(config)
            api.commit()

    seen, errors = poll_during(monitor, 4, commits)
    assert errors == []
    assert len({s.number for s in seen}) >= 2  # the polls overlapped the commits
    snap = monitor.snapshot()
    assert snap.number == 4 and snap.config == base
    assert all(r["installed"] for r in monitor.routes(snap)) and monitor.health(snap).ok
    assert api.probe("hb", "ha").reachable
