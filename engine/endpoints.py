"""`show endpoints`: each endpoint with who reaches it and its connections.

The facts come from the compiler's placement (engine/compile/
endpoint_layout.py: addresses, and which segments reach each endpoint
under which address); the connections are the tracked connections of the
endpoint's VPC router that its translation took to the provider.
"""

from __future__ import annotations

import socket
from typing import Any

from engine.compile import naming
from engine.compile.endpoint_layout import Placed, Reach, layout, reach
from engine.model import Config
from engine.ports import Tracked


def router_namespaces(lab: str, config: Config) -> list[str]:
    """The VPC routers that hold endpoints (where their connections are tracked)."""
    return sorted({naming.vpc_ns(lab, ep.vpc.name) for ep in layout(config).endpoints})


def endpoint_rows(lab: str, config: Config, flows: dict[str, list[Tracked]]) -> list[dict[str, Any]]:
    """One row per endpoint: service, endpoint, vpc, cxp, address, port,
    reached_by (for people: `prod as 100.64.50.20 (share eps-prod)`), reach
    (the same as data: segment, address, share), connections."""
    rows = []
    for ep in layout(config).endpoints:
        tracked = flows.get(naming.vpc_ns(lab, ep.vpc.name), [])
        rows.append({
            "service": ep.service.name,
            "endpoint": ep.endpoint.name,
            "vpc": ep.vpc.name,
            "cxp": ep.vpc.cxp,
            "address": ep.address,
            "port": ep.port,
            "reached_by": [_reached(r) for r in reach(config, ep)],
            "reach": [{"segment": r.segment, "address": r.address, "share": r.share} for r in reach(config, ep)],
            "connections": sum(1 for f in tracked if _through(f, ep)),
        })  # fmt: skip
    return sorted(rows, key=lambda r: (r["service"], r["endpoint"]))


def vpc_endpoint_rows(config: Config, vpc: str) -> list[dict[str, Any]]:
    """`show vpc NAME`'s endpoints, as the running configuration lists them: name,
    service, address, port (what the endpoint translates) and provider (the
    provider's address, the destination a flow's NAT shows)."""
    return [{"name": ep.endpoint.name, "service": ep.service.name, "address": ep.address, "port": ep.port,
             "provider": ep.provider} for ep in layout(config).in_vpc(vpc)]  # fmt: skip


def _reached(r: Reach) -> str:
    """`apps`, or `prod as 100.64.0.20 (share svc-prod)`."""
    if r.share is None:
        return r.segment
    return f"{r.segment} as {r.address} (share {r.share})" if r.translated else f"{r.segment} (share {r.share})"


def _through(flow: Tracked, ep: Placed) -> bool:
    """A connection the endpoint translated: to its address, answered by its provider."""
    return flow.o_dst == socket.inet_aton(ep.address) and flow.r_src == socket.inet_aton(ep.provider)
