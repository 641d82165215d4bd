"""The real program in a pseudo-terminal, as a user meets it (issue 15): output
that streams, Ctrl-C that ends a command and everything it started (and
reaches neither make nor the shell's parent), Ctrl-D that asks, IOS-style
ping and named traceroute hops, and a confirmed commit's rollback announced
in every open shell of the lab."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from shell import main as program
from tests.conftest import new_lab_name

pytestmark = pytest.mark.lab

VPCLAB = str(Path(sys.executable).with_name("vpclab"))
TWO_VPCS = """\
segment prod
!
vpc web
 segment prod
 cidr 10.1.0.0/16
 subnet front 10.1.1.0/24
 host web1 10.1.1.10
!
vpc api
 segment prod
 cidr 10.2.0.0/16
 subnet app 10.2.1.0/24
 host api1 10.2.1.10
!
"""


def spawn(command: str, args: list[str], home: Path) -> pexpect.spawn:
    # no cursor-position requests: a pexpect terminal never answers them, and
    # prompt-toolkit would wait for each answer
    env = {**os.environ, "TERM": "xterm", "HOME": str(home), "PROMPT_TOOLKIT_NO_CPR": "1"}
    return pexpect.spawn(command, args, encoding="utf-8", timeout=20, dimensions=(40, 160), env=env, cwd=str(home))


def processes_in(ns: str) -> str:
    return subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.strip()


def test_a_session_under_make(state_dir: Path, tmp_path: Path) -> None:
    lab = new_lab_name()
    cfg = tmp_path / "lab.cfg"
    cfg.write_text(TWO_VPCS)
    makefile = tmp_path / "Makefile"
    makefile.write_text(f".PHONY: shell\nshell:\n\t{VPCLAB} --lab {lab}\n")
    child = None
    try:
        assert program.main(["--lab", lab, "apply", str(cfg)]) == 0
        child = spawn("make", ["-s", "-f", str(makefile)], tmp_path)
        child.expect_exact(f"{lab}#")
        # host exec streams while the command runs, and Ctrl-C ends it with all it started
        child.send("host web1 exec sh -c 'ping -i 0.2 10.2.1.10 & sleep 60'\r")
        child.expect("icmp_seq=3 ")
        assert processes_in(f"{lab}-h-web1")
        child.sendcontrol("c")
        child.expect_exact("% Interrupted.")
        child.expect_exact(f"{lab}#")
        assert processes_in(f"{lab}-h-web1") == ""
        # ping as IOS prints it, traceroute with each hop named
        child.send("ping api1 from web1 count 3\r")
        child.expect_exact("Sending 3 ICMP echos to 10.2.1.10 (api1) from web1, timeout is 1 s:")
        child.expect(r"!!!\r\nSuccess rate is 100 percent \(3/3\), round-trip min/avg/max = [\d.]+/[\d.]+/[\d.]+ ms")
        child.send("traceroute api1 from web1\r")
        for hop in (r"1 10\.1\.1\.1 +vpc web router \(hub core\)", r"2 169\.254\.\S+ +segment prod router \(hub core\)",
                    r"3 10\.2\.0\.1 +vpc api router \(hub core\)", r"4 10\.2\.1\.10 +host api1"):
            child.expect(hop)
        child.expect_exact(f"{lab}#")
        # Ctrl-D in a configuration mode with changes asks, as end and exit do
        child.send("configure\rsegment dev\r")
        child.expect_exact(f"{lab}(config-segment)#")
        child.sendcontrol("d")
        child.expect_exact("commit them before exiting(yes/no/cancel)? [cancel]:")
        child.send("cancel\r")
        child.expect_exact(f"{lab}(config-segment)#")
        child.sendcontrol("d")
        child.expect_exact("(yes/no/cancel)? [cancel]:")
        child.send("no\r")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0  # make saw neither the Ctrl-C nor a failure
    finally:
        if child is not None:
            child.close(force=True)
        program.main(["--lab", lab, "destroy"])


def test_a_confirmed_commit_rolled_back_is_announced_in_every_open_shell(state_dir: Path, tmp_path: Path) -> None:
    lab = new_lab_name()
    shells = []
    try:
        for _ in range(2):
            shells.append(spawn(VPCLAB, ["--lab", lab], tmp_path))
            shells[-1].expect_exact(f"{lab}#")
        a, b = shells
        a.send("configure\rsegment dev\rcommit confirmed 1\rend\r")
        a.expect_exact("Rolls back in 1 s unless confirmed by 'commit'.")
        b.expect(r"% Commit 1 was made by \S+ in another session\.")
        for shell in shells:
            shell.expect_exact("% Commit 1 was not confirmed in time: commit 2 rolled it back.", timeout=10)
        for shell in shells:
            shell.send("exit\r")
            shell.expect(pexpect.EOF)
    finally:
        for shell in shells:
            shell.close(force=True)
        program.main(["--lab", lab, "destroy"])
