"""Providers of endpoint services: a namespace per service, its server on
its port, reached only through endpoints' private links (engine/compile/
endpoints.py). They do not forward."""

from __future__ import annotations

from engine.addressing import service_port
from engine.datapath.graph import Namespace
from engine.datapath.handler import Handler, register
from engine.datapath.model import Model
from engine.datapath.packet import Outcome, Packet


@register("provider")
class ProviderHandler(Handler):
    """An endpoint service's provider: answers ping, serves TCP on its port."""

    forwards = False

    def deliver(self, model: Model, ns: Namespace, pkt: Packet) -> Outcome:
        svc = model.config.get("endpoint-service", ns.node.split(" ", 1)[-1])
        if svc is not None and pkt.proto == "tcp" and pkt.dport == service_port(svc.kind, svc.port):
            return Outcome(True, f"{ns.node} ({svc.kind}) listens on tcp {pkt.dport}", ns.ns, delivered=True)
        return super().deliver(model, ns, pkt)
