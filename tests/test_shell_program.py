"""The vpclab program: -c, -f, apply, exit codes, --json; examples run as far as the engine goes."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from shell import main as program
from tests.paths import example
from tests.test_shell_support import make_api


def run(tmp_path: Path, *argv: str) -> int:
    return program.main(list(argv), make_api=lambda name: make_api(tmp_path, name))


def test_commands_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "-c", "configure", "-c", "segment prod", "-c", "commit") == 0
    assert run(tmp_path, "--json", "-c", "show segments") == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("["):])[0]["name"] == "prod"


def test_apply_that_only_removes_configuration_says_what_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 10.6: a prefix-list no share uses is configuration only."""
    lab = "segment prod\n!\nvpc a\n segment prod\n cidr 10.1.0.0/16\n subnet s 10.1.1.0/24\n!\n"
    (tmp_path / "with.cfg").write_text(lab + "prefix-list P seq 5 permit 10.0.0.0/8\n!\nprefix-list Q seq 5 permit 10.9.0.0/16\n!\n")
    (tmp_path / "without.cfg").write_text(lab)
    assert run(tmp_path, "apply", str(tmp_path / "with.cfg")) == 0
    capsys.readouterr()
    assert run(tmp_path, "apply", str(tmp_path / "without.cfg")) == 0
    out = capsys.readouterr().out
    assert "Commit 2 done in " in out and out.rstrip().endswith(
        "s: -prefix-list P, -prefix-list Q (configuration only, the lab is unchanged)."), out
    assert run(tmp_path, "apply", str(tmp_path / "without.cfg")) == 0
    assert "No changes" in capsys.readouterr().out


def test_script_stops_at_first_failing_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "s.cli"
    script.write_text("show vpcs\nshow bogus\nshow segments\n")  # the third line would print
    assert run(tmp_path, "-f", str(script)) == 1
    out, err = capsys.readouterr()
    assert err.startswith(f"{script}:2: % Invalid input detected at '^' marker.")
    assert "Nothing configured." in out and out.count("Nothing configured.") == 1  # line 1 ran, line 3 did not
    assert run(tmp_path, "--continue", "-f", str(script), "--lab", "other") == 1
    assert capsys.readouterr().out.count("Nothing configured.") == 2  # --continue ran line 3 too


def test_apply_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "lab.cfg"
    cfg.write_text("segment prod\n!\nvpc a\n segment prod\n cidr 10.1.0.0/16\n subnet s 10.1.1.0/24\n host h 10.1.1.10\n!\n")
    assert run(tmp_path, "apply", str(cfg)) == 0
    assert "Commit 1" in capsys.readouterr().out
    assert run(tmp_path, "apply", str(cfg)) == 0
    assert "No changes" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--lab", "Bad"], ["apply"], ["destroy", "x"], ["-c", "show", "demo"], ["nope"]])
