"""Hosts: the ends of every walk. They do not forward; they answer ping,
and tcp and udp according to the services configured on them."""

from __future__ import annotations

from engine.datapath.graph import Namespace
from engine.datapath.handler import Handler, register
from engine.datapath.model import Model
from engine.datapath.packet import Outcome, Packet


@register("host")
class HostHandler(Handler):
    """A workload namespace: one interface, a default route, no forwarding."""

    forwards = False

    def deliver(self, model: Model, ns: Namespace, pkt: Packet) -> Outcome:
        where = ns.node
        if pkt.proto == "icmp":
            return Outcome(True, f"echo answered by {where}", ns.ns, delivered=True)
        name = where.split(" ", 1)[-1]
        found = next((s for s in model.listeners(name) if s.proto == pkt.proto and s.port == pkt.dport), None)
        if found is not None:
            return Outcome(True, f"service {found.name} ({found.kind}) on {where} listens on {pkt.proto} {pkt.dport}",
                           ns.ns, delivered=True)
        if pkt.proto == "tcp":
            return Outcome(False, f"no service on tcp port {pkt.dport} at {where} (RST)", ns.ns, delivered=True, refused=True)
        return Outcome(True, f"delivered to {where} (no service on udp port {pkt.dport})", ns.ns, delivered=True)
