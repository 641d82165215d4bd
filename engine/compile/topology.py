"""Compiler stage: namespaces, links and addresses of hosts, VPCs and segments.

Realises ARCHITECTURE.md's table: a host is a namespace with one veth to its
subnet's bridge in the VPC router; the VPC router has a bridge per subnet
holding the gateway and one uplink to the router of its (segment, cxp);
segment routers of the same segment on different hubs are joined by a
backbone veth. The uplink is unnumbered on the segment side: the VPC router
holds its own fabric-facing address (the first address of its lowest cidr)
and the segment router holds one 169.254/16 address on lo.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from engine.addressing import host_subnet, parse_prefix
from engine.compile import naming
from engine.items import AddressItem, BridgeItem, LinkConfItem, NetnsItem, VethItem
from engine.model import CORE_CXP, Config, ResourceShare, Vpc
from engine.plan import PlanBuilder

ROUTER_SYSCTLS = (
    ("net.ipv4.ip_forward", "1"),
    ("net.ipv4.conf.all.rp_filter", "0"),
    ("net.ipv4.conf.default.rp_filter", "0"),
    # when the host has br_netfilter loaded, bridged frames would cross the
    # forward hook and a subnet's own traffic would meet micro-segmentation;
    # `?`: written only where the key exists (the module is loaded)
    ("?net.bridge.bridge-nf-call-iptables", "0"),
)
# a VPC router accepts from a subnet only sources routed back into that
# subnet's bridge (strict reverse-path filtering, a cloud's source check): a
# host cannot send as another subnet, VPC, segment or the internet, and so
# cannot slip past a policy's deny or a firewall's inspection; from its
# uplink only sources it routes back up it (none of its own subnets). A host
# can still send as another address of its own subnet (docs/design.md).
VPC_ROUTER_SYSCTLS = tuple(
    (key, "1" if key.endswith(".rp_filter") else value) for key, value in ROUTER_SYSCTLS
)
HOST_SYSCTLS = (("net.ipv4.conf.all.rp_filter", "0"),)


@dataclass(frozen=True)
class Fabric:
    """Facts the stages share: which routers exist and their addresses."""

    lab: str
    routers: dict[tuple[str, str], str]  # (segment, cxp) -> 169.254 address
    hubs: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)  # segment -> its hubs

    def __post_init__(self) -> None:
        """The hubs of each segment, indexed once when the fabric is made
        (a compile asks per VPC and per share)."""
        index: dict[str, list[str]] = {}
        for s, c in sorted(self.routers):
            index.setdefault(s, []).append(c)
        object.__setattr__(self, "hubs", {s: tuple(cs) for s, cs in index.items()})

    def segment_cxps(self, segment: str) -> list[str]:
        """Hubs on which a segment has a router, sorted."""
        return list(self.hubs.get(segment, ()))


def vpc_router_address(vpc: Vpc) -> str | None:
    """The VPC router's fabric-facing address: first address of its lowest cidr."""
    nets = sorted(n for n in (parse_prefix(c) for c in vpc.cidrs) if n is not None)
    return str(nets[0].network_address + 1) if nets else None


def fabric_of(lab: str, config: Config) -> Fabric:
    """The segment routers (router_pairs) with their addresses."""
    return Fabric(lab, naming.router_addresses(sorted(router_pairs(config))))  # type: ignore[arg-type]


def router_pairs(config: Config) -> set[tuple[str, str]]:
    """(segment, hub) of every segment router: one where the segment has a
    VPC, plus, for each share, both ends' routers on the hub that carries
    it, for each segment policy that inspects, the segment's router on the
    firewall's hub (it steers connections into the instances), and for each
    internet edge, its segments' routers on the edge's hub."""
    pairs = vpc_pairs(config)
    hubs = vpc_hubs(config)
    for share in config.shares:
        if share.end_a and share.end_b:
            hub = share_link_hub(config, share, hubs)
            pairs |= {(share.end_a.segment, hub), (share.end_b.segment, hub)}
    return pairs | appliance_pairs(config)


def appliance_pairs(config: Config) -> set[tuple[str, str]]:
    """(segment, hub) routers that firewalls and internet edges need."""
    known = {c.name for c in config.objects("cxp")}
    segments = {s.name for s in config.segments}
    out: set[tuple[str, str]] = set()
    for seg in config.segments:
        for entry in seg.policies:
            fw = config.get("firewall", entry.firewall or "") if entry.action == "inspect" else None
            if fw is not None and fw.cxp in known:
                out.add((seg.name, fw.cxp))
    for edge in config.internets:
        if edge.cxp in known:
            out |= {(s, edge.cxp) for s in edge.segments if s in segments}
    return out


def share_link_hub(config: Config, share: ResourceShare, hubs: dict[str, list[str]]) -> str:
    """The hub of a share's link: its firewall's hub when the share is
    inspected (the wire runs through the instances there), else share_hub."""
    fw = config.get("firewall", share.firewall) if share.firewall else None
    if fw is not None and fw.cxp in {c.name for c in config.objects("cxp")}:
        return str(fw.cxp)
    return share_hub(hubs, share.end_a.segment if share.end_a else "", share.end_b.segment if share.end_b else "")


