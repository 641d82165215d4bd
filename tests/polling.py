"""Monitor-like polling for tests: threads read every view of a LabReader
while the test commits, as the monitor's workers do beside a shell."""

from __future__ import annotations

import threading
from collections.abc import Callable

from engine.reader import LabReader, RunningSnapshot


def poll_during(reader: LabReader, threads: int, meanwhile: Callable[[], None]) -> tuple[list[RunningSnapshot], list[BaseException]]:
    """Poll from `threads` threads while `meanwhile()` runs: every snapshot
    seen, and what the pollers raised (including a commit number that went
    backwards for one of them)."""
    seen: list[RunningSnapshot] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def poll() -> None:
        last = 0
        try:
            while not stop.is_set():
                snap = reader.snapshot()
                assert snap.number >= last, f"commit {snap.number} after {last}"
                last = snap.number
                reader.routes(snap), reader.flows(snap), reader.policy_hits(snap), reader.health(snap), reader.topology(snap)
                seen.append(snap)
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    pollers = [threading.Thread(target=poll) for _ in range(threads)]
    for t in pollers:
        t.start()
    try:
        meanwhile()
    finally:
        stop.set()
        for t in pollers:
            t.join()
    return seen, errors
