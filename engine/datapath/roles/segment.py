"""Segment routers: the segment policy, share links with their filters and
NAT, and the backbone to the segment's routers on other hubs.

The forward filter follows the rendered chain's order exactly
(engine/compile/nft.py): share direction, share sources, no transit from
share to share, backbone accepted (judged on its first hub), then the
policy. NAT: each end's 1:1 prefix maps, DNAT coming in by its link,
SNAT going out by it.
"""

from __future__ import annotations

from engine.datapath.graph import Namespace
from engine.datapath.handler import Drop, Handler, register
from engine.datapath.model import Model
from engine.datapath.packet import Packet
from engine.datapath.roles.vpc import judged
from engine.datapath.shares import holds
from engine.origin import DIRECTION, Origin

SHARES_SOURCE = str(Origin("shares", "", "source"))  # the counters' own names for these drops


@register("segment-router")
class SegmentRouterHandler(Handler):
    """One segment on one hub."""

    def prerouting(self, model: Model, ns: Namespace, ingress: str, pkt: Packet) -> Packet | Drop:
        link = model.share_links(ns.ns).get(ingress)
        return pkt.with_dst(link.dnat(pkt.dst)) if link else pkt

    def forward(self, model: Model, ns: Namespace, ingress: str, egress: str, pkt: Packet) -> str | None | Drop:
        links = model.share_links(ns.ns)
        into, out = links.get(ingress), links.get(egress)
        if into is not None and into.closed_to_new:
            return Drop(str(Origin("share", into.share, DIRECTION)),
                        f"share {into.share} is one-way: {into.end} opens connections, the other end may not (at {ns.node})")
        if out is not None and not holds(out.own, pkt.src):
            return Drop(SHARES_SOURCE, f"{pkt.src} is not offered by {out.end} of share {out.share} (at {ns.node})")
        if into is not None and not holds(into.seen, pkt.src):
            return Drop(SHARES_SOURCE, f"{pkt.src} is not offered to {into.end} by share {into.share} (at {ns.node})")
        if into is not None and out is not None:
            return Drop(str(Origin("shares", "", "transit")), f"shares are not transitive: share {into.share} to share {out.share} (at {ns.node})")
        where = model.router_at(ns.ns)
        if where is None or model.judge(where[0]) is None or ingress.startswith("bb"):
            return None  # no policy here, or judged on the hub it entered the fabric
        return judged(model, ns, ingress, egress, pkt, where[0])

    def postrouting(self, model: Model, ns: Namespace, ingress: str | None, egress: str, pkt: Packet) -> Packet:
        link = model.share_links(ns.ns).get(egress)
        return pkt.with_src(link.snat(pkt.src)) if link else pkt
