"""A Fabric that records plans instead of touching the kernel.

For pure tests of the engine and the shell (no root): it keeps the last
applied plan, so a test can assert what a commit would have built. Lab
tests use lab.fabric.LinuxFabric and real packets instead.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.diff import Op, plan_diff, summarize
from engine.errors import CommitError
from engine.items import ServiceItem
from engine.plan import Plan
from engine.ports import ApplyReport, Destroyed, Drift, OutputSink, ProbeResult, ProbeSpec, RouteReading, Sighting, TraceProbe, Tracked


class RecordingFabric:
    """Keeps applied plans in memory; can be told to fail the next apply."""

    def __init__(self) -> None:
        self.plan = Plan()
        self.applied: list[Plan] = []
        self.fail_next = False

    def apply(self, old: Plan, new: Plan, ops: list[Op] | None = None) -> ApplyReport:
        if self.fail_next:
            self.fail_next = False
            raise CommitError("commit failed (injected); the lab was restored to the running state")
        counts = summarize(ops if ops is not None else plan_diff(old, new))
        self.plan = new
        self.applied.append(new)
        return ApplyReport({k[1:]: v for k, v in counts.items() if k[0] == "+"})

    def restore(self, plan: Plan, others: list[Plan]) -> list[str]:
        self.plan = plan
        return ["the recording fabric holds the plan again"]

    def heal(self, plan: Plan) -> list[str]:
        return []

    def service_status(self, plan: Plan) -> dict[str, int | None]:
        return {f"{i.ns}/{i.name}": None for i in plan.of_kind("svc") if isinstance(i, ServiceItem)}

    def read_counters(self, namespaces: list[str]) -> dict[str, dict[str, list[int]]]:
        return {}

    def reset_counters(self, plan: Plan, namespaces: list[str], zeroed: Callable[[str], bool]) -> None:
        return None

    def read_flows(self, namespaces: list[str]) -> dict[str, list[Tracked]]:
        return {}

    def clear_flows(self, namespaces: list[str]) -> None:
        return None

    def repair(self, plan: Plan) -> list[str]:
        return []

    def end_flows(self, entries: dict[str, list[Tracked]], refuse: bool) -> int:
        return 0

    def link_counters(self, ns: str) -> dict[str, dict[str, int]]:
        return {}

    def read_log(self, count: int) -> list[str]:
        return []

    def read_routes(self, plan: Plan, namespaces: list[str] | None = None) -> dict[str, list[RouteReading]]:
        return {}

    def drift(self, plan: Plan) -> list[Drift]:
        return []

    def destroy(self, known: list[str] | None = None) -> Destroyed:
        n = len(self.plan.namespaces())
        self.plan = Plan()
        return Destroyed(n)

    def probe(self, src_ns: str, address: str, protocol: str, port: int | None, timeout: float, observe_ns: str | None) -> ProbeResult:
        return ProbeResult(False, None, "no kernel: the recording fabric sends no packets")

    def probe_many(self, specs: list[ProbeSpec], timeout: float) -> list[ProbeResult]:
        return [ProbeResult(False, None, "no kernel: the recording fabric sends no packets") for _ in specs]

    def trace_probes(self, reqs: list[TraceProbe]) -> list[tuple[ProbeResult, list[Sighting]]]:
        return [(ProbeResult(False, None, "no kernel: the recording fabric sends no packets"), []) for _ in reqs]

    def exec(self, ns: str, argv: list[str], timeout: float, output: OutputSink | None = None) -> tuple[int, str]:
        return 1, "no kernel: the recording fabric runs nothing"
