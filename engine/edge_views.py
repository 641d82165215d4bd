"""Rows of `show firewalls`, `show firewall NAME` and `show internet`.

Pure functions of the running Config and its layout (engine/inspection.py),
plus, for one firewall, the number of connections each instance's
conntrack holds (read by the caller from the kernel).
"""

from __future__ import annotations

from typing import Any

from engine.compile.internet import lb_backends
from engine.inspection import Hairpin, Layout
from engine.model import Config, Firewall, FirewallRule, Zone


def zone_text(z: Zone) -> str:
    """A zone member as its configuration line says it."""
    if z.internet:
        return f"internet {z.internet}"
    return f"segment {z.segment}" + (f" group {z.group}" if z.group else "")


def rule_match(r: FirewallRule) -> str:
    """A rule's match as written in the configuration."""
    return " ".join(x for x in (r.protocol, f"from {r.src_zone}", f"to {r.dst_zone}", r.ports or "", "log" if r.log else "") if x)


def inspects(config: Config, layout: Layout, name: str) -> list[str]:
    """What runs through a firewall: `segment S (policy)`, `share X`, `internet I segment S`."""
    out = []
    for link in layout.links_of(name):
        if isinstance(link, Hairpin):
            out.append(f"segment {link.segment} (policy)")
        elif link.kind == "share":
            out.append(f"share {link.name}")
        else:
            out.append(f"internet {link.name} segment {link.segment}")
    return out


def firewall_rows(config: Config, layout: Layout) -> list[dict[str, Any]]:
    """`show firewalls`."""
    return [
        {"name": fw.name, "cxp": fw.cxp, "instances": fw.instances, "zones": sorted({z.name for z in fw.zones}),
         "rules": len(fw.rules), "default_action": fw.default_action, "inspects": inspects(config, layout, fw.name)}
        for fw in config.firewalls
    ]  # fmt: skip


def firewall_detail(config: Config, layout: Layout, fw: Firewall, connections: dict[str, int | None]) -> dict[str, Any]:
    """`show firewall NAME`: its instances with their connections, zones, legs and rules."""
    instances = [
        {"instance": i.number, "namespace": i.ns, "address": i.address, "connections": connections.get(i.ns)}
        for i in layout.instances.get(fw.name, ())
    ]  # fmt: skip
    zones = [{"zone": z.name, "member": zone_text(z)} for z in sorted(fw.zones, key=lambda z: (z.name, zone_text(z)))]
    legs = []
    for link in layout.links_of(fw.name):
        sides = [link.side] if isinstance(link, Hairpin) else [link.a, link.b]
        what = f"segment {link.segment} (policy)" if isinstance(link, Hairpin) else f"{link.kind} {link.name}"
        for side in sides:
            legs.append({"leg": side.inst_if, "carries": what, "router": side.ns.removeprefix(layout.lab + "-"),
                         "router_legs": list(side.ifnames), "conntrack_zone": link.zone})
    rules = [{"seq": r.seq, "action": r.action, "match": rule_match(r)} for r in sorted(fw.rules, key=lambda r: r.seq)]
    rules.append({"seq": None, "action": fw.default_action, "match": "default-action"})
    head = {"name": fw.name, "cxp": fw.cxp, "instances": fw.instances, "default_action": fw.default_action,
            "inspects": inspects(config, layout, fw.name)}
    return {**head, "instance_list": instances, "zones": zones, "legs": legs, "rules": rules}


def internet_rows(config: Config, layout: Layout) -> dict[str, list[dict[str, Any]]]:
    """`show internet`: the edges, their public hosts and load balancers."""
    edges, hosts, lbs = [], [], []
    placed = {e.name: e for e in layout.edges}
    for edge in config.internets:
        spot = placed.get(edge.name)
        edges.append({"name": edge.name, "cxp": edge.cxp, "segments": list(edge.segments), "snat_address": edge.snat_address,
                      "firewall": edge.firewall, "router": spot.ns.removeprefix(layout.lab + "-") if spot else None})
        hosts += [{"name": h.name, "address": h.address, "internet": edge.name} for h in edge.public_hosts]
        for lb in edge.load_balancers:
            backends = [f"{name} ({address}, segment {seg})" for name, address, seg in lb_backends(config, lb)]
            lbs.append({"name": lb.name, "internet": edge.name, "vip": lb.vip, "port": lb.port, "backends": backends})
    return {"edges": edges, "public_hosts": hosts, "load_balancers": lbs}
