"""The built-in demo lab: its stories hold with real packets, through the real program."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import netns, services
from shell import main as program
from tests.conftest import new_lab_name

pytestmark = pytest.mark.lab

STORIES = """\
assert reachable pdb1 from pweb1
assert reachable pdb1 from pweb1 protocol tcp port 5432
assert unreachable pdb1 from pweb1 protocol tcp port 22
assert unreachable dweb1 from pweb1
assert reachable ad1 from dweb1 protocol tcp port 389
assert reachable ad1 from pweb1 protocol tcp port 389
assert reachable dns1 from pdb1 protocol udp port 53
assert unreachable pweb1 from ad1
assert unreachable dweb1 from dns1
assert reachable 172.31.255.10 from alice protocol tcp port 80
assert reachable 172.31.255.10 from bill protocol tcp port 80
assert unreachable 100.64.2.10 from alice
assert reachable s2app from s1web protocol tcp port 8080
assert unreachable s2app from s1web protocol tcp port 22
assert reachable web-out from s1web protocol tcp port 80
assert reachable 198.51.100.10 from web-out protocol tcp port 80
assert unreachable s2app from web-out protocol tcp port 8080
assert reachable 10.4.1.20 from pweb1 protocol tcp port 443
assert reachable 10.4.1.20 from dweb1 protocol tcp port 443
assert unreachable 10.4.1.20 from alice protocol tcp port 443
"""


def test_demo_stories(state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    lab = new_lab_name()
    script = tmp_path / "stories.cli"
    script.write_text(STORIES + f"host pweb1 exec dig @10.4.1.53 pdb1.{lab}. +short +time=1\n"
                      f"host dweb1 exec dig @10.4.1.53 objstore.{lab}. +short +time=1\nshow endpoints\nshow policy hits segment prod nonzero\nshow log\n")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    try:
        assert program.main(["--lab", lab, "-c", "exit"]) == 0
        from shell.demo import DEMO_CONFIG

        cfg = tmp_path / "demo.cfg"
        cfg.write_text(DEMO_CONFIG)
        assert program.main(["--lab", lab, "apply", str(cfg)]) == 0
        capsys.readouterr()
        assert program.main(["--lab", lab, "-f", str(script)]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert out.count("ok: ") == STORIES.count("assert")
        assert "10.11.1.10" in out  # the dig answer
        assert "\n10.4.1.20\n" in out  # the endpoint's name, answered for a NAT'ed asker of another segment
        assert "objstore   objstore-ep   svc   10.4.1.20   443" in out  # show endpoints
        assert "segment prod 10 permit tcp 10.10.1.10:" in out  # the log line of entry 10
        assert "firewall fw1 100 deny tcp 10.40.1.10:" in out  # the firewall's denial of port 22, logged
    finally:
        program.main(["--lab", lab, "destroy"])
        assert not netns.list_names(lab + "-")
        assert not services.scan(services.marker(lab + "/"))
