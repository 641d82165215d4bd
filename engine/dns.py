"""DNS that answers for the asker: what each `dns` service answers, to whom.

A dns service answers the lab's zone, `NAME.LAB.` (and the bare `NAME.`):
every host and every endpoint service, as the asker's segment reaches them,
the way a cloud's private DNS zones answer each VPC its own records:

- a host: its address in the asker's own segment; in another segment, the
  address a share imports it under (translated where the share NATs it);
  no answer (NXDOMAIN) where the asker's segment does not reach it, rather
  than an address that there may be another tenant's host;
- an endpoint service: the address of an endpoint the asker's segment
  reaches, one of its own segment before one a share imports (then by VPC
  and endpoint name), as that segment sees it.

The server tells askers apart by their source address as it arrives at
the dns host: a source in the cidrs of the dns host's own segment is that
segment; any other arrives through a share, under the prefixes that share
imports into the dns host's segment, which identify the asking segment,
since validation keeps imports from overlapping each other and the
segment's VPCs. So each view is (source prefixes, names), and the server
(lab/dnsserver.py) answers from the view with the longest matching prefix.
"""

from __future__ import annotations

import ipaddress
import json
from functools import cached_property

from engine.compile.endpoint_layout import layout, reach
from engine.model import Config
from engine.shares import Offer, end_of, imports


class Zones:
    """The views of every dns service of one configuration, each segment's
    names computed once however many dns services ask for them."""

    def __init__(self, lab: str, config: Config) -> None:
        self.lab = lab
        self.config = config
        self._names: dict[str, dict[str, str]] = {}
        self._texts: dict[str, str] = {}
        # (receiving segment, offering segment, offer) of every share import
        self._imports: list[tuple[str, str, Offer]] = []
        for imp in imports(config):
            side = end_of(config.require("resource-share", imp.share), imp.end)
            if side is not None:
                self._imports.append((imp.segment, side.segment, imp.offer))

    def text(self, segment: str) -> str:
        """The views of a dns service whose host is in `segment`, as the
        JSON document the server reads."""
        if segment not in self._texts:
            views = [{"sources": sources, "names": self.names(asker)} for asker, sources in self.askers(segment)]
            self._texts[segment] = json.dumps({"zone": self.lab, "views": views}, sort_keys=True) + "\n"
        return self._texts[segment]

    def askers(self, segment: str) -> list[tuple[str, list[str]]]:
        """(asking segment, its source prefixes at a dns host of `segment`):
        the segment itself by its VPCs' cidrs, then every segment a share
        imports into it, by what it imports."""
        own = sorted({c for v in self.config.vpcs_in(segment) for c in v.cidrs}, key=_prefix_order)
        by_segment: dict[str, set[str]] = {}
        for receiver, offerer, offer in self._imports:
            if receiver == segment:
                by_segment.setdefault(offerer, set()).add(str(offer.seen))
        return [(segment, own)] + [(s, sorted(p, key=_prefix_order)) for s, p in sorted(by_segment.items())]

    def names(self, segment: str) -> dict[str, str]:
        """Name (lower case) -> the address under which `segment` reaches it."""
        if segment not in self._names:
            self._names[segment] = {**self._hosts(segment), **self._services(segment)}
        return self._names[segment]

    def _hosts(self, segment: str) -> dict[str, str]:
        out = {h.name.lower(): h.address for v in self.config.vpcs_in(segment) for h in v.hosts}
        for receiver, offerer, offer in self._imports:
            if receiver != segment:
                continue
            original, seen = offer.original, offer.seen
            for vpc in self.config.vpcs_in(offerer):
                for host in vpc.hosts:
                    addr = ipaddress.IPv4Address(host.address)
                    if addr in original:
                        out.setdefault(host.name.lower(), str(seen.network_address + (int(addr) - int(original.network_address))))
        return out

    def _services(self, segment: str) -> dict[str, str]:
        return self._endpoints.get(segment, {})

    @cached_property
    def _endpoints(self) -> dict[str, dict[str, str]]:
        """Segment -> service name -> the address of the endpoint it is told."""
        best: dict[str, dict[str, tuple[bool, str, str, str]]] = {}
        for ep in layout(self.config).endpoints:
            key = ep.service.name.lower()
            for r in reach(self.config, ep):
                choice = (r.share is not None, ep.vpc.name, ep.endpoint.name, r.address)
                known = best.setdefault(r.segment, {})
                if key not in known or choice < known[key]:
                    known[key] = choice
        return {seg: {name: c[3] for name, c in names.items()} for seg, names in best.items()}


def _prefix_order(prefix: str) -> tuple[int, int]:
    net = ipaddress.IPv4Network(prefix)
    return int(net.network_address), net.prefixlen
