"""`verify [segment S]`: intended against observed reachability of every pair.

The units are the groups (a group's hosts in one segment), and every host
in no group stands for itself. For every ordered pair of units, the first
host of the source unit probes the first host of the target unit with
icmp, and each host of the target unit on every port its services listen
on. The address used is the one the source's segment knows the target by:
its own address in the same segment, the translated one through a share.
The data-path model says what is intended (engine/datapath), real probes,
all sent at once (Fabric.probe_many), what happens.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, replace
from typing import Any

from engine.datapath import Model, from_host
from engine.model import Config, Host, Vpc
from engine.ports import Fabric, ProbeResult, ProbeSpec
from engine.shares import end_of, imports
from engine.trace import EPHEMERAL

VERIFY_TIMEOUT = 1.0


@dataclass(frozen=True)
class Unit:
    """A row and column of the matrix: a group in one segment, or a lone host."""

    name: str  # "group apps", "host papp1"
    segment: str
    hosts: tuple[str, ...]  # sorted; the first one speaks for the unit

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
    return sorted(out, key=lambda u: (u.segment, u.name)) + sorted(loose, key=lambda u: (u.segment, u.name))


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


def plan_checks(model: Model, scope: list[Unit]) -> list[Check]:
    """Every probe of the matrix with the model's intended verdict."""
    config = model.config
    where = {h.name: (v, h) for v, h in config.hosts()}
    out = []
    for src in scope:
        for dst in scope:
            if src == dst:
                continue
            targets: list[tuple[str, str, int | None]] = [(dst.rep, "icmp", None)]
            targets += [(h, lst.proto, lst.port) for h in dst.hosts for lst in model.listeners(h)]
            for host, proto, port in dict.fromkeys(targets):
                if host == src.rep:
                    continue
                address = address_for(config, where[src.rep][0], where[host][0], where[host][1])
                sport = random.randint(*EPHEMERAL) if proto != "icmp" else None
                w = from_host(model, src.rep, address, proto, port, sport, host)
                out.append(Check(src, dst, src.rep, host, address, proto, port, w.outcome.reachable, w.outcome.reason, sport))
    return out


def verify(model: Model, fabric: Fabric, segment: str | None = None, timeout: float = VERIFY_TIMEOUT) -> tuple[list[Unit], list[Check]]:
    """The units in scope and every check, probed for real."""
    scope = units(model.config, segment)
    checks = plan_checks(model, scope)
    specs = [ProbeSpec(model.host_ns(c.src_host), c.address, c.protocol, c.port, c.sport, model.host_ns(c.dst_host)) for c in checks]
    results: list[ProbeResult] = fabric.probe_many(specs, timeout) if specs else []
    done = [replace(c, observed=r.reachable, detail=r.detail) for c, r in zip(checks, results, strict=True)]
    return scope, done
