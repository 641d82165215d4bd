"""The confirmed-commit watcher: a detached process that rolls back in time.

`commit confirmed SECONDS` in a batch run must roll back even after the
committing process has exited, as a router does. The program wires this
watcher into the session: it starts `python -m shell.confirm_watch LAB N S`
in its own session; at the deadline the watcher rolls back commit N unless
it was confirmed (or replaced) meanwhile, then exits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def spawn(lab: str, number: int, seconds: float) -> None:
    """Start the watcher for commit `number` of `lab` (a Session watcher)."""
    subprocess.Popen(
        [sys.executable, "-m", "shell.confirm_watch", lab, str(number), str(seconds)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=dict(os.environ),
    )


def main(argv: list[str]) -> int:
    """Sleep until the deadline, then expire the commit if still pending."""
    lab, number, seconds = argv[0], int(argv[1]), float(argv[2])
    time.sleep(seconds)
    from engine.api import LabApi
    from engine.store import LabStore
    from lab.fabric import LinuxFabric

    pending = LabStore(lab).marker("confirm")
    if not pending or pending.get("number") != number:
        return 0  # confirmed, replaced, or the lab destroyed meanwhile: touch nothing (not even its state directory)

    api = LabApi(lab, LinuxFabric(lab), watcher=spawn)
    for _ in range(50):  # the lock may be held by a commit in progress
        try:
            api.session.expire_confirmed(number)
            return 0
        except Exception:  # noqa: BLE001 - locked or gone: retry briefly, then give up
            time.sleep(0.1)
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
