"""The interactive shell owns its terminal's interrupts.

Started from `make demo` (or any program that waits for it), vpclab shares
its parent's process group, so a Ctrl-C meant for `host X exec ping` also
reached make, which then ended with status 130 when the shell exited. An
interactive shell takes a process group of its own and makes it the
terminal's foreground group, as a job-control shell does for its jobs, and
gives the terminal back on the way out. Ctrl-Z is ignored while it owns the
terminal: a stopped shell in a group its parent does not know of could
never be resumed.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager


def _set_foreground(fd: int, pgrp: int) -> None:
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # we may be in the background meanwhile
    try:
        os.tcsetpgrp(fd, pgrp)
    finally:
        signal.signal(signal.SIGTTOU, previous)


def _take(fd: int) -> int | None:
    """Become the foreground group of terminal `fd`; the group that was, or
    None when there is nothing to take (not a terminal, a session leader)."""
    try:
        before = os.tcgetpgrp(fd)
        if os.getpid() == os.getsid(0):  # a session leader leads its group already
            return None
        os.setpgid(0, 0)
        _set_foreground(fd, os.getpgrp())
        return before
    except OSError:
        return None


@contextmanager
def own_terminal(fd: int) -> Iterator[None]:
    """Inside the block, Ctrl-C and Ctrl-Z at terminal `fd` reach this process only."""
    before = _take(fd)
    if before is None:
        yield
        return
    stop = signal.signal(signal.SIGTSTP, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGTSTP, stop)
        try:
            _set_foreground(fd, before)
        except OSError:
            pass
