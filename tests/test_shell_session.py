"""What an IOS-XR or Junos engineer expects of a session (issue 15): modes that
stay put, help by position, reasons for bad values, carets into the whole
line, history that names changes, confirmed commits and rollback by number."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from shell.grammar.words import GLOSSARY
from tests.test_shell_support import BASE, Shell


@pytest.fixture
def sh(tmp_path: Path) -> Shell:
    s = Shell(tmp_path)
    s.ok(*BASE)
    return s


def helps(sh: Shell, line: str) -> dict[str, str]:
    return {ln.split(None, 1)[0]: (ln.split(None, 1) + [""])[1] for ln in sh.interp.help_lines(line)}


def test_session_commands_keep_the_submode(sh: Shell) -> None:
    sh.ok("configure", "vpc web", " host web2 10.1.1.11")
    for line in ("show configuration", "show running-config vpc web", "commit check", "commit"):
        sh.ok(line)
        assert (sh.state.mode, sh.state.name) == ("config-vpc", "web"), line
    sh.ok(" host web3 10.1.1.12")  # the next sub-line lands on the vpc
    assert {h.name for h in sh.api.candidate.get("vpc", "web").hosts} == {"web1", "web2", "web3"}
    sh.ok("abort")
    assert sh.state.mode == "exec"


def test_show_running_config_of_an_uncommitted_object_says_so(sh: Shell) -> None:
    sh.ok("configure", "vpc api", " segment prod")
    assert sh.ok("show running-config vpc api") == ("vpc api is only in the candidate configuration, not committed yet: "
                                                    "'show configuration' lists it")
    assert sh.run("show running-config vpc nope") == "% vpc nope does not exist"


def test_question_mark_in_a_submode_lists_what_works_there(sh: Shell) -> None:
    sh.ok("configure", "vpc web")
    here = helps(sh, "")
    assert {"commit", "show", "abort", "end", "do", "exit", "subnet", "host", "no"} <= set(here)
    assert here["commit"] == "Apply the candidate configuration to the lab"


def test_help_belongs_to_the_position(sh: Shell) -> None:
    assert not [w for w, h in GLOSSARY.items() if " / " in h]  # one meaning per glossary line
    assert helps(sh, "show ")["commit"] == "The commit history"
    assert helps(sh, "")["commit"] == "Apply the candidate configuration to the lab"
    assert helps(sh, "show ")["ip"] == "IP routing information"
    assert helps(sh, "ping web1 from web1 ")["count"].startswith("Number of echos")
    assert helps(sh, "show vpcs | ")["count"] == "Count the output lines"
    assert helps(sh, "configure ")["terminal"] == "Configure from the terminal"
    assert helps(sh, "")["terminal"] == "Settings of this terminal session"
    sh.ok("configure", "segment prod")
    assert helps(sh, "policy 10 permit ")["ip"] == "Any IP protocol"


def test_question_mark_lists_existing_names_beside_the_placeholder(sh: Shell) -> None:
    sh.ok("configure", "vpc api", " segment prod", "exit")
    here = helps(sh, "vpc ")
    assert {"WORD", "web", "api"} <= set(here)
    assert "web" in helps(sh, "do show vpc ")


@pytest.mark.parametrize("line, why", [
    ("configure\nvpc web\n cidr 10.300.0.0/16", "% 10.300.0.0/16 is not an IPv4 prefix: 300 is above 255"),
    ("configure\nsegment prod\n policy 10 permit tcp any any eq 99999", "% Port number <1-65535>: 99999 is out of range (1-65535)"),
    ("rollback 0", "% How many commits back <1-100>: 0 is out of range (1-100)"),
    ("configure\nvpc web\n host h2 10.1.1.010", "% 10.1.1.010 is not an IPv4 address: 010 has a leading zero"),
    ("ping web1 from web1 count 0", "% Number of echos to send (default 5) <1-1000>: 0 is out of range (1-1000)"),
])
def test_a_bad_value_says_why(sh: Shell, line: str, why: str) -> None:
    *setup, last = line.split("\n")
    sh.ok(*setup)
    out = sh.run(last).splitlines()
    assert out[2] == "% Invalid input detected at '^' marker." and out[3] == why, out


def test_carets_point_into_the_whole_line(sh: Shell) -> None:
    sh.ok("configure", "vpc web")
    for line, bad in [(" do show vpcs bogus", "bogus"), ("do show ip rout x", "x"), ("show running-config | inclde x", "inclde"),
                      ("do show hosts | include x | cuont", "cuont")]:
        out = sh.run(line).splitlines()
        assert out[0] == "  " + line.strip()
        assert out[1].index("^") == out[0].index(bad), (line, out)


def test_columns_use_the_configuration_words(sh: Shell) -> None:
    assert "micro-segmentation" in sh.ok("show vpcs")
    assert "vpc-routers" in sh.ok("show lab")
    assert '"micro_segmentation": false' in sh.ok("show vpcs | json")  # JSON keeps snake_case


def test_history_names_configuration_changes(sh: Shell) -> None:
    sh.ok("configure", "segment dev", "vpc web", " description front", "commit comment two", "end")
    rows = json.loads(sh.ok("show commit history | json"))
    assert rows[0]["configuration"] == ["+segment dev", "~vpc web"] and rows[0]["lab"] == {}
    assert rows[1]["configuration"] == ["+segment prod", "+vpc web"]
    text = sh.ok("show commit history")
    assert "+segment dev, ~vpc web" in text and "unchanged" in text
    sh.ok("rollback")
    assert json.loads(sh.ok("show commit history | json"))[0]["configuration"] == ["-segment dev", "~vpc web"]


def test_rollback_to_a_commit_by_number(sh: Shell) -> None:
    sh.ok("configure", "segment dev", "commit", "segment test", "commit", "end")
    assert sh.api.commit_number() == 3
    assert "Commit 4 done" in sh.ok("rollback to 1")
    assert sh.api.running.get("segment", "dev") is None and sh.api.running.get("vpc", "web") is not None
    assert json.loads(sh.ok("show commit history | json"))[0]["comment"] == "rollback to commit 1"
    sh.ok("rollback to 0")
    assert sh.api.running.is_empty()
    assert sh.run("rollback to 9").startswith("% rollback to 9: there is no commit 9")


def test_commit_confirmed_waits_ten_minutes_by_default_and_history_marks_it(sh: Shell) -> None:
    sh.ok("configure", "segment dev")
    out = sh.ok("commit confirmed")
    assert "Rolls back in 600 s unless confirmed by 'commit'." in out
    number, deadline = sh.api.pending_confirmation() or (0, 0.0)
    assert number == 2 and 590 < deadline - time.time() <= 600
    text = sh.ok("do show commit history")
    assert text.startswith("* commit 2 waits for confirmation: it rolls back at") and "2*" in text
    assert json.loads(sh.ok("do show commit history | json"))[0]["pending_confirmation"] is True
    assert "commit 2 confirmed" in sh.ok("commit")
    assert sh.api.pending_confirmation() is None and "2*" not in sh.ok("do show commit history")


def test_a_confirmed_commit_not_confirmed_is_rolled_back_and_recorded_so(sh: Shell) -> None:
    sh.ok("configure", "segment dev", "commit confirmed 600", "end")
    assert sh.api.session.expire_confirmed(2)  # what the watcher does at the deadline
    record = sh.api.history()[0]
    assert (record.number, record.expired, record.config_changes) == (3, 2, ("-segment dev",))
    assert sh.api.running.get("segment", "dev") is None
