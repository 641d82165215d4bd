"""Compiler stage: routes of hosts, VPC routers and segment routers.

Every host of a segment reaches every other host of it, on any hub, and
nothing of another segment: a segment router only ever has routes to its
own segment's VPCs (directly or over the backbone), so isolation is
physical, not a filter.
"""

from __future__ import annotations

from engine.addressing import host_subnet, parse_prefix
from engine.compile import naming
from engine.compile.topology import Fabric, gateway_of, vpc_router_address
from engine.items import RouteItem, RouteMeta
from engine.model import Vpc
from engine.plan import PlanBuilder

DEFAULT = "0.0.0.0/0"


def build_host_routes(fab: Fabric, vpc: Vpc, out: PlanBuilder) -> None:
    """Each host: a default route via its subnet's gateway."""
    nets = {sn.name: parse_prefix(sn.prefix) for sn in vpc.subnets}
    for host in vpc.hosts:
        sn = host_subnet(host, {k: v for k, v in nets.items() if v is not None})
        subnet = next((s for s in vpc.subnets if s.name == sn), None)
        if subnet is None or nets.get(subnet.name) is None:
            continue
        ns = naming.host_ns(fab.lab, host.name)
        on = f"{host.address}/{nets[subnet.name].prefixlen}"  # type: ignore[union-attr]
        out.add(RouteItem(ns, DEFAULT, gateway_of(subnet.prefix), naming.HOST_IF, on_address=on))


def build_vpc_routes(fab: Fabric, vpc: Vpc, out: PlanBuilder) -> None:
    """VPC router: default to its segment router; unassigned cidr space refused
    here rather than bounced between the routers until the TTL runs out."""
    ns = naming.vpc_ns(fab.lab, vpc.name)
    seg_addr = fab.routers.get((vpc.segment or "", vpc.cxp))
    if seg_addr is None:
        return
    out.add(RouteItem(ns, DEFAULT, seg_addr, naming.VPC_UPLINK, onlink=True))
    for cidr in vpc.cidrs:
        if parse_prefix(cidr) is not None:
            out.add(RouteItem(ns, cidr, type="unreachable"))


def build_segment_routes(fab: Fabric, vpc: Vpc, out: PlanBuilder) -> None:
    """Segment routers: routes to one VPC, locally or over the backbone."""
    own = vpc_router_address(vpc)
    if vpc.segment is None or own is None:
        return
    for cxp in fab.segment_cxps(vpc.segment):
        ns = naming.segment_ns(fab.lab, vpc.segment, cxp)
        for cidr in vpc.cidrs:
            if parse_prefix(cidr) is None:
                continue
            if cxp == vpc.cxp:
                meta = RouteMeta(vpc.segment, cxp, "vpc", f"vpc {vpc.name}", vpc.group, vpc=vpc.name)
                out.add(RouteItem(ns, cidr, own, naming.vpc_port_if(vpc.name), True, meta=meta))
            else:
                peer = fab.routers[(vpc.segment, vpc.cxp)]
                meta = RouteMeta(vpc.segment, cxp, "backbone", f"cxp {vpc.cxp}", vpc.group, vpc=vpc.name)
                out.add(RouteItem(ns, cidr, peer, naming.backbone_if(vpc.cxp), True, meta=meta))
