"""`verify [segment S]`: intended against observed reachability of every pair.

The units are the groups (a group's hosts in one segment), every host in
no group stands for itself, and an internet edge's public hosts are one
unit (probed at their public addresses; they probe the lab at its private
addresses, which must stay unreachable, and through the load balancers
whose backends they target). For every ordered pair of units, the first
host of the source unit probes the first host of the target unit with
icmp, and each host of the target unit on every port its services listen
on. The address used is the one the source's segment knows the target by:
its own address in the same segment, the translated one through a share.
Every endpoint that a segment in scope reaches is a target-only unit: each
unit probes it with tcp on its service's port at the address its segment
reaches it by (the endpoint's own where none), and reaches it only when
the provider receives the probe from that endpoint's private link (the
provider sees each endpoint under its own address; another endpoint of
the same service at the same address is not this one).
The data-path model says what is intended (engine/datapath), real probes,
all sent at once (Fabric.probe_many), what happens.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from engine.compile import naming
from engine.compile.endpoint_layout import Placed, layout, reach
from engine.datapath import Model, from_host
from engine.model import Config, Host, Internet, PublicHost, Vpc
from engine.ports import Fabric, ProbeResult, ProbeSpec
from engine.shares import end_of, imports
from engine.trace import EPHEMERAL

VERIFY_TIMEOUT = 1.0


@dataclass(frozen=True)
class Unit:
    """A row and column of the matrix: a group in one segment, or a lone host."""

    name: str  # "group apps", "host papp1", "endpoint s3ep"
    segment: str
    hosts: tuple[str, ...]  # sorted; the first one speaks for the unit (none: an endpoint, probed only)

    @property
    def rep(self) -> str:
        """The host that sends and answers for the unit."""
        return self.hosts[0]


@dataclass(frozen=True)
class Check:
    """One probe of the matrix: intended (model) and observed (packet)."""

    src: Unit
    dst: Unit
    src_host: str
    dst_host: str
    address: str
    protocol: str
    port: int | None
    intended: bool
    reason: str
    sport: int | None = None  # the probe's source port, predicted and sent alike
    observed: bool | None = None
    detail: str = ""
    observe_ns: str = ""  # where delivery is checked (the target host's or the provider's namespace)
    via: str | None = None  # an endpoint's link address: the provider must see the probe from it

    @property
    def agree(self) -> bool:
        """True when the packet did what the model said."""
        return self.intended == self.observed

    def as_dict(self) -> dict[str, Any]:
        """The JSON row."""
        return {"src": self.src.name, "dst": self.dst.name, "src_host": self.src_host, "dst_host": self.dst_host,
                "address": self.address, "protocol": self.protocol, "port": self.port,
                "intended": "reachable" if self.intended else "unreachable",
                "observed": "reachable" if self.observed else "unreachable",
                "agree": self.agree, "reason": self.reason, "detail": self.detail}  # fmt: skip


def units(config: Config, segment: str | None = None) -> list[Unit]:
    """The matrix's units in scope: a segment, and the segments it shares with."""
    scope = _scope(config, segment)
    grouped: dict[tuple[str, str], set[str]] = {}
    loose: list[Unit] = []
    for vpc, host in config.hosts():
        if vpc.segment is None or (scope is not None and vpc.segment not in scope):
            continue
        names = _groups_of(vpc, host)
        for g in names:
            grouped.setdefault((g, vpc.segment), set()).add(host.name)
        if not names:
            loose.append(Unit(f"host {host.name}", vpc.segment, (host.name,)))
    spans = {g for g, s in grouped if sum(1 for g2, _ in grouped if g2 == g) > 1}
    out = [Unit(f"group {g}" + (f" (segment {s})" if g in spans else ""), s, tuple(sorted(h))) for (g, s), h in grouped.items()]
    # an internet edge's public hosts are one unit (the edge's segments in scope)
    edges = [Unit(f"internet {e.name}", f"internet {e.name}", tuple(sorted(p.name for p in e.public_hosts)))
             for e in config.internets if e.public_hosts and (scope is None or scope & set(e.segments))]  # fmt: skip
    # endpoints that a segment in scope reaches: targets only
    endpoints = [Unit(f"endpoint {ep.endpoint.name}", ep.segment, ()) for ep in layout(config).endpoints
                 if scope is None or scope & {r.segment for r in reach(config, ep)}]  # fmt: skip
    ordered = sorted(out, key=lambda u: (u.segment, u.name)) + sorted(loose, key=lambda u: (u.segment, u.name))
    return ordered + edges + sorted(endpoints, key=lambda u: (u.segment, u.name))


def _scope(config: Config, segment: str | None) -> set[str] | None:
    if segment is None:
        return None
    out = {segment}
    for share in config.shares:
        ends = {e.segment for e in (share.end_a, share.end_b) if e is not None}
        if segment in ends:
            out |= ends
    return out


def _groups_of(vpc: Vpc, host: Host) -> list[str]:
    subnet = next((s for s in vpc.subnets if s.name == host.subnet), None) if host.subnet else None
    if subnet is None:
        from engine.addressing import host_subnet, parse_prefix

        nets = {s.name: n for s in vpc.subnets if (n := parse_prefix(s.prefix)) is not None}
        name = host_subnet(host, nets)
        subnet = next((s for s in vpc.subnets if s.name == name), None)
    return sorted({g for g in (vpc.group, subnet.group if subnet else None) if g})


