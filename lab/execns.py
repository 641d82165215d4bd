"""Run a command inside a namespace, bounded in time.

`ip netns exec` rather than setns in a child: it also gives the command the
namespace's /etc/netns files and a matching /sys, as users expect.
"""

from __future__ import annotations

import os
import signal
import subprocess

TIMED_OUT = 124  # as timeout(1)
NOT_FOUND = 127  # as the shell
# After a kill, how long the output may take to drain.
DRAIN_SECONDS = 1.0


def check_ns(name: str) -> None:
    """Refuse names that are not a plain namespace name under /run/netns."""
    if not name or "/" in name or name in (".", "..") or not os.path.exists(f"/run/netns/{name}"):
        raise ValueError(f"no network namespace named {name!r}")


def exec_in(ns: str, argv: list[str], timeout: float = 10.0) -> tuple[int, str]:
    """Run `argv` inside namespace `ns`; (exit status, stdout and stderr together).

    On timeout the process started here, and the process group it leads,
    are killed and the status is 124.
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
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out.decode(errors="replace")
    except subprocess.TimeoutExpired:
        kill_started(proc)
        return TIMED_OUT, drain(proc) + f"\n(killed after {timeout:g} s)\n"


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
    return out.decode(errors="replace")


__all__ = ["exec_in"]
