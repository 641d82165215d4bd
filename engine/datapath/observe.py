"""What the real packet did, as hops, and where it parts from the prediction.

The lab reports every copy of the probe its observers saw (engine.ports
`Sighting`). A namespace that saw it is an observed hop, in the order the
kernel first saw it there. Its ingress is the interface the packet
arrived on, its egress the one it left by, with the same conventions as
the model: a packet routed in or out through a bridge names the bridge
(its ports see the frame too), a frame only switched between two ports of
a bridge names the ports. Addresses are those of the copy that left (after
the namespace's NAT), or of the arriving copy where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.datapath.graph import Graph
from engine.datapath.packet import Hop, Outcome
from engine.ports import ProbeResult, Sighting


def observed_hops(graph: Graph, sightings: list[Sighting], src_ns: str) -> list[Hop]:
    """Observed hops in the order the packet went: from the source, each
    next namespace is the veth peer of an interface the packet left by that
    saw it arrive. (Kernel timestamps cannot order them: a forwarded packet
    keeps the time it was first stamped, or a delivery time, across
    namespaces.) Namespaces that saw it off that path come last."""
    by_ns: dict[str, list[Sighting]] = {}
    for s in sightings:
        by_ns.setdefault(s.ns, []).append(s)
    order: list[str] = []
    ns: str | None = src_ns if src_ns in by_ns else None
    while ns is not None and ns not in order:
        order.append(ns)
        ns = _next(graph, ns, by_ns)
    order += [n for n in by_ns if n not in order]
    return [_hop(graph, n, by_ns[n]) for n in order]


def _next(graph: Graph, ns: str, by_ns: dict[str, list[Sighting]]) -> str | None:
    for s in by_ns[ns]:
        peer = graph.peer.get((ns, s.ifname)) if s.outgoing else None
        if peer and any(not t.outgoing and t.ifname == peer[1] for t in by_ns.get(peer[0], ())):
            return peer[0]
    return None


def _pick(graph: Graph, ns: str, seen: list[Sighting]) -> Sighting | None:
    """The copy that names the namespace's interface: on a bridge rather than
    on one of its ports (the bridge is where the packet was routed)."""
    space = graph.spaces.get(ns)
    bridges = space.bridges if space else set()
    return next((s for s in seen if s.ifname in bridges), seen[0] if seen else None)


def _hop(graph: Graph, ns: str, seen: list[Sighting]) -> Hop:
    space = graph.spaces.get(ns)
    arrived = _pick(graph, ns, [s for s in seen if not s.outgoing])
    left = _pick(graph, ns, [s for s in seen if s.outgoing])
    shown = left or arrived
    assert shown is not None
    node, kind = (space.node, space.role) if space else (ns, "unknown")
    return Hop(node, kind, arrived.ifname if arrived else None, left.ifname if left else None,
               shown.src, shown.dst, shown.sport, shown.dport, None, ns)


FIELDS = ("node", "ingress", "egress", "src", "dst", "sport", "dport")


@dataclass(frozen=True)
class Difference:
    """Where the prediction and the packet first part."""

    hop: int | None  # 1-based hop number; None for the verdict
    node: str
    field: str
    predicted: Any
    observed: Any

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (`first_difference`)."""
        return {"hop": self.hop, "node": self.node, "field": self.field, "predicted": self.predicted, "observed": self.observed}

    def sentence(self) -> str:
        """`DISAGREE at NODE: predicted X, observed Y`."""
        def said(value: Any) -> str:
            if self.field == "refusal":
                return str(value)
            if self.field == "egress" and value is None:
                return "no egress (the packet stopped here)"
            if self.field == "node" and value is None:
                return "nothing further"
            return f"{self.field} {value if value is not None else 'none'}" if self.field not in ("node", "verdict") else str(value)

        where = self.node if self.hop is None else f"hop {self.hop} ({self.node})"
        return f"DISAGREE at {where}: predicted {said(self.predicted)}, observed {said(self.observed)}"


def first_difference(predicted: list[Hop], observed: list[Hop], outcome: Outcome, probe: ProbeResult) -> Difference | None:
    """The first field of the first hop that differs, else the verdict, else
    a refusal where the model drops silently (an ICMP error from a router
    the model says filters: the packet met something else, e.g. no NAT and
    no route where a table went missing). The other way round is no
    disagreement: the kernel rate-limits its ICMP errors."""
    for i in range(max(len(predicted), len(observed))):
        p = predicted[i] if i < len(predicted) else None
        o = observed[i] if i < len(observed) else None
        if p is None or o is None:
            node = (p or o).node  # type: ignore[union-attr]
            return Difference(i + 1, node, "node", p.node if p else None, o.node if o else None)
        for name, pv, ov in zip(FIELDS, p.compared(), o.compared(), strict=True):
            if pv != ov:
                return Difference(i + 1, p.node, name, pv, ov)
    seen = "reachable" if probe.reachable else "unreachable"
    if outcome.verdict != seen:
        detail = f" ({probe.detail})" if probe.detail else ""
        return Difference(None, "verdict", "verdict", outcome.verdict, f"{seen}{detail}")
    if not outcome.reachable and not outcome.refused and not outcome.delivered and probe.refused and predicted:
        last = predicted[-1]
        return Difference(len(predicted), last.node, "refusal", f"a silent drop by {last.rule}", probe.detail)
    return None
