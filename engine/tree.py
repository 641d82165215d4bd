"""The lab as a tree, for the monitor's Topology screen (MONITOR.md).

Hubs at the top; under each hub the segments that have a router there,
under those the hub's VPCs of that segment with their subnets and hosts;
then, under the hub that carries them, shares, firewalls, internet edges
and endpoint services. Rows come parents first, each
`{id, parent, kind, name, detail}`; ids are unique and stable across
commits (`kind:name`, a segment `segment:NAME@HUB`), so a view keyed by id
updates by difference. A segment with no VPC anywhere has no router and
hangs at the top.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.addressing import host_subnet, parse_prefix
from engine.compile.policy import active
from engine.compile.topology import fabric_of, share_hub, vpc_hubs
from engine.model import Config, Segment, Vpc

Row = dict[str, Any]


def row(kind: str, key: str, name: str, parent: str | None, detail: str = "") -> Row:
    """One tree row; `key` makes the id unique within its kind."""
    return {"id": f"{kind}:{key}", "parent": parent, "kind": kind, "name": name, "detail": detail}


def tree_rows(lab: str, config: Config) -> list[Row]:
    """Every node of the lab's tree, parents before children."""
    placed = sorted(fabric_of(lab, config).routers)  # (segment, hub) where a router stands
    out: list[Row] = []
    for cxp in config.objects("cxp"):
        hub = f"cxp:{cxp.name}"
        out.append(row("cxp", cxp.name, cxp.name, None, " ".join(p for p in (cxp.cloud, cxp.region) if p)))
        for seg_name in [s for s, c in placed if c == cxp.name]:
            seg = config.get("segment", seg_name)
            vpcs = [v for v in config.vpcs_in(seg_name) if v.cxp == cxp.name]
            out.append(row("segment", f"{seg_name}@{cxp.name}", seg_name, hub, _segment_detail(seg, len(vpcs))))
            for vpc in vpcs:
                out += _vpc_rows(vpc, f"segment:{seg_name}@{cxp.name}")
        out += _hub_objects(config, cxp.name, hub)
    routed = {s for s, _c in placed}
    out += [row("segment", seg.name, seg.name, None, _segment_detail(seg, 0)) for seg in config.segments if seg.name not in routed]
    return out


def _segment_detail(seg: Segment | None, vpcs: int) -> str:
    parts = [f"{vpcs} vpc{'s' if vpcs != 1 else ''}"]
    if seg is not None and active(seg):
        parts.append(f"policy {len(seg.policies)} entries, default {seg.default_action}")
    return ", ".join(parts)


def _vpc_rows(vpc: Vpc, parent: str) -> Iterator[Row]:
    yield row("vpc", vpc.name, vpc.name, parent, ", ".join(vpc.cidrs) + (" (micro-segmentation)" if vpc.micro_segmentation else ""))
    nets = {s.name: n for s in vpc.subnets if (n := parse_prefix(s.prefix)) is not None}
    for sn in vpc.subnets:
        yield row("subnet", f"{vpc.name}/{sn.name}", sn.name, f"vpc:{vpc.name}", sn.prefix + (f" group {sn.group}" if sn.group else ""))
    for host in vpc.hosts:
        subnet = host_subnet(host, nets)
        services = ", ".join(f"{s.name} ({s.kind})" for s in vpc.services if s.host == host.name)
        parent = f"subnet:{vpc.name}/{subnet}" if subnet in nets else f"vpc:{vpc.name}"
        yield row("host", host.name, host.name, parent, host.address + (f"; {services}" if services else ""))
    for ep in vpc.endpoints:
        yield row("endpoint", f"{vpc.name}/{ep.name}", ep.name, f"vpc:{vpc.name}", f"{ep.address} to {ep.service}")


def _hub_objects(config: Config, cxp: str, hub: str) -> Iterator[Row]:
    """Shares carried at this hub, and the hub's firewalls, internet edges
    and endpoint services."""
    hubs = vpc_hubs(config)
    for share in config.shares:
        if share.end_a and share.end_b and share_hub(hubs, share.end_a.segment, share.end_b.segment) == cxp:
            nat = f", nat {len(share.nat)}" if share.nat else ""
            detail = f"{share.end_a.segment} <-> {share.end_b.segment} ({share.direction}{nat})"
            yield row("share", share.name, share.name, hub, detail)
    for fw in (f for f in config.firewalls if f.cxp == cxp):
        zones = ", ".join(z.name for z in fw.zones)
        yield row("firewall", fw.name, fw.name, hub, f"{fw.instances} instance{'s' if fw.instances != 1 else ''}" + (f"; zones {zones}" if zones else ""))
    for net in (i for i in config.internets if i.cxp == cxp):
        yield row("internet", net.name, net.name, hub, ", ".join(net.segments) + (f"; snat {net.snat_address}" if net.snat_address else ""))
    for svc in (e for e in config.endpoint_services if e.cxp == cxp):
        yield row("endpoint-service", svc.name, svc.name, hub, svc.kind + (f" port {svc.port}" if svc.port else ""))
