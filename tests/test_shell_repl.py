"""The REPL through prompt-toolkit's pipe input: the ? key, TAB, Ctrl-C, modes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from shell.repl import Repl
from shell.state import ShellState
from tests.test_shell_support import BASE, Shell


def drive(tmp_path: Path, keys: str, setup: list[str] | None = None) -> tuple[list[str], ShellState]:
    """Type `keys` into a fresh REPL on a lab configured with BASE."""
    sh = Shell(tmp_path)
    sh.ok(*(setup or BASE))
    printed: list[str] = []
    with create_pipe_input() as inp:
        inp.send_text(keys)
        repl = Repl(sh.state, input=inp, output=DummyOutput(), history=InMemoryHistory(), emit=printed.append)
        repl.run()
    return printed, sh.state


def test_question_mark_answers_without_enter_and_keeps_the_line(tmp_path: Path) -> None:
    printed, _ = drive(tmp_path, "show ip ro?\x15show ?uting\x15exit\r")
    assert printed[0].splitlines()[0] == "t# show ip ro?"
    assert "route" in printed[0]
    assert "vpcs" in printed[1]


def test_tab_completes_keywords_and_names(tmp_path: Path) -> None:
    printed, _ = drive(tmp_path, "sh\tvpc w\t\rexit\r")
    assert any("10.1.0.0/16" in p for p in printed)  # ran `show vpc web`


def test_ctrl_c_cancels_the_line_and_ctrl_d_leaves(tmp_path: Path) -> None:
    printed, state = drive(tmp_path, "configure\rvpc web\r desc half typed\x03end\r\x04")
    assert state.mode == "exec"
    assert state.api.candidate.get("vpc", "web").description is None


def test_end_with_changes_asks(tmp_path: Path) -> None:
    printed, state = drive(tmp_path, "configure\rsegment dev\rend\rno\rexit\r")
    assert state.mode == "exec" and state.api.candidate.get("segment", "dev") is None


def test_errors_and_paging(tmp_path: Path) -> None:
    printed, _ = drive(tmp_path, "show vpcs bogus\rterminal length 3\rshow running-config\r q exit\r")
    assert "% Invalid input detected at '^' marker." in printed[0]
    assert printed[1].splitlines() == ["segment prod", "!"]  # first page (length - 1 lines), then --More--


def test_ctrl_d_in_configuration_mode_asks_first(tmp_path: Path) -> None:
    # Ctrl-D with changes: cancel stays; Ctrl-D again and 'no' drops them and leaves
    printed, state = drive(tmp_path, "configure\rsegment dev\r\x04cancel\rshow configuration\r\x04no\r")
    assert any("+ segment dev" in p for p in printed)  # still in the session after 'cancel'
    assert state.api.candidate.get("segment", "dev") is None and state.api.running.get("segment", "dev") is None
    printed, state = drive(tmp_path / "b", "configure\rsegment dev\r\x04yes\r")
    assert state.api.running.get("segment", "dev") is not None  # 'yes' commits on the way out
    assert any("Commit 2 done" in p for p in printed)


def test_a_confirmed_commit_rolled_back_is_announced_at_the_prompt(tmp_path: Path) -> None:
    sh = Shell(tmp_path)
    sh.ok(*BASE)
    printed: list[str] = []
    with create_pipe_input() as inp:
        inp.send_text("configure\rsegment dev\rcommit confirmed\rend\r")
        repl = Repl(sh.state, input=inp, output=DummyOutput(), history=InMemoryHistory(), emit=printed.append)
        ran = threading.Thread(target=repl.run)
        ran.start()
        deadline = time.monotonic() + 8
        while sh.api.pending_confirmation() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        sh.api.session.expire_confirmed(2)  # the deadline passes while the shell waits at its prompt
        while not any("rolled it back" in p for p in printed) and time.monotonic() < deadline:
            time.sleep(0.05)
        inp.send_text("exit\r")
        ran.join(5)
    assert "% Commit 2 was not confirmed in time: commit 3 rolled it back." in printed
    assert sh.api.running.get("segment", "dev") is None
