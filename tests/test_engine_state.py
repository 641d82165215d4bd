"""Damaged state files (issue 10.8): every command names the damaged file
and the way to recover; destroy always works; the recovery said works."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.errors import DamagedStateError
from shell import main as program
from tests.test_shell_support import BASE, Shell, make_api

Damage = Callable[[Path], None]


def _write(text: str | bytes) -> Damage:
    def damage(path: Path) -> None:
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)

    return damage


def _truncate(path: Path) -> None:
    path.write_text(path.read_text()[: len(path.read_text()) // 2])


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _retype(key: str, value: object) -> Damage:
    def damage(path: Path) -> None:
        data = json.loads(path.read_text())
        target = data
        *parents, last = key.split(".")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[int(last) if isinstance(target, list) else last] = value
        path.write_text(json.dumps(data))

    return damage


RUNNING_DAMAGE: dict[str, tuple[Damage, str]] = {
    "empty": (_write(""), "empty"),
    "truncated": (_truncate, "not JSON, or cut short"),
    "a directory": (_directory, "a directory, not a file"),
    "not UTF-8": (_write(b'{"number":1,"config":{"\xff"}'), "not UTF-8 text"),
    "not an object": (_write("[1, 2]"), "no commit number"),
    "a string number": (_retype("number", "1"), "no commit number"),
    "a boolean number": (_retype("number", True), "no commit number"),
    "vpcs not a list": (_retype("config.vpcs", "web"), "config.vpcs: expected a list, found str"),
    "cidrs a string": (_retype("config.vpcs.0.cidrs", "10.1.0.0/16"), "config.vpcs[0].cidrs: expected a list, found str"),
    "a name of the wrong type": (_retype("config.vpcs.0.name", 5), "config.vpcs[0].name: expected a string, found int"),
    "a name with a newline": (_retype("config.vpcs.0.name", "web\nvpc evil"), "text no configuration may hold: vpc web\\x0avpc evil: invalid name"),
    "an escape in a description": (_retype("config.segments.0.description", "\x1b[2J"), "segment prod: description: ESC (U+001B) at column 1"),
    # values of the right type that no commit accepts (the plan used to leave their objects out without a word)
    "a host outside its subnet": (_retype("config.vpcs.0.hosts.0.address", "8.8.8.8"),
                                  "a configuration no commit would accept: vpc web host web1: 8.8.8.8"),
    "a vpc in no segment known": (_retype("config.vpcs.0.segment", "nowhere"), "a configuration no commit would accept: vpc web"),
}


def committed(tmp_path: Path) -> Shell:
    sh = Shell(tmp_path / "state")
    sh.ok(*BASE)
    sh.ok("configure", "segment prod", " description first", "commit", "end")
    return sh


@pytest.mark.parametrize("how", RUNNING_DAMAGE, ids=list(RUNNING_DAMAGE))
def test_a_damaged_running_json_is_named_with_its_recovery(tmp_path: Path, how: str) -> None:
    damage, problem = RUNNING_DAMAGE[how]
    committed(tmp_path)
    running = tmp_path / "state" / "t" / "running.json"
    damage(running)
    api = make_api(tmp_path / "state")  # attaching never fails: destroy must stay possible
    for command in (lambda: api.running, lambda: api.commit(), lambda: api.commit_number(), api.health):
        with pytest.raises(DamagedStateError) as caught:
            command()
        assert caught.value.path == str(running)
        assert problem in str(caught.value), str(caught.value)
    recovery = caught.value.recovery
    assert recovery.startswith(f"'cp {tmp_path}/state/t/history/000002.json {running}' restores commit 2, the newest")
    if running.is_dir():
        running.rmdir()
    subprocess.run(shlex.split(recovery.split("'")[1]), check=True)  # the recovery said works
    again = make_api(tmp_path / "state")
    assert again.commit_number() == 2 and again.running.require("segment", "prod").description == "first"


def test_destroy_works_whatever_the_damage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    committed(tmp_path)
    state = tmp_path / "state" / "t"
    for name in ("running.json", "confirm.json", "inflight.json", "history/000001.json"):
        (state / name).write_text("{")
    assert program.main(["--lab", "t", "-c", "show vpcs"], make_api=lambda n: make_api(tmp_path / "state", n)) == 1
    err = capsys.readouterr().err
    assert f"% the state file {state}/running.json is damaged (not JSON, or cut short" in err
    assert program.main(["--lab", "t", "destroy"], make_api=lambda n: make_api(tmp_path / "state", n)) == 0
    assert "Destroyed lab t" in capsys.readouterr().out
    assert not state.exists()


def test_a_truncated_history_entry_is_named_and_can_be_left_out(tmp_path: Path) -> None:
    sh = committed(tmp_path)
    entry = tmp_path / "state" / "t" / "history" / "000001.json"
    _truncate(entry)
    out = sh.run("show commit history")
    assert out.startswith(f"% the state file {entry} is damaged (not JSON, or cut short: ")
    assert out.endswith(f"that commit cannot be shown or rolled back to; 'rm {entry}' leaves it out")
    assert f"the state file {entry} is damaged" in sh.run("rollback to 1")
    entry.unlink()
    assert "damaged" not in sh.run("show commit history")
    assert [r.number for r in sh.api.history()] == [2]
    assert sh.api.commit_number() == 2


@pytest.mark.parametrize("content, problem", [
    ("{", "not JSON, or cut short"),
    ('{"number": "2", "previous": 1, "deadline": 5}', "field number missing or of the wrong type"),
    ('{"number": 2, "previous": 1}', "field deadline missing or of the wrong type"),
    ("[]", "not an object"),
])  # fmt: skip
def test_a_damaged_confirm_json_is_named_and_can_be_removed(tmp_path: Path, content: str, problem: str) -> None:
    sh = committed(tmp_path)
    marker = tmp_path / "state" / "t" / "confirm.json"
    marker.write_text(content)
    api = make_api(tmp_path / "state")
    with pytest.raises(DamagedStateError, match=problem) as caught:
        api.pending_confirmation()
    assert caught.value.recovery == f"'rm {marker}' removes it (the confirmed commit then stays, without its automatic rollback)"
    assert "damaged" in sh.run("show commit history")
    marker.unlink()
    assert api.pending_confirmation() is None and "damaged" not in sh.run("show commit history")


def test_the_state_directory_itself_replaced_by_a_file(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "t").write_text("not a directory")
    api = make_api(tmp_path / "state")
    with pytest.raises(DamagedStateError, match="running.json is damaged"):
        api.running
    assert api.destroy().removed == 0
    assert not (tmp_path / "state").exists()  # nor the root it was the last of


def test_a_running_json_with_values_out_of_range_is_damaged_and_never_planned(tmp_path: Path) -> None:
    """The hostile trial's file: firewall instances 200 and an snat-address
    outside the documentation ranges read as they were, and the plan left
    the firewall and the edge out: a repair would have torn them down."""
    sh = committed(tmp_path)
    sh.ok("configure", "firewall fws", " instances 2", " zone a segment prod", " exit", "internet inet", " segment prod",
          " snat-address 198.51.100.1", " exit", "commit", "end")
    running = tmp_path / "state" / "t" / "running.json"
    data = json.loads(running.read_text())
    data["config"]["firewalls"][0]["instances"] = 200
    data["config"]["internets"][0]["snat_address"] = "8.8.8.8"
    running.write_text(json.dumps(data))
    again = Shell(tmp_path / "state")
    again.api.fabric.plan = sh.api.fabric.plan  # type: ignore[attr-defined]  # the lab as built
    for command in ("show firewalls", "show internet", "show lab health", "repair"):
        out = again.run(command)
        assert out.startswith(f"% the state file {running} is damaged (a configuration no commit would accept: "
                              "firewall fws: instances 200 is out of range (1-8) (and 1 more)): "
                              f"'cp {tmp_path}/state/t/history/000003.json {running}' restores commit 3"), (command, out)
    assert again.api.fabric.plan is sh.api.fabric.plan  # type: ignore[attr-defined]  # nothing torn down