def vpc_pairs(config: Config) -> set[tuple[str, str]]:
    """(segment, hub) of every VPC."""
    return {(v.segment, v.cxp) for v in config.vpcs if v.segment}


def vpc_hubs(config: Config) -> dict[str, list[str]]:
    """Segment -> the sorted hubs where it has VPCs."""
    out: dict[str, list[str]] = {}
    for seg, cxp in sorted(vpc_pairs(config)):
        out.setdefault(seg, []).append(cxp)
    return out


def share_hub(hubs: dict[str, list[str]], seg_a: str, seg_b: str) -> str:
    """The hub where a share's link lives: the first hub both segments are
    on, else end-a's first hub, else end-b's, else core. Traffic from the
    segments' other hubs reaches it over their backbone."""
    hubs_a = hubs.get(seg_a, [])
    hubs_b = hubs.get(seg_b, [])
    common = sorted(set(hubs_a) & set(hubs_b))
    return (common or hubs_a or hubs_b or [CORE_CXP])[0]


def build_segment_routers(fab: Fabric, out: PlanBuilder) -> None:
    """Segment router namespaces, their lo address and the backbone mesh."""
    for (seg, cxp), addr in fab.routers.items():
        ns = naming.segment_ns(fab.lab, seg, cxp)
        out.add(NetnsItem(ns, "segment-router", f"segment {seg} cxp {cxp}", ROUTER_SYSCTLS))
        out.add(LinkConfItem(ns, "lo"))
        out.add(AddressItem(ns, "lo", f"{addr}/32"))
    for seg in {s for s, _ in fab.routers}:
        hubs = fab.segment_cxps(seg)
        for i, a in enumerate(hubs):
            for b in hubs[i + 1 :]:
                ns_a, ns_b = naming.segment_ns(fab.lab, seg, a), naming.segment_ns(fab.lab, seg, b)
                if_a, if_b = naming.backbone_if(b), naming.backbone_if(a)
                out.add(VethItem(ns_a, if_a, ns_b, if_b))
                out.add(LinkConfItem(ns_a, if_a, f"{fab.lab}:backbone {seg} {a}->{b}"))
                out.add(LinkConfItem(ns_b, if_b, f"{fab.lab}:backbone {seg} {b}->{a}"))


def build_vpc(fab: Fabric, vpc: Vpc, out: PlanBuilder) -> None:
    """A VPC router, its bridges and uplink, and its hosts."""
    lab = fab.lab
    ns = naming.vpc_ns(lab, vpc.name)
    out.add(NetnsItem(ns, "vpc-router", f"vpc {vpc.name}", VPC_ROUTER_SYSCTLS))
    out.add(LinkConfItem(ns, "lo"))
    seg_ns = naming.segment_ns(lab, vpc.segment or "", vpc.cxp)
    port = naming.vpc_port_if(vpc.name)
    out.add(VethItem(seg_ns, port, ns, naming.VPC_UPLINK))
    out.add(LinkConfItem(seg_ns, port, f"{lab}:vpc {vpc.name}"))
    out.add(LinkConfItem(ns, naming.VPC_UPLINK, f"{lab}:uplink to segment {vpc.segment} cxp {vpc.cxp}"))
    own = vpc_router_address(vpc)
    if own:
        out.add(AddressItem(ns, naming.VPC_UPLINK, f"{own}/32"))
    subnets = {sn.name: parse_prefix(sn.prefix) for sn in vpc.subnets}
    for sn in vpc.subnets:
        net = subnets[sn.name]
        br = naming.bridge_if(sn.name)
        out.add(BridgeItem(ns, br))
        out.add(LinkConfItem(ns, br, f"{lab}:subnet {vpc.name}/{sn.name}"))
        if net is not None:
            out.add(AddressItem(ns, br, f"{net.network_address + 1}/{net.prefixlen}"))
    nets = {k: v for k, v in subnets.items() if v is not None}
    for host in vpc.hosts:
        sn_name = host_subnet(host, nets)
        net = nets.get(sn_name or "")
        if net is None:
            continue
        hns = naming.host_ns(lab, host.name)
        hport = naming.host_port_if(host.name)
        out.add(NetnsItem(hns, "host", f"host {host.name}", HOST_SYSCTLS))
        out.add(LinkConfItem(hns, "lo"))
        out.add(VethItem(ns, hport, hns, naming.HOST_IF))
        out.add(LinkConfItem(ns, hport, f"{lab}:host {host.name}", master=naming.bridge_if(sn_name or "")))
        out.add(LinkConfItem(hns, naming.HOST_IF, f"{lab}:host {host.name} in {vpc.name}/{sn_name}"))
        out.add(AddressItem(hns, naming.HOST_IF, f"{host.address}/{net.prefixlen}"))


def gateway_of(prefix: str) -> str:
    """The gateway (first address) of a subnet prefix."""
    return str(ipaddress.ip_network(prefix).network_address + 1)
