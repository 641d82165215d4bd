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
from dataclasses import dataclass, replace
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


@dataclass(frozen=True)
class Ask:
    """One trace to make: from a host to an address (CLI.md's TARGET)."""

    host: str
    address: str
    protocol: str
    port: int | None
    target_host: str | None = None  # TARGET named this host: delivery elsewhere is unreachable
    observe_host: str | None = None  # where delivery is checked (the host the address means)


def source_ports(asks: list[Ask]) -> list[int | None]:
    """A distinct ephemeral source port per (host, protocol) of a batch:
    the model predicts with it and the probe binds it."""
    used: set[tuple[str, str, int]] = set()
    out: list[int | None] = []
    for a in asks:
        port = None
        while a.protocol != "icmp" and (port is None or (a.host, a.protocol, port) in used):
            port = random.randint(*EPHEMERAL)
        if port is not None:
            used.add((a.host, a.protocol, port))
        out.append(port)
    return out


def trace_many(model: Model, fabric: Fabric, asks: list[Ask], timeout: float = TRACE_TIMEOUT) -> list[TraceResult]:
    """Predict every ask, send all probes at once, compare each."""
    walks = [from_host(model, a.host, a.address, a.protocol, a.port, sport, a.target_host)
             for a, sport in zip(asks, source_ports(asks), strict=True)]  # fmt: skip
    reqs = []
    for a, w in zip(asks, walks, strict=True):
        observe_ns = model.host_ns(a.observe_host) if a.observe_host else None
        reqs.append(TraceProbe(model.host_ns(a.host), a.address, a.protocol, a.port, w.hops[0].sport,
                               watched(model, w, (observe_ns,) if observe_ns else ()), observe_ns, timeout))  # fmt: skip
    out = []
    for w, req, (result, sightings) in zip(walks, reqs, fabric.trace_probes(reqs), strict=True):
        observed = observed_hops(model.graph, sightings, req.src_ns) or [_unsent(w)]
        out.append(TraceResult(w, tuple(observed), result, first_difference(list(w.hops), observed, w.outcome, result)))
    return out


def _unsent(w: Walk) -> Hop:
    """The source's hop when no copy of the probe ever left it (no route, or
    no answer to ARP): observed to stop where it started."""
    first = w.hops[0]
    return replace(first, egress=None, rule=None)


def trace(model: Model, fabric: Fabric, ask: Ask, timeout: float = TRACE_TIMEOUT) -> TraceResult:
    """Predict, probe, compare one."""
    return trace_many(model, fabric, [ask], timeout)[0]
