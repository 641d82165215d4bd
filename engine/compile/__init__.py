"""Intent to Plan: one pure stage per concern, each adding to a PlanBuilder.

The compiler assumes a Config that `validate` accepted; on anything else it
skips what it cannot place rather than guess.
"""

from __future__ import annotations

from engine.compile import routing, topology
from engine.model import Config
from engine.plan import Plan, PlanBuilder


def compile_plan(lab: str, config: Config) -> Plan:
    """The desired kernel state of `lab` for `config`."""
    out = PlanBuilder()
    fab = topology.fabric_of(lab, config)
    topology.build_segment_routers(fab, out)
    for vpc in config.vpcs:
        if vpc.segment is None:
            continue
        topology.build_vpc(fab, vpc, out)
        routing.build_vpc_routes(fab, vpc, out)
        routing.build_host_routes(fab, vpc, out)
    routing.build_segment_routes(fab, config, out)
    return out.build()
