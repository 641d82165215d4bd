"""Compiler stage: services in hosts, and the policy-log collectors.

A service is a supervised process in its host's namespace. `dns` answers
the lab's host names under the lab's own domain (`HOST.LAB.`) from a hosts
file that is part of the item, so adding a host restarts the DNS servers
with the new list; it forwards nothing. Routers whose tables hold `log`
entries get a collector of their NFLOG group.
"""

from __future__ import annotations

from engine.addressing import host_subnet, parse_prefix, service_port
from engine.compile import naming
from engine.compile.policy import LOG_GROUP
from engine.items import NftItem, ServiceItem
from engine.model import Config, Host, Vpc
from engine.plan import PlanBuilder


def hosts_file(lab: str, config: Config) -> str:
    """`ADDRESS NAME.LAB NAME` per host, sorted: what a dns service answers."""
    return "".join(f"{h.address} {h.name}.{lab} {h.name}\n" for _v, h in sorted(config.hosts(), key=lambda vh: vh[1].name))


def build_services(lab: str, config: Config, out: PlanBuilder) -> None:
    """One ServiceItem per configured service."""
    names: str | None = None
    for vpc in config.vpcs:
        for svc in vpc.services:
            host = next((h for h in vpc.hosts if h.name == svc.host), None)
            where = _listen(vpc, host)
            if host is None or where is None:
                continue
            if svc.kind == "dns" and names is None:
                names = hosts_file(lab, config)
            data = names if svc.kind == "dns" else f"vpclab {lab}: host {host.name} ({host.address}), service {svc.name}\n"
            out.add(
                ServiceItem(
                    ns=naming.host_ns(lab, host.name),
                    name=svc.name,
                    kind=svc.kind,
                    port=service_port(svc.kind, svc.port),
                    tag=f"{lab}/{vpc.name}/{svc.name}",
                    address=host.address,
                    on_address=(naming.HOST_IF, where),
                    data=data or "",
                    origin=f"vpc {vpc.name} service {svc.name}",
                )
            )


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
