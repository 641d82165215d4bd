"""Firewall instances: routing by input leg, and the zone rules.

An instance's routing needs no handler (its `ip rule iif LEG` rules are
plan items the walk follows); its forward chain is the firewall's rules,
first match, on the zones of where the packet came in and leaves
(engine/fwzones.py, the evaluation the compiler's maps are built from).
"""

from __future__ import annotations

from engine.datapath.graph import Namespace
from engine.datapath.handler import Drop, Handler, register
from engine.datapath.model import Model
from engine.datapath.packet import Packet
from engine.datapath.steering import facts
from engine.fwzones import facings, first_rule, zone_of
from engine.memo import derived
from engine.origin import DEFAULT, Origin


@register("firewall")
class FirewallHandler(Handler):
    """One instance of a firewall."""

    def prerouting(self, model: Model, ns: Namespace, ingress: str, pkt: Packet) -> Packet | Drop:
        return Packet(pkt.proto, pkt.src, pkt.dst, pkt.sport, pkt.dport)  # a mark never crosses namespaces

    def forward(self, model: Model, ns: Namespace, ingress: str, egress: str, pkt: Packet) -> str | None | Drop:
        instance = facts(model).layout.instance_at(ns.ns)
        if instance is None:
            return None
        fw = model.config.require("firewall", instance.firewall)
        legs = derived(model, f"_facings_{fw.name}", lambda: {f.ifname: f for f in facings(model.config, facts(model).layout, fw.name)})
        src, dst = legs.get(ingress), legs.get(egress)
        src_zone = zone_of(model.config, fw, src, pkt.src) if src else 0
        dst_zone = zone_of(model.config, fw, dst, pkt.dst) if dst else 0
        rule = first_rule(fw, pkt.proto_number, src_zone, dst_zone, pkt.dport)
        origin = Origin.of_entry("firewall", fw.name, rule.seq if rule else DEFAULT)
        action = rule.action if rule else fw.default_action
        if action == "deny":
            why = "the default action" if rule is None else f"rule {rule.seq}"
            return Drop(str(origin), f"{origin}: {why} of firewall {fw.name} denies it (at {ns.node})")
        return str(origin)
