"""Intent to Plan: one pure stage per concern, each adding to a PlanBuilder.

The compiler assumes a Config that `validate` accepted; on anything else it
skips what it cannot place rather than guess. A VPC's items depend only on
the VPC itself and the routers of its segment, so they are memoised on
exactly that, in the caller's CompileCache (engine/compile/cache.py):
recompiling a lab after a one-VPC change recomputes one VPC.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.compile import endpoints, naming, policy, routing, services, shares, topology
from engine.compile.cache import CompileCache
from engine.compile.nft import Rulesets
from engine.items import Item, Key, NftItem
from engine.model import Config, Vpc
from engine.origin import Origin
from engine.plan import Plan, PlanBuilder

FABRIC = Origin("fabric")


def compile_plan(lab: str, config: Config, cache: CompileCache | None = None) -> Plan:
    """The desired kernel state of `lab` for `config`. Without a cache the
    compile starts cold and remembers nothing (a fresh cache)."""
    cache = cache if cache is not None else CompileCache()
    out = PlanBuilder()
    fab = topology.fabric_of(lab, config)
    topology.build_segment_routers(fab, out)
    by_segment: dict[str, list[tuple[str, str]]] = {}
    for (seg, cxp), addr in sorted(fab.routers.items()):
        by_segment.setdefault(seg, []).append((cxp, addr))
    for vpc in config.vpcs:
        if vpc.segment is not None:
            routers = tuple(by_segment.get(vpc.segment, ()))
            out.merge(cache.vpcs.get((lab, vpc, routers), lambda: _vpc_items(lab, vpc, routers)))
    rules = Rulesets()
    for seg, cxp in fab.routers:
        rules.ns(naming.segment_ns(lab, seg, cxp), FABRIC).track = True
    shares.build_shares(fab, config, out, rules, cache)
    endpoints.build_endpoints(fab, config, out, rules)
    policy.build_policy(fab, config, rules, cache)
    tables = PlanBuilder()
    rules.emit(tables, cache)
    built = [i for i in tables.build() if isinstance(i, NftItem)]
    out.extend(built)
    services.build_services(lab, config, out)
    services.build_log_collectors(lab, out, built)
    return out.build()


def _vpc_items(lab: str, vpc: Vpc, routers: tuple[tuple[str, str], ...]) -> Mapping[Key, Item]:
    """Everything one VPC contributes: its router, hosts and segment routes."""
    fab = topology.Fabric(lab, {(vpc.segment or "", cxp): addr for cxp, addr in routers})
    out = PlanBuilder()
    topology.build_vpc(fab, vpc, out)
    routing.build_vpc_routes(fab, vpc, out)
    routing.build_host_routes(fab, vpc, out)
    routing.build_segment_routes(fab, vpc, out)
    return out.keyed()
