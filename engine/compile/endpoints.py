"""Compiler stage: endpoint services (providers) and their endpoints.

A provider is a namespace of its own (`LAB-e-SERVICE`, role `provider`)
holding one 169.254 address on lo and running the service's server on its
port; it has no route but those back to its endpoints, so nothing reaches
it but through one. Each endpoint (endpoint_layout.py places them):

- the VPC router holds the endpoint's address A (/32 on lo: it answers ARP
  on the subnet's bridge, and ping) and a private link (veth `pl.SERVICE`
  to `ep.VPC` in the provider) holding the endpoint's own link address L;
- its table translates TCP to A:port to the provider's address (DNAT map)
  and everything leaving by a private link to that link's L (SNAT map), so
  the provider sees each endpoint under its own address; only translated
  connections may leave by a private link, none may come from one;
- with micro-segmentation, a connection from another subnet of the VPC
  meets the segment policy on its way to A (before the translation, so
  the policy judges the endpoint's address), as subnet-to-subnet traffic;
- every segment router that reaches A gets a /32 route with origin
  `endpoint`, a copy of the route that covers A there (the VPC's cidr at
  home or over the backbone, a share's import elsewhere), so it goes
  wherever that route goes, NAT, firewall wires and all.
"""

from __future__ import annotations

import ipaddress

from engine.addressing import parse_prefix, service_port
from engine.compile import naming
from engine.compile.endpoint_layout import Layout, Placed, Reach, by_vpc, layout, reach
from engine.compile.nft import ENDPOINTS, Rulesets, quote
from engine.compile.policy import active
from engine.compile.topology import HOST_SYSCTLS, Fabric
from engine.items import AddressItem, LinkConfItem, NetnsItem, RouteItem, RouteMeta, ServiceItem, VethItem
from engine.model import Config, EndpointService, Vpc
from engine.origin import Origin
from engine.plan import PlanBuilder

PROVIDER_ROLE = "provider"
LINKS = '"pl*"'  # every private link of a VPC router (naming.private_link_if)


def provider_tag(lab: str, service: str) -> str:
    """The provider server's tag (`@` cannot start a VPC name, so it never
    meets a host service's `LAB/VPC/NAME`)."""
    return f"{lab}/@provider/{service}"


def build_endpoints(fab: Fabric, config: Config, out: PlanBuilder, rules: Rulesets) -> None:
    """Providers, private links, endpoint addresses, routes and the VPC
    routers' translations. Runs after the shares stage: an endpoint's route
    in another segment copies that segment's route of the share import."""
    places = layout(config)
    for svc in config.endpoint_services:
        _provider(fab.lab, svc, places.providers[svc.name], out)
    for ep in places.endpoints:
        _private_link(fab.lab, ep, out)
        for r in reach(config, ep):
            _segment_routes(fab, ep, r, out)
    _translations(fab.lab, config, places, rules)


def _provider(lab: str, svc: EndpointService, address: str, out: PlanBuilder) -> None:
    ns = naming.provider_ns(lab, svc.name)
    out.add(NetnsItem(ns, PROVIDER_ROLE, f"endpoint-service {svc.name}", HOST_SYSCTLS))
    out.add(LinkConfItem(ns, "lo"))
    out.add(AddressItem(ns, "lo", f"{address}/32"))
    port = service_port(svc.kind, svc.port)
    # the page names the client as the provider sees it: each endpoint's own address
    page = f"vpclab {lab}: endpoint-service {svc.name} ({svc.kind}) on cxp {svc.cxp} answers {{client}}\n"
    out.add(ServiceItem(ns, svc.name, svc.kind, port, provider_tag(lab, svc.name), address,
                        data=page if svc.kind == "http" else "", origin=f"endpoint-service {svc.name}"))


def _private_link(lab: str, ep: Placed, out: PlanBuilder) -> None:
    """The endpoint's address, its private link and the routes across it."""
    vns, pns = naming.vpc_ns(lab, ep.vpc.name), naming.provider_ns(lab, ep.service.name)
    link, far = naming.private_link_if(ep.service.name), naming.endpoint_if(ep.vpc.name)
    out.add(VethItem(vns, link, pns, far))
    out.add(LinkConfItem(vns, link, f"{lab}:private link to endpoint-service {ep.service.name} (cxp {ep.service.cxp})"))
    out.add(LinkConfItem(pns, far, f"{lab}:endpoint {ep.endpoint.name} of vpc {ep.vpc.name}"))
    out.add(AddressItem(vns, "lo", f"{ep.address}/32"))
    out.add(AddressItem(vns, link, f"{ep.link}/32"))
    out.add(RouteItem(vns, f"{ep.provider}/32", ifname=link))
    out.add(RouteItem(pns, f"{ep.link}/32", ifname=far))


