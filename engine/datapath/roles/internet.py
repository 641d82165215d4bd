"""The internet edge: its router (load balancers, SNAT, the way in) and its
public hosts (ping, HTTP on 80), as engine/compile/internet.py builds them."""

from __future__ import annotations

from engine.compile.internet import lb_backends
from engine.datapath.graph import Namespace
from engine.datapath.handler import Drop, Handler, register
from engine.datapath.model import Model
from engine.datapath.packet import Packet
from engine.datapath.roles.host import HostHandler
from engine.datapath.steering import facts
from engine.inspection import Edge
from engine.jhash import choose
from engine.marks import mark_of


def _public_legs(edge: Edge) -> set[str]:
    return {h.edge_if for h in edge.hosts}


@register("internet")
class InternetHandler(Handler):
    """An internet edge's router."""

    def prerouting(self, model: Model, ns: Namespace, ingress: str, pkt: Packet) -> Packet | Drop:
        """From a public host: a load balancer's VIP:port DNATed to a backend
        (jhash of the connection), pinned to its segment's leg (jhash again
        over the instances when a firewall inspects the edge); nothing else
        is steered (replies' pins do not move a first packet)."""
        edge = facts(model).edges.get(ns.ns)
        bare = Packet(pkt.proto, pkt.src, pkt.dst, pkt.sport, pkt.dport)
        if edge is None or ingress not in _public_legs(edge) or pkt.proto != "tcp":
            return bare
        served = {leg.segment: leg for leg in edge.legs}
        for lb in edge.config.load_balancers:
            if lb.vip != pkt.dst or lb.port != pkt.dport:
                continue
            backends = [(a, seg) for _name, a, seg in lb_backends(model.config, lb) if seg in served]
            if not backends:
                return bare
            address, segment = backends[choose(pkt.src, pkt.dst, 6, pkt.sport, pkt.dport, len(backends))]
            out = bare.with_dst(address)
            leg = served[segment]
            layout = facts(model).layout
            number = 1 if leg.wire is None else choose(out.src, out.dst, 6, out.sport, out.dport, len(leg.edge.ifnames)) + 1
            return Packet(out.proto, out.src, out.dst, out.sport, out.dport, mark_of(layout.target(ns.ns, leg.edge.key, number)))
        return bare

    def forward(self, model: Model, ns: Namespace, ingress: str, egress: str, pkt: Packet) -> str | None | Drop:
        edge = facts(model).edges.get(ns.ns)
        public = _public_legs(edge) if edge else set()
        if ingress in public and egress not in public and not pkt.mark:
            return Drop("internet ingress", f"only a load balancer's VIP lets connections into the lab (at {ns.node})")
        return None

    def postrouting(self, model: Model, ns: Namespace, ingress: str | None, egress: str, pkt: Packet) -> Packet:
        edge = facts(model).edges.get(ns.ns)
        if edge is None or edge.config.snat_address is None or ingress is None:
            return pkt
        public = _public_legs(edge)
        return pkt.with_src(edge.config.snat_address) if egress in public and ingress not in public else pkt


@register("public-host")
class PublicHostHandler(HostHandler):
    """A host on the simulated internet: it answers ping and serves HTTP on
    80 (the model's listeners say so), like a lab host."""

    def name(self, ns: Namespace) -> str:
        return ns.node.split(" ")[2]  # `public host NAME internet EDGE`