def address_for(config: Config, src: Vpc, dst: Vpc, host: Host) -> str:
    """The address `src`'s segment reaches `host` by (through a share: translated)."""
    if src.segment == dst.segment:
        return host.address
    for imp in imports(config):
        side = end_of(config.require("resource-share", imp.share), imp.end)
        if imp.segment == src.segment and side is not None and side.segment == dst.segment:
            addr = ipaddress.IPv4Address(host.address)
            if addr in imp.offer.original:
                return str(imp.offer.seen.network_address + (int(addr) - int(imp.offer.original.network_address)))
    return host.address


def source_ports() -> Iterator[int]:
    """Ephemeral source ports in random order, none twice before all are
    used: two probes through one endpoint leave its router from the same
    link address, and a port already taken there would be rewritten."""
    pool = list(range(EPHEMERAL[0], EPHEMERAL[1] + 1))
    while True:
        random.shuffle(pool)
        yield from pool


def plan_checks(model: Model, scope: list[Unit]) -> list[Check]:
    """Every probe of the matrix with the model's intended verdict."""
    config = model.config
    hosts = {h.name: (v, h) for v, h in config.hosts()}
    public = {p.name: (e, p) for e in config.internets for p in e.public_hosts}
    placed = {f"endpoint {ep.endpoint.name}": ep for ep in layout(config).endpoints}
    sports = source_ports()
    out = []
    for src in scope:
        for dst in scope:
            if src == dst or not src.hosts:
                continue
            if not dst.hosts:
                out.append(_endpoint_check(model, src, dst, placed[dst.name], next(sports)))
                continue
            targets: list[tuple[str, str, int | None]] = [(dst.rep, "icmp", None)]
            targets += [(h, lst.proto, lst.port) for h in dst.hosts for lst in model.listeners(h)]
            for host, proto, port in dict.fromkeys(targets):
                if host == src.rep:
                    continue
                address, meant = _address(config, hosts, public, src.rep, host, proto, port)
                sport = next(sports) if proto != "icmp" else None
                w = from_host(model, src.rep, address, proto, port, sport, meant)
                if meant is None:  # a load balancer's VIP: the backend the model predicts is where delivery is checked
                    found = model.host_at(w.outcome.stopped_at)
                    host = found[1].name if found is not None else host
                out.append(Check(src, dst, src.rep, host, address, proto, port, w.outcome.reachable, w.outcome.reason, sport,
                                 observe_ns=model.host_ns(host)))  # fmt: skip
    return out


def _endpoint_check(model: Model, src: Unit, dst: Unit, ep: Placed, sport: int) -> Check:
    """tcp to the endpoint's service port at the address src's segment
    reaches it by; intended when the model's walk ends at the provider
    coming out of this endpoint's private link (from its link address)."""
    seen = {r.segment: r.address for r in reach(model.config, ep)}
    address = seen.get(src.segment, ep.address)
    w = from_host(model, src.rep, address, "tcp", ep.port, sport)
    provider = naming.provider_ns(model.lab, ep.service.name)
    reason = w.outcome.reason
    through = w.outcome.stopped_at == provider and w.hops[-1].src == ep.link
    if w.outcome.reachable and not through:
        reason += f", not through endpoint {ep.endpoint.name}"
    return Check(src, dst, src.rep, f"endpoint-service {ep.service.name}", address, "tcp", ep.port,
                 w.outcome.reachable and through, reason, sport, observe_ns=provider, via=ep.link)  # fmt: skip


def _address(config: Config, where: dict[str, tuple[Vpc, Host]], public: dict[str, tuple[Internet, PublicHost]],
             src: str, dst: str, proto: str, port: int | None) -> tuple[str, str | None]:
    """(the address a probe from `src` to host `dst` goes to, the host it
    must reach, None when the fabric chooses: a load balancer's backend).
    Public hosts are reached by their address, and reach a lab host only by
    a load balancer's VIP it backs (its own address is the private one, which
    the internet must not reach)."""
    if dst in public:
        return public[dst][1].address, dst
    if src in public:
        edge = public[src][0]
        lb = next((b for b in edge.load_balancers if dst in b.backends and proto == "tcp" and b.port == port), None)
        return (lb.vip, None) if lb is not None else (where[dst][1].address, dst)
    return address_for(config, where[src][0], where[dst][0], where[dst][1]), dst


def verify(model: Model, fabric: Fabric, segment: str | None = None, timeout: float = VERIFY_TIMEOUT) -> tuple[list[Unit], list[Check]]:
    """The units in scope and every check, probed for real."""
    scope = units(model.config, segment)
    checks = plan_checks(model, scope)
    specs = [ProbeSpec(model.host_ns(c.src_host), c.address, c.protocol, c.port, c.sport, c.observe_ns, c.via) for c in checks]
    results: list[ProbeResult] = fabric.probe_many(specs, timeout) if specs else []
    done = [replace(c, observed=r.reachable, detail=r.detail) for c, r in zip(checks, results, strict=True)]
    return scope, done
