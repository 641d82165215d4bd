"""The real program in a pseudo-terminal: type `?`, TAB and a command, read the screen."""

from __future__ import annotations

import sys
from pathlib import Path

import pexpect
import pytest

VPCLAB = str(Path(sys.executable).with_name("vpclab"))


@pytest.mark.lab
def test_question_mark_tab_and_a_command_in_a_terminal() -> None:
    child = pexpect.spawn(VPCLAB, ["--lab", "shelle2e"], encoding="utf-8", timeout=20,
                          dimensions=(40, 120), env={"TERM": "xterm", "HOME": "/tmp/vpclab-e2e-home", "PROMPT_TOOLKIT_NO_CPR": "1",
                                                     "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    try:
        child.expect_exact("shelle2e#")
        child.send("show ?")
        child.expect("running-config +The committed configuration")
        child.send("\x15conf\t")  # Ctrl-U, then TAB completes 'configure '
        child.expect_exact("configure")  # redrawn in place: only the completed word is written
        child.send("\r")
        child.expect_exact("shelle2e(config)#")
        child.send("show configuration\r")
        child.expect("No uncommitted changes")
        child.send("end\rexit\r")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