def test_bad_arguments_exit_2(tmp_path: Path, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run(tmp_path, *argv)
    assert exc.value.code == 2


def test_missing_privilege_exits_3(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert program.main(["-c", "show vpcs"]) == 3
    assert "sudo" in capsys.readouterr().err


def test_missing_package_exits_3(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(program.shutil, "which", lambda tool: None if tool == "traceroute" else "/bin/x")
    assert program.main(["-c", "show vpcs"]) == 3
    assert "apt-get install -y traceroute" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["shared-services.cli", "overlapping-tenants.cli"])
def test_examples_run_until_the_first_assert(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Without a kernel every probe fails, so the first `assert reachable` fails with its line."""
    path = example(name)
    lines = path.read_text().splitlines()
    first_assert = next(i for i, ln in enumerate(lines, 1) if ln.startswith("assert reachable"))
    assert run(tmp_path, "-f", str(path)) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:{first_assert}: % assert failed"), err


@pytest.mark.parametrize("lines, message", [
    (["segment x", "policy 5 permit icmp any any eq 5"], "-c:3: % segment x policy 5: ports apply to tcp and udp only, not icmp"),
    (["segment x", "policy 5 permit tcp any any range 9 3"], "-c:3: % segment x policy 5: range 9 3 is reversed: write 'range 3 9'"),
    (["segment x", "policy 5 deny tcp 10.50.1.10/16 any"], "-c:3: % segment x policy 5: 10.50.1.10/16 has host bits set: use 10.50.0.0/16"),
    (["resource-share r", "nat end-a 10.1.0.0/16 to 10.2.0.0/24"], "sizes differ (/16 vs /24); 1:1 NAT needs the same length"),
    (["prefix-list P permit 10.0.0.0/8 ge 4"], "-c:2: % prefix-list P 10.0.0.0/8: ge 4 must be longer than /8 and at most 32"),
    (["vpc v", "cidr 10.1.1.0/16"], "-c:3: % vpc v cidr 10.1.1.0/16 has host bits set: use 10.1.0.0/16"),
    (["firewall f", "zone any segment s"], "-c:3: % firewall f zone any: zone name any is a word of the rule line"),
])
def test_a_line_wrong_on_its_own_is_refused_at_that_line(tmp_path: Path, lines: list[str], message: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["-c", "configure"] + [x for line in lines for x in ("-c", line)]
    assert run(tmp_path, *argv) == 1
    assert message in capsys.readouterr().err


class FakeStdin:
    """A non-terminal stdin holding bytes (`echo ... | vpclab`)."""

    def __init__(self, data: bytes):
        self.buffer = io.BytesIO(data)

    def isatty(self) -> bool:
        return False


def test_several_commands_with_json_give_one_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "--json", "-c", "configure", "-c", "segment prod", "-c", "commit", "-c", "end",
               "-c", "show segments", "-c", "show hosts") == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc) == 6 and doc[0] is None and doc[2]["commit"] == 1
    assert doc[4][0]["name"] == "prod" and doc[5] == []
    assert run(tmp_path, "--json", "-c", "show segments", "-c", "show ip ?", "-c", "configure", "-c", "segment x",
               "-c", "show bogus") == 1
    out, err = capsys.readouterr()
    doc = json.loads(out)  # one document, though the script ended in configuration mode with changes
    assert doc[0][0]["name"] == "prod" and doc[1][0].split()[0] == "route" and doc[4]["error"].startswith("  show bogus")
    assert "-c:5: % Invalid input" in err


def test_piped_stdin_is_a_script(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", FakeStdin(b"configure\nsegment prod\ncommit\nend\nshow segments\n"))
    assert run(tmp_path) == 0
    out = capsys.readouterr().out
    assert "prod" in out and "\x1b" not in out  # no terminal escape codes
    monkeypatch.setattr("sys.stdin", FakeStdin(b"show bogus\nshow segments\n"))
    assert run(tmp_path) == 1
    assert capsys.readouterr().err.startswith("stdin:1: % Invalid input")


def test_continue_skips_the_block_of_a_failed_header(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "s.cli"
    script.write_text("configure\nsegment prod\nvpc web\n segment prod\n cidr 10.1.0.0/16\nvpc bad!name\n segment spokes\n"
                      " cidr 10.9.0.0/16\nsegment dev\n description after the bad block\ncommit\n")
    assert run(tmp_path, "--continue", "-f", str(script)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{script}:6: % Invalid input")
    assert f"{script}:7: % skipped with the rest of its block: its header at {script}:6 failed" in err
    web = make_api(tmp_path, "vpclab").running.get("vpc", "web")
    assert web.segment == "prod" and web.cidrs == ("10.1.0.0/16",)  # the bad block's lines did not land on web
    assert make_api(tmp_path, "vpclab").running.get("segment", "dev").description == "after the bad block"


def test_exit_statuses_agree_across_f_c_and_apply(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "missing.cli")
    assert run(tmp_path, "-f", missing) == 2
    assert run(tmp_path, "apply", missing) == 2
    assert capsys.readouterr().err.count(f"vpclab: cannot read {missing}: No such file or directory") == 2
    script, bad = tmp_path / "bad.cli", tmp_path / "bad.cfg"
    script.write_text("configure\nsegment prod\n bogus line\n")
    bad.write_text("segment prod\n bogus line\n")
    assert run(tmp_path, "-f", str(script)) == 1
    assert run(tmp_path, "apply", str(bad)) == 1
    assert run(tmp_path, "-c", "configure", "-c", "segment prod", "-c", " bogus line") == 1
    err = capsys.readouterr().err
    assert f"{script}:3: % Invalid input" in err and f"{bad}:2: % Invalid input" in err and "-c:3: % Invalid input" in err


def test_destroy_of_a_lab_that_does_not_exist_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "--lab", "nolab", "destroy") == 1
    assert "% lab nolab does not exist: nothing to destroy" in capsys.readouterr().err
    assert run(tmp_path, "--lab", "real", "-c", "configure", "-c", "segment prod", "-c", "commit") == 0
    assert run(tmp_path, "--lab", "real", "destroy") == 0
    assert "Destroyed lab real" in capsys.readouterr().out
    assert run(tmp_path, "--lab", "real", "destroy") == 1


def test_list_shows_commit_hubs_vpcs_namespaces_and_health(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VPCLAB_STATE_DIR", str(tmp_path))
    cfg = tmp_path / "lab.cfg"
    cfg.write_text("cxp east\n cloud aws\n!\nsegment prod\n!\nvpc a\n segment prod\n cidr 10.1.0.0/16\n"
                   " subnet s 10.1.1.0/24\n host h 10.1.1.10\n!\n")
    assert run(tmp_path, "--lab", "one", "apply", str(cfg)) == 0
    capsys.readouterr()
    assert run(tmp_path, "list", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"lab": "one", "commit": 1, "hubs": ["core", "east"], "vpcs": 1, "namespaces": 3, "health": "ok",
                     "problems": 0}]
    assert run(tmp_path, "list") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["lab", "commit", "hubs", "vpcs", "namespaces", "health"]
    assert table[2].split() == ["one", "1", "core,", "east", "1", "3", "ok"]


def test_demo_builds_its_own_lab_and_keeps_an_edited_one(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from shell.demo import DEMO_CONFIG
    from shell.loader import parse_config

    monkeypatch.setattr("sys.stdin", FakeStdin(b""))
    assert run(tmp_path, "demo") == 0
    demo = make_api(tmp_path, "demo")
    assert demo.running == parse_config(DEMO_CONFIG) and "Built the demo lab demo" in capsys.readouterr().out
    assert run(tmp_path, "demo") == 0  # the demo again: nothing to do
    assert run(tmp_path, "--lab", "demo", "-c", "configure", "-c", "segment mine", "-c", "commit") == 0
    capsys.readouterr()
    assert run(tmp_path, "demo") == 1
    err = capsys.readouterr().err
    assert "% lab demo holds a configuration that is not the demo's (commit 2); nothing was changed." in err
    assert "'vpclab --lab demo demo --replace' replaces it" in err
    assert make_api(tmp_path, "demo").running.get("segment", "mine") is not None
    assert run(tmp_path, "demo", "--replace") == 0
    assert make_api(tmp_path, "demo").running == parse_config(DEMO_CONFIG)
    assert make_api(tmp_path, "vpclab").running.is_empty()  # the default lab was never touched


def test_monitor_of_a_lab_that_does_not_exist_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert run(tmp_path, "--lab", "nolab", "monitor") == 1
    assert "% lab nolab does not exist: nothing to monitor" in capsys.readouterr().err