def _segment_routes(fab: Fabric, ep: Placed, r: Reach, out: PlanBuilder) -> None:
    """A /32 with origin `endpoint` in each router of a segment that reaches
    the endpoint, copied from the route that covers it there."""
    covering = r.covering if r.share else _vpc_cidr(ep)
    if covering is None:
        return
    for cxp in fab.segment_cxps(r.segment):
        ns = naming.segment_ns(fab.lab, r.segment, cxp)
        base = out.get(("route", ns, covering))
        if not isinstance(base, RouteItem) or base.meta is None:
            continue
        original, translated = (f"{ep.address}/32", f"{r.address}/32") if r.translated else (None, None)
        meta = RouteMeta(r.segment, cxp, "endpoint", f"endpoint {ep.endpoint.name} ({base.meta.via})",
                         original_prefix=original, translated_prefix=translated, vpc=base.meta.vpc)
        # the covering route's way out, to the endpoint's address (built, not `replace`d: a commit makes a thousand)
        out.put(RouteItem(ns, f"{r.address}/32", base.gateway, base.ifname, base.onlink, base.type, meta, base.on_address, base.table))


def _vpc_cidr(ep: Placed) -> str | None:
    """The cidr of the endpoint's VPC that holds its address (its segment's route)."""
    addr = ipaddress.IPv4Address(ep.address)
    return next((c for c in ep.vpc.cidrs if (net := parse_prefix(c)) is not None and addr in net), None)


def _translations(lab: str, config: Config, places: Layout, rules: Rulesets) -> None:
    """Each VPC router's endpoint maps and the guards of its private links."""
    for vpc, eps in sorted(by_vpc(list(places.endpoints)).items()):
        ns = naming.vpc_ns(lab, vpc)
        r = None
        for ep in eps:
            r = rules.ns(ns, Origin("endpoint", ep.service.name))
        assert r is not None
        dnat = ", ".join(f"{ep.address} . {ep.port} : {ep.provider}" for ep in eps)
        snat = ", ".join(f"{quote(naming.private_link_if(ep.service.name))} : {ep.link}" for ep in eps)
        r.decls.append(f"map ep_dnat {{ typeof ip daddr . tcp dport : ip daddr; elements = {{ {dnat} }} }}")
        r.decls.append(f"map ep_snat {{ typeof oifname : ip saddr; elements = {{ {snat} }} }}")
        r.prerouting.append("dnat ip to ip daddr . tcp dport map @ep_dnat")
        r.postrouting.append("snat ip to oifname map @ep_snat")
        r.forward.append((ENDPOINTS, f"iifname {LINKS} drop"))  # a provider opens nothing
        r.forward.append((ENDPOINTS, f"oifname {LINKS} ct status & dnat == 0 drop"))  # only through an endpoint
        if micro_segmented(config, eps[0].vpc):
            r.decls.append(_subnet_policy(eps))


def micro_segmented(config: Config, vpc: Vpc) -> bool:
    """Does the VPC router judge subnet-to-subnet traffic (engine/compile/policy.py)?"""
    seg = config.get("segment", vpc.segment or "")
    return bool(seg is not None and active(seg) and vpc.micro_segmentation and len(vpc.subnets) > 1)


def _subnet_policy(eps: list[Placed]) -> str:
    """New connections from another subnet to an endpoint meet the segment
    policy, between conntrack (-200) and the translation (-100): the policy
    sees the endpoint's address, as for any address of the subnet."""
    rules = [f"iifname != {quote(naming.bridge_if(ep.subnet))} ip daddr {ep.address} tcp dport {ep.port} jump seg_policy"
             for ep in eps]
    head = 'type filter hook prerouting priority -150; policy accept; ct state != new accept; iifname != "b*" accept'
    return "chain ep_subnets { " + "; ".join([head, *rules]) + "; }"