"""LinuxFabric: the engine's Fabric port realised with namespaces and netlink.

`apply` is transactional: when an operation fails, the operations that took
effect are simulated on the old plan, and the difference from that partial
state back to the old plan is applied, which restores the kernel exactly.
"""

from __future__ import annotations

import resource
import time

from engine.compile.naming import lab_prefix
from engine.diff import plan_diff, simulate, summarize
from engine.errors import CommitError
from engine.plan import Plan
from engine.ports import ApplyReport, Drift, ProbeResult, RouteReading
from lab import inventory, netns
from lab.realise import ApplyFailure, FaultHook, apply_ops


def _raise_fd_limit() -> None:
    """A big lab keeps a socket and an fd open per namespace during a commit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class LinuxFabric:
    """One lab's kernel objects, all named with the lab's prefix."""

    def __init__(self, lab: str, fault: FaultHook | None = None):
        self.lab = lab
        self.prefix = lab_prefix(lab)
        self.fault = fault  # tests inject failures here
        _raise_fd_limit()

    def apply(self, old: Plan, new: Plan) -> ApplyReport:
        """Go from `old` to `new`, or restore `old` and raise CommitError."""
        start = time.perf_counter()
        ops = plan_diff(old, new)
        try:
            apply_ops(ops, self.fault)
        except ApplyFailure as failure:
            self._undo(old, failure)
        counts = summarize(ops)
        report = ApplyReport(
            created={k[1:]: v for k, v in counts.items() if k[0] == "+"},
            removed={k[1:]: v for k, v in counts.items() if k[0] == "-"},
        )
        report.seconds = time.perf_counter() - start
        return report

    def _undo(self, old: Plan, failure: ApplyFailure) -> None:
        partial = simulate(old, failure.done)
        what = f"{failure.op.action} {failure.op.item.key}" if failure.op else "apply"
        try:
            apply_ops(plan_diff(partial, old))
        except ApplyFailure as second:
            raise CommitError(
                f"commit failed at {what}: {failure.error}; restoring the previous state also failed "
                f"({second.error}): run 'show lab health' and 'vpclab destroy' if needed"
            ) from failure
        raise CommitError(f"commit failed at {what}: {failure.error}; the lab was restored to the running state")

    def read_routes(self, plan: Plan) -> dict[str, list[RouteReading]]:
        """Our routes in every namespace of the plan."""
        return inventory.read_routes(plan)

    def drift(self, plan: Plan) -> list[Drift]:
        """Differences between the kernel and the plan."""
        return inventory.drift(plan, self.prefix)

    def destroy(self) -> int:
        """Remove every namespace with the lab's prefix (veths go with them)."""
        names = netns.list_names(self.prefix)
        for name in names:
            netns.delete(name)
        return len(names)

    def probe(
        self, src_ns: str, address: str, protocol: str, port: int | None, timeout: float, observe_ns: str | None
    ) -> ProbeResult:
        """One real probe (lab/probes.py)."""
        from lab import probes

        return probes.probe(src_ns, address, protocol, port, timeout, observe_ns)

    def exec(self, ns: str, argv: list[str], timeout: float) -> tuple[int, str]:
        """Run a command in a namespace."""
        from lab import execns

        return execns.exec_in(ns, argv, timeout)
