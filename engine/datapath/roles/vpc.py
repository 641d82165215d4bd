"""VPC routers: a bridge per subnet, an uplink, and with micro-segmentation
the segment policy between their subnets (engine/compile/policy.py puts
`iifname "b*" oifname "b*" jump seg_policy` in their forward chain)."""

from __future__ import annotations

from engine.datapath.graph import Namespace
from engine.datapath.handler import Drop, Handler, register
from engine.datapath.model import Model
from engine.datapath.packet import Packet, ip_int


def judged(model: Model, ns: Namespace, ingress: str, egress: str, pkt: Packet, segment: str) -> str | None | Drop:
    """The segment policy's verdict on a new connection, as a handler result."""
    judge = model.judge(segment)
    if judge is None:
        return None
    d = judge.decide(pkt.proto_number, ip_int(pkt.src), ip_int(pkt.dst), pkt.dport or 0)
    if d.action == "deny":
        why = "the default action" if d.seq is None else f"entry {d.seq}"
        return Drop(d.rule, f"{d.rule}: {why} of segment {segment}'s policy denies it (at {ns.node})")
    return d.rule


@register("vpc-router")
class VpcRouterHandler(Handler):
    """Routes between its subnets and towards its segment router."""

    def forward(self, model: Model, ns: Namespace, ingress: str, egress: str, pkt: Packet) -> str | None | Drop:
        vpc = model.vpc_at(ns.ns)
        if vpc is None or not vpc.micro_segmentation or len(vpc.subnets) < 2 or vpc.segment is None:
            return None
        if ingress.startswith("b") and egress.startswith("b"):
            return judged(model, ns, ingress, egress, pkt, vpc.segment)
        return None
