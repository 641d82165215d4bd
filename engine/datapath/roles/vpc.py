"""VPC routers: a bridge per subnet, an uplink, and with micro-segmentation
the segment policy between their subnets (engine/compile/policy.py puts
`iifname "b*" oifname "b*" jump seg_policy` in their forward chain); and
their endpoints' translations (engine/datapath/endpoints.py)."""

from __future__ import annotations

from engine.datapath.endpoints import subnet_bridge
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

    def prerouting(self, model: Model, ns: Namespace, ingress: str, pkt: Packet) -> Packet | Drop:
        """An endpoint's address and port become its provider's address;
        nothing else goes to a provider."""
        here = model.endpoints_at(ns.ns)
        ep = here.by_destination.get((pkt.dst, pkt.dport or 0)) if pkt.proto == "tcp" else None
        if ep is not None:
            return pkt.with_dst(ep.provider)
        if pkt.dst in here.providers:
            svc = here.providers[pkt.dst].service.name
            return Drop("endpoint private link", f"only an endpoint's translation reaches endpoint-service {svc} (at {ns.node})")
        return pkt

    def postrouting(self, model: Model, ns: Namespace, ingress: str | None, egress: str, pkt: Packet) -> Packet:
        """Out of a private link, from the link's own address."""
        ep = model.endpoints_at(ns.ns).by_link.get(egress)
        return pkt.with_src(ep.link) if ep is not None else pkt

    def forward(self, model: Model, ns: Namespace, ingress: str, egress: str, pkt: Packet) -> str | None | Drop:
        here = model.endpoints_at(ns.ns)
        ep = here.by_link.get(egress)
        if ep is not None:  # judged on the endpoint's address, before the translation (the ep_subnets chain)
            if here.judged and ingress.startswith("b") and ingress != subnet_bridge(ep):
                return judged(model, ns, ingress, egress, pkt.with_dst(ep.address), ep.segment)
            return None
        vpc = model.vpc_at(ns.ns)
        if vpc is None or not vpc.micro_segmentation or len(vpc.subnets) < 2 or vpc.segment is None:
            return None
        if ingress.startswith("b") and egress.startswith("b"):
            return judged(model, ns, ingress, egress, pkt, vpc.segment)
        return None
