"""Compiler stage: services in hosts, and the policy-log collectors.

A service is a supervised process in its host's namespace. `dns` answers
the lab's zone (`HOST.LAB.`, `SERVICE.LAB.`) for the asker, by its segment
(engine/dns.py); it forwards nothing. Its views are a ServiceDataItem of
their own, which the server reads again when it changes, so adding a host
or an endpoint changes its answers without a restart. Routers whose tables
hold `log` entries get a collector of their NFLOG group.
"""

from __future__ import annotations

from engine.addressing import host_subnet, parse_prefix, service_port
from engine.compile import naming
from engine.compile.policy import LOG_GROUP
from engine.dns import Zones
from engine.items import NftItem, ServiceDataItem, ServiceItem
from engine.model import Config, Host, Vpc
from engine.plan import PlanBuilder


def build_services(lab: str, config: Config, out: PlanBuilder) -> None:
    """One ServiceItem per configured service, and a dns service's views."""
    zones = Zones(lab, config)
    for vpc in config.vpcs:
        for svc in vpc.services:
            host = next((h for h in vpc.hosts if h.name == svc.host), None)
            where = _listen(vpc, host)
            if host is None or where is None:
                continue
            ns, tag = naming.host_ns(lab, host.name), f"{lab}/{vpc.name}/{svc.name}"
            page = f"vpclab {lab}: host {host.name} ({host.address}), service {svc.name}\n" if svc.kind == "http" else ""
            out.add(
                ServiceItem(
                    ns=ns,
                    name=svc.name,
                    kind=svc.kind,
                    port=service_port(svc.kind, svc.port),
                    tag=tag,
                    address=host.address,
                    on_address=(naming.HOST_IF, where),
                    data=page,
                    origin=f"vpc {vpc.name} service {svc.name}",
                )
            )
            if svc.kind == "dns" and vpc.segment:
                out.add(ServiceDataItem(ns, svc.name, tag, zones.text(vpc.segment)))


def _listen(vpc: Vpc, host: Host | None) -> str | None:
    """The address and length a service's host holds (the service's dependency)."""
    if host is None:
        return None
    nets = {s.name: n for s in vpc.subnets if (n := parse_prefix(s.prefix)) is not None}
    net = nets.get(host_subnet(host, nets) or "")
    return f"{host.address}/{net.prefixlen}" if net else None


def build_log_collectors(lab: str, out: PlanBuilder, tables: list[NftItem]) -> None:
    """A collector in every namespace whose table logs."""
    for table in tables:
        if f"log group {LOG_GROUP}" in table.ruleset:
            # the NFLOG group travels as the item's port
            out.add(ServiceItem(table.ns, "policy-log", "policy-log", LOG_GROUP, f"{lab}/{table.ns}/policy-log", origin="policy log"))
