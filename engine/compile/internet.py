"""Compiler stage: internet edges, their public hosts and their links.

An edge is a router namespace (`LAB-i-NAME`) on its hub. Each public host
is a namespace of its own (`LAB-p-NAME`: its /32 on `eth0`, a default
route to the edge router, an HTTP server on port 80) on a port `p.NAME` of
the edge router. Each segment the edge serves has a link to the segment's
router on the edge's hub: a veth, or with `inspect firewall` a wire through
every instance of the firewall (compile/firewall.py builds the wire's legs
and instances). The segment's routers get a default route towards it
(origin `internet`), over the backbone from other hubs.

In the edge router (engine/marks.py for the marks):
- egress: connections from a segment get that segment's conntrack zone in
  their original direction only, so two tenants with the same private
  address and port are two connections, which SNAT to `snat-address`
  makes distinct on the public side; each is pinned to the leg it came in
  on (reply-to), since the replies' private destination could be either
  tenant's;
- ingress: a load balancer's VIP:port is DNATed to one of its backends by
  jhash of the connection (predictable: engine/jhash.py), and the
  connection pinned to the backend's segment's leg (or, inspected, to an
  instance of that wire, by a second jhash);
- from public hosts nothing is forwarded into the lab but what was DNATed
  (`ct status dnat`): no route, no other path.
"""

from __future__ import annotations

from engine.compile import naming
from engine.compile.firewall import FABRIC, wire_entry
from engine.compile.nft import Rulesets, quote
from engine.compile.steering import CLASSIFY, REPLY_TO, Steering, chain_name
from engine.compile.topology import HOST_SYSCTLS, ROUTER_SYSCTLS, Fabric
from engine.inspection import Edge, EdgeLeg, Layout
from engine.items import AddressItem, LinkConfItem, NetnsItem, RouteItem, RouteMeta, ServiceItem, VethItem
from engine.marks import JHASH_SEED, ORIGINAL, REPLY
from engine.model import Config, LoadBalancer
from engine.plan import PlanBuilder

DEFAULT = "0.0.0.0/0"
HTTP_PORT = 80
EDGE_SYSCTLS = ROUTER_SYSCTLS + (("net.ipv4.conf.all.send_redirects", "0"),)


def build_internet(config: Config, fab: Fabric, layout: Layout, steer: Steering, out: PlanBuilder, rules: Rulesets) -> None:
    """Every edge: its router, public hosts, links, routes and table."""
    for edge in layout.edges:
        out.add(NetnsItem(edge.ns, "internet", f"internet {edge.name}", EDGE_SYSCTLS))
        out.add(LinkConfItem(edge.ns, "lo"))
        out.add(AddressItem(edge.ns, "lo", f"{edge.address}/32"))
        for spot in edge.hosts:
            _public_host(layout.lab, edge, spot.name, spot.address, spot.ns, spot.edge_if, out)
        for leg in edge.legs:
            _leg(layout, fab, edge, leg, steer, out, rules)
        _edge_table(config, layout, edge, steer, rules)


def _public_host(lab: str, edge: Edge, name: str, address: str, ns: str, edge_if: str, out: PlanBuilder) -> None:
    on = f"{address}/32"
    out.add(NetnsItem(ns, "public-host", f"public host {name} internet {edge.name}", HOST_SYSCTLS))
    out.add(LinkConfItem(ns, "lo"))
    out.add(VethItem(edge.ns, edge_if, ns, naming.HOST_IF))
    out.add(LinkConfItem(edge.ns, edge_if, f"{lab}:public host {name}"))
    out.add(LinkConfItem(ns, naming.HOST_IF, f"{lab}:public host {name} on internet {edge.name}"))
    out.add(AddressItem(ns, naming.HOST_IF, on))
    out.add(RouteItem(ns, DEFAULT, edge.address, naming.HOST_IF, onlink=True, on_address=on))
    out.add(RouteItem(edge.ns, on, None, edge_if))
    page = f"vpclab {lab}: public host {name} ({address}) on internet {edge.name}\n"
    out.add(ServiceItem(ns, "http", "http", HTTP_PORT, f"{lab}/@internet.{edge.name}/{name}", address,
                        (naming.HOST_IF, on), page, f"internet {edge.name} public-host {name}"))  # fmt: skip


