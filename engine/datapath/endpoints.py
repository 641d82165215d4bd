"""What a VPC router does for its endpoints, as the walk needs it.

Derived from the configuration with the compiler's own placement
(engine/compile/endpoint_layout.py), not from the rendered nft text, so a
rendering bug shows up as a disagreement between `trace` and the packet:

- prerouting: TCP to an endpoint's address and port is translated to its
  provider's address (`ep_dnat`); with micro-segmentation, a new
  connection from another subnet meets the segment policy first, on the
  endpoint's address (the `ep_subnets` chain); a packet sent to a
  provider's address itself is dropped (`oifname "pl*" ct status & dnat
  == 0 drop`: only a translation goes to a provider);
- postrouting: leaving by an endpoint's private link, the source becomes
  the link's own address (`ep_snat`), which is how the provider sees it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.compile import naming
from engine.compile.endpoint_layout import Placed, layout
from engine.compile.endpoints import micro_segmented
from engine.model import Config


@dataclass(frozen=True)
class RouterEndpoints:
    """The endpoints one VPC router holds, indexed as its packets meet them."""

    by_destination: dict[tuple[str, int], Placed] = field(default_factory=dict)  # (address, port)
    by_link: dict[str, Placed] = field(default_factory=dict)  # private link name
    providers: dict[str, Placed] = field(default_factory=dict)  # provider address
    judged: bool = False  # micro-segmentation: other subnets meet the policy


NONE = RouterEndpoints()


def by_router(lab: str, config: Config) -> dict[str, RouterEndpoints]:
    """VPC router namespace -> its endpoints."""
    grouped: dict[str, list[Placed]] = {}
    for ep in layout(config).endpoints:
        grouped.setdefault(naming.vpc_ns(lab, ep.vpc.name), []).append(ep)
    return {
        ns: RouterEndpoints(
            {(ep.address, ep.port): ep for ep in eps},
            {naming.private_link_if(ep.service.name): ep for ep in eps},
            {ep.provider: ep for ep in eps},
            micro_segmented(config, eps[0].vpc),
        )
        for ns, eps in grouped.items()
    }


def subnet_bridge(ep: Placed) -> str:
    """The bridge of the endpoint's subnet (its own subnet is never judged)."""
    return naming.bridge_if(ep.subnet)
