"""Two sessions on one lab (issue 10.2): a candidate edited from a running
configuration that another session has since replaced is refused
("configuration database modified"); `update` merges, `abort` discards."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings

from engine.errors import StaleCandidateError
from engine.merge import merge
from engine.model import Config, Segment
from tests.test_engine import base, configs
from tests.test_shell_support import BASE, Shell, make_api


def two(tmp_path: Path):  # type: ignore[no-untyped-def]
    a, b = make_api(tmp_path), make_api(tmp_path)
    a.set_candidate(base())
    a.commit()
    return a, b


def test_a_stale_candidate_cannot_overwrite_another_sessions_commit(tmp_path: Path) -> None:
    a, b = two(tmp_path)
    a.set_candidate(a.candidate.put("segment", Segment("qa")))  # A starts editing from commit 1
    b.set_candidate(b.candidate.put("segment", Segment("ops")))
    b.commit(comment="ops team")  # B commits 2
    with pytest.raises(StaleCandidateError) as caught:
        a.commit()
    assert caught.value.lines() == [
        "% configuration database modified: commit 2 by root (ops team) changed the running configuration after you "
        "started editing (your changes start from commit 1, the lab runs commit 2)",
        "% 'update' merges the running configuration into your changes, 'abort' discards them; 'show configuration' lists them",
    ]
    assert a.commit_number() == 2 and a.running.get("segment", "ops") is not None  # B's work stands
    with pytest.raises(StaleCandidateError):
        a.commit()  # still refused until merged or discarded
    start, merged = a.update()
    assert start == 1 and merged is not None and merged.conflicts == ()
    a.commit()
    assert {s.name for s in a.running.segments} == {"prod", "dev", "qa", "ops"}


def test_abort_discards_the_stale_edits(tmp_path: Path) -> None:
    a, b = two(tmp_path)
    a.set_candidate(a.candidate.remove("vpc", "web"))
    b.set_candidate(b.candidate.put("segment", Segment("ops")))
    b.commit()
    a.abort()
    assert a.candidate == b.running
    assert a.commit().number is None  # nothing to commit, nothing refused


def test_update_keeps_yours_where_both_changed_and_says_so(tmp_path: Path) -> None:
    a, b = two(tmp_path)
    web = base().require("vpc", "web")
    a.set_candidate(a.candidate.put("vpc", replace(web, description="mine")).remove("segment", "dev"))
    b.set_candidate(b.candidate.put("vpc", replace(web, description="theirs")).put("segment", Segment("dev", "theirs")))
    b.commit()
    start, merged = a.update()
    assert merged is not None and merged.conflicts == ("segment dev", "vpc web")
    assert a.candidate.require("vpc", "web").description == "mine" and a.candidate.get("segment", "dev") is None
    assert a.update() == (2, None)  # based on the running configuration now
    a.commit()
    assert a.commit_number() == 3


def test_without_edits_the_candidate_follows_other_commits(tmp_path: Path) -> None:
    a, b = two(tmp_path)
    b.set_candidate(b.candidate.put("segment", Segment("ops")))
    b.commit()
    assert a.candidate.get("segment", "ops") is not None
    a.set_candidate(a.candidate.put("segment", Segment("qa")))  # edits start from commit 2: nothing stale
    assert a.commit().number == 3


def test_a_rollback_in_another_session_makes_edits_stale(tmp_path: Path) -> None:
    a, b = two(tmp_path)
    b.set_candidate(b.candidate.put("segment", Segment("ops")))
    b.commit()
    a.set_candidate(a.candidate.put("segment", Segment("qa")))  # from commit 2
    b.rollback(1)  # commit 3: ops is gone again
    with pytest.raises(StaleCandidateError, match="commit 3 by root \\(rollback 1 \\(to commit 1\\)\\)"):
        a.commit()
    a.update()
    a.commit()
    assert {s.name for s in a.running.segments} == {"prod", "dev", "qa"}


def test_the_shell_says_so_and_update_merges(tmp_path: Path) -> None:
    one, other = Shell(tmp_path), Shell(tmp_path)
    one.ok(*BASE)
    other.ok("configure", "segment edits", "exit")  # edits from commit 1
    one.ok("configure", "segment ops", "commit", "end")
    out = other.run("commit")
    assert out.startswith("% configuration database modified: commit 2 by root changed the running configuration")
    assert "'update' merges" in out
    assert other.ok("update") == "Merged the running configuration (commit 2) into your changes, which started from commit 1."
    other.ok("commit")
    assert {s.name for s in other.api.running.segments} == {"prod", "ops", "edits"}
    assert other.ok("update") == "Your changes start from the running configuration (commit 3): nothing to merge."


@settings(max_examples=150, deadline=None)
@given(configs(), configs(), configs())
def test_merge_takes_each_side_where_only_it_changed(b: Config, m: Config, t: Config) -> None:
    assert merge(b, m, b).config == m
    assert merge(b, b, t).config == t
    merged = merge(b, m, t)
    for vpc in {v.name for c in (b, m, t) for v in c.vpcs}:
        was, mine, theirs, got = (c.get("vpc", vpc) for c in (b, m, t, merged.config))
        if mine != was:
            assert got == mine and ((theirs not in (was, mine)) == (f"vpc {vpc}" in merged.conflicts))
        else:
            assert got == theirs and f"vpc {vpc}" not in merged.conflicts
