"""Run a command inside a namespace, bounded in time, its output streamed.

`ip netns exec` rather than setns in a child: it also gives the command the
namespace's /etc/netns files and a matching /sys, as users expect. The
command leads a session of its own (so the terminal's signals never reach
it directly); the caller's interrupt (KeyboardInterrupt) or the time limit
kills that whole process group, so nothing it started outlives it.
"""

from __future__ import annotations

import codecs
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable

TIMED_OUT = 124  # as timeout(1)
NOT_FOUND = 127  # as the shell
# After a kill, how long the output may take to drain.
DRAIN_SECONDS = 1.0
CHUNK = 65536


def check_ns(name: str) -> None:
    """Refuse names that are not a plain namespace name under /run/netns."""
    if not name or "/" in name or name in (".", "..") or not os.path.exists(f"/run/netns/{name}"):
        raise ValueError(f"no network namespace named {name!r}")


def exec_in(ns: str, argv: list[str], timeout: float = 10.0, output: Callable[[str], None] | None = None) -> tuple[int, str]:
    """Run `argv` inside namespace `ns`; (exit status, stdout and stderr together).

    `output` receives the output as it arrives. On timeout the process
    started here, and the process group it leads, are killed and the status
    is 124; on KeyboardInterrupt they are killed and the interrupt goes on.
    """
    check_ns(ns)
    if not argv:
        raise ValueError("no command to run")
    try:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return NOT_FOUND, f"{exc}\n"
    chunks: list[str] = []

    def take(text: str) -> None:
        if text:
            chunks.append(text)
            if output is not None:
                output(text)

    try:
        finished = _pump(proc, time.monotonic() + timeout, take)
    except BaseException:  # KeyboardInterrupt above all: end what we started, then go on
        kill_started(proc)
        drain(proc)
        raise
    if not finished:
        kill_started(proc)
        take(drain(proc) + f"\n(killed after {timeout:g} s)\n")
        return TIMED_OUT, "".join(chunks)
    if proc.stdout is not None:
        proc.stdout.close()
    return proc.returncode, "".join(chunks)


def _pump(proc: subprocess.Popen[bytes], deadline: float, take: Callable[[str], None]) -> bool:
    """Pass output on until the command exits; False when the deadline came first."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        data = os.read(fd, CHUNK)
        if not data:
            break
        take(decoder.decode(data))
    take(decoder.decode(b"", final=True))
    try:
        proc.wait(timeout=max(deadline - time.monotonic(), 0.01))
    except subprocess.TimeoutExpired:  # closed its output but runs on
        return False
    return True


def kill_started(proc: subprocess.Popen[bytes]) -> None:
    """Kill the process we started and the session group it leads (its pid)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.kill()


def drain(proc: subprocess.Popen[bytes]) -> str:
    """Whatever output is left; gives up if a daemonised grandchild holds the pipe."""
    try:
        out, _ = proc.communicate(timeout=DRAIN_SECONDS)
    except subprocess.TimeoutExpired:
        if proc.stdout is not None:
            proc.stdout.close()
        proc.wait()
        return ""
    return (out or b"").decode(errors="replace")


__all__ = ["exec_in"]
