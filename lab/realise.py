"""Apply ordered plan operations to the kernel, batched per namespace.

Operations arrive ordered by kind (engine/diff.py). Consecutive operations
of one action and kind form a phase, which that kind's realiser applies
(lab/realisers.py); netlink kinds give every namespace one batch of
requests on its own socket. Each request is acked on its own, so when
something fails we know exactly which operations took effect:
`ApplyFailure.done` lists them, and the caller undoes just those.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable

from engine.diff import Op
from lab import netns, rtnl
from lab.realisers import REALISERS, ApplyFailure, FaultHook


class Realisation:
    """One apply: holds one rtnetlink channel and one fd per namespace it
    touches, the fault hook of tests, and the counters carried into
    reloaded tables."""

    def __init__(self, fault: FaultHook | None = None, counters: dict[str, dict[str, list[int]]] | None = None):
        self._channels: dict[str, rtnl.Channel] = {}
        self._fds: dict[str, int] = {}
        self._fault = fault
        self.counters = counters or {}  # per namespace: carried into reloaded tables

    def close(self) -> None:
        """Release every socket and fd."""
        for ch in self._channels.values():
            ch.close()
        for fd in self._fds.values():
            os.close(fd)
        self._channels.clear()
        self._fds.clear()

    def channel(self, ns: str) -> rtnl.Channel:
        """The (cached) rtnetlink channel of a namespace."""
        ch = self._channels.get(ns)
        if ch is None:
            ch = self._channels[ns] = rtnl.Channel(ns)
        return ch

    def fd(self, ns: str) -> int:
        """A (cached) fd of a namespace, for placing veth peers into it."""
        fd = self._fds.get(ns)
        if fd is None:
            fd = self._fds[ns] = netns.open_fd(ns)
        return fd

    def forget(self, ns: str) -> None:
        """Close the channel and fd of a namespace that is being removed."""
        ch = self._channels.pop(ns, None)
        if ch:
            ch.close()
        fd = self._fds.pop(ns, None)
        if fd is not None:
            os.close(fd)

    def check_fault(self, op: Op, done: list[Op]) -> None:
        """Let a test fail the apply at `op` (as ApplyFailure, with what was done)."""
        if self._fault is not None:
            try:
                self._fault(op)
            except Exception as exc:  # an injected failure, for tests
                raise ApplyFailure(op, exc, done) from exc

    def run(self, ops: list[Op]) -> list[Op]:
        """Apply `ops` in order; raises ApplyFailure with what was done."""
        done: list[Op] = []
        for (action, kind), phase in itertools.groupby(ops, key=lambda o: (o.action, o.kind)):
            batch = list(phase)
            try:
                REALISERS[kind].apply(self, action, batch, done)
            except ApplyFailure:
                raise
            except Exception as exc:  # anything unforeseen still gets the exact undo
                raise ApplyFailure(batch[0], exc, done) from exc
        return done


def apply_ops(ops: Iterable[Op], fault: FaultHook | None = None, counters: dict[str, dict[str, list[int]]] | None = None) -> list[Op]:
    """Apply operations with a fresh Realisation; raises ApplyFailure."""
    realisation = Realisation(fault, counters)
    try:
        return realisation.run(list(ops))
    finally:
        realisation.close()


__all__ = ["ApplyFailure", "FaultHook", "Realisation", "apply_ops"]
