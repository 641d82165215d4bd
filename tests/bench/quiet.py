"""Benchmarks start when the kernel has finished freeing earlier namespaces.

Namespace teardown is asynchronous (the `netns` workqueue); a build measured
while a previous lab of hundreds of namespaces is still being freed is
measuring the kernel's cleanup too (a 1,000-namespace build took 13 s
instead of 6 s once).
"""

from __future__ import annotations

import glob
import time


def netns_cleanup_busy() -> bool:
    """Is a kernel worker freeing network namespaces right now?"""
    for path in glob.glob("/proc/[0-9]*/comm"):
        try:
            with open(path) as fh:
                if "+netns" in fh.read():
                    return True
        except OSError:
            continue
    return False


def wait_for_quiet(limit: float = 30.0, settle: float = 1.0) -> float:
    """Wait until no namespace cleanup has run for `settle` seconds; the wait."""
    start = time.monotonic()
    quiet_since = time.monotonic()
    while time.monotonic() - start < limit:
        if netns_cleanup_busy():
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= settle:
            break
        time.sleep(0.1)
    return time.monotonic() - start