def _leg(layout: Layout, fab: Fabric, edge: Edge, leg: EdgeLeg, steer: Steering, out: PlanBuilder, rules: Rulesets) -> None:
    """One served segment: the link (or the wire's ends) and its default routes."""
    lab = layout.lab
    router = leg.router
    if leg.wire is None:
        out.add(VethItem(router.ns, router.ifnames[0], edge.ns, leg.edge.ifnames[0]))
        out.add(LinkConfItem(router.ns, router.ifnames[0], f"{lab}:internet {edge.name}"))
        out.add(LinkConfItem(edge.ns, leg.edge.ifnames[0], f"{lab}:segment {leg.segment}"))
        steer.target(edge.ns, leg.edge.key, 1, leg.edge.ifnames[0], router.address)
        gateway, first = edge.address, router.ifnames[0]
    else:
        legs = ", ".join(quote(n) for n in router.ifnames)
        wire_entry(steer, rules, layout, leg.wire, router, f"fib daddr oifname {{ {legs} }}")  # egress: chosen here
        wire_entry(steer, rules, layout, leg.wire, leg.edge, "")  # ingress is chosen with the backend (_edge_table)
        gateway, first = layout.instances[leg.wire.firewall][0].address, router.ifnames[0]
    meta = RouteMeta(leg.segment, edge.hub, "internet", f"internet {edge.name}")
    out.add(RouteItem(router.ns, DEFAULT, gateway, first, onlink=True, meta=meta))
    for cxp in fab.segment_cxps(leg.segment):
        if cxp != edge.hub:
            far = RouteMeta(leg.segment, cxp, "internet", f"internet {edge.name} (cxp {edge.hub})")
            out.add(RouteItem(naming.segment_ns(lab, leg.segment, cxp), DEFAULT, router.address, naming.backbone_if(edge.hub), True, meta=far))


def _edge_table(config: Config, layout: Layout, edge: Edge, steer: Steering, rules: Rulesets) -> None:
    """Zones, reply-to, load balancers, SNAT and the ingress filter of the edge router."""
    r = rules.ns(edge.ns, FABRIC)
    public = ", ".join(quote(h.edge_if) for h in edge.hosts)
    inside = ", ".join(quote(n) for leg in edge.legs for n in leg.edge.ifnames)
    zones = ", ".join(f"{quote(n)} : {leg.ct_zone}" for leg in edge.legs for n in leg.edge.ifnames)
    if zones:
        r.raw.append(f"ct original zone set iifname map {{ {zones} }}")
    direct = [(n, steer.pin(edge.ns, layout.target(edge.ns, leg.edge.key), REPLY)) for leg in edge.legs if leg.wire is None for n in leg.edge.ifnames]
    if direct:
        r.steer.append((REPLY_TO, "ct state new iifname vmap { " + ", ".join(f"{quote(n)} : jump {p}" for n, p in direct) + " }"))
    for leg in edge.legs:
        backends = sorted({a for lb in edge.config.load_balancers for a in _backend_addresses(config, lb, leg.segment)})
        if backends:
            targets = [layout.target(edge.ns, leg.edge.key, n) for n in range(1, len(leg.edge.ifnames) + 1)]
            pick = steer.pick(edge.ns, chain_name("lb", leg.segment), targets, ORIGINAL)
            r.steer.append((CLASSIFY, f"ct state new ct status dnat ip daddr {{ {', '.join(backends)} }} jump {pick}"))
    if not public:
        return
    served = {leg.segment for leg in edge.legs}
    for lb in edge.config.load_balancers:
        addresses = [a for _name, a, seg in lb_backends(config, lb) if seg in served]
        if addresses:
            r.prerouting.append(f"iifname {{ {public} }} ip daddr {lb.vip} tcp dport {lb.port} dnat ip to {_choice(addresses)}")
    if inside and edge.config.snat_address:
        r.postrouting.append(f"iifname {{ {inside} }} oifname {{ {public} }} snat ip to {edge.config.snat_address}")
    r.forward.append((10, f"iifname {{ {public} }} oifname {{ {public} }} accept"))
    # (`ct status != dnat` compares the whole status word in nft 1.0.6: two rules)
    r.forward.append((10, f"iifname {{ {public} }} ct direction original ct status dnat accept"))
    r.forward.append((10, f"iifname {{ {public} }} ct direction original drop"))


def _choice(addresses: list[str]) -> str:
    """One address, or a jhash map over several (the order of the backend list)."""
    if len(addresses) == 1:
        return addresses[0]
    pairs = ", ".join(f"{i} : {a}" for i, a in enumerate(addresses))
    return f"jhash ip saddr . ip daddr . meta l4proto . th sport . th dport mod {len(addresses)} seed {JHASH_SEED:#x} map {{ {pairs} }}"


def lb_backends(config: Config, lb: LoadBalancer) -> list[tuple[str, str, str]]:
    """(host, address, segment) of a load balancer's backends, in backend
    order (the jhash map's order), leaving out names that are no host."""
    hosts = {h.name: (v, h) for v, h in config.hosts()}
    return [(name, hosts[name][1].address, hosts[name][0].segment or "") for name in lb.backends if name in hosts]


def _backend_addresses(config: Config, lb: LoadBalancer, segment: str) -> list[str]:
    """Addresses of a load balancer's backends that live in `segment`."""
    return [a for _name, a, seg in lb_backends(config, lb) if seg == segment]
