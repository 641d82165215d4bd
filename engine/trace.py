"""`trace TARGET from HOST`: the model's path, a real probe, and whether they agree.

The model walks the probe's first packet through the running plan
(engine/datapath). The lab then sends that very packet (same source port)
with observers in every predicted namespace and in their neighbours, where
a wrong turn would take it; what they saw becomes the observed hops
(engine/datapath/observe.py). The two lists are compared field by field,
then the model's verdict against the probe's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from engine.datapath import Hop, Model, Walk, from_host
from engine.datapath.observe import Difference, first_difference, observed_hops
from engine.ports import Fabric, ProbeResult, TraceProbe

TRACE_TIMEOUT = 0.5  # seconds; the fabric answers in well under a millisecond
EPHEMERAL = (32768, 60999)


@dataclass(frozen=True)
class TraceResult:
    """Prediction, observation and their comparison (CLI.md's `trace` JSON)."""

    walk: Walk
    observed: tuple[Hop, ...]
    probe: ProbeResult
    difference: Difference | None

    @property
    def agree(self) -> bool:
        """True when every hop and the verdict agree."""
        return self.difference is None

    def as_dict(self) -> dict[str, Any]:
        """Exactly CLI.md's fields."""
        return {
            "predicted": [h.as_dict() for h in self.walk.hops],
            "observed": [h.as_dict() for h in self.observed],
            "agree": self.agree,
            "verdict": self.walk.outcome.verdict,
            "reason": self.walk.outcome.reason,
            "first_difference": self.difference.as_dict() if self.difference else None,
        }


def watched(model: Model, walk: Walk, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Namespaces to observe: the predicted ones and every neighbour of them."""
    out = dict.fromkeys(h.ns for h in walk.hops)
    for ns in list(out):
        out.update(dict.fromkeys(sorted(model.graph.neighbours(ns))))
    out.update(dict.fromkeys(extra))
    return tuple(ns for ns in out if ns)


def trace(model: Model, fabric: Fabric, host: str, address: str, protocol: str, port: int | None,
          target_host: str | None, observe_host: str | None, timeout: float = TRACE_TIMEOUT) -> TraceResult:  # fmt: skip
    """Predict, probe, compare. `target_host`: TARGET named it (delivery
    elsewhere is unreachable); `observe_host`: where delivery is checked."""
    sport = random.randint(*EPHEMERAL) if protocol != "icmp" else None
    walk = from_host(model, host, address, protocol, port, sport, target_host)
    observe_ns = model.host_ns(observe_host) if observe_host else None
    req = TraceProbe(model.host_ns(host), address, protocol, port, sport,
                     watched(model, walk, (observe_ns,) if observe_ns else ()), observe_ns, timeout)  # fmt: skip
    result, sightings = fabric.trace_probe(req)
    observed = observed_hops(model.graph, sightings)
    verdict = "reachable" if result.reachable else "unreachable"
    diff = first_difference(list(walk.hops), observed, walk.outcome.verdict, verdict, result.detail)
    return TraceResult(walk, tuple(observed), result, diff)
