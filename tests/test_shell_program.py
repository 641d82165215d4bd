"""The vpclab program: -c, -f, apply, exit codes, --json; examples run as far as the engine goes."""

from __future__ import annotations

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
])
def test_a_line_wrong_on_its_own_is_refused_at_that_line(tmp_path: Path, lines: list[str], message: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["-c", "configure"] + [x for line in lines for x in ("-c", line)]
    assert run(tmp_path, *argv) == 1
    assert message in capsys.readouterr().err
