"""Views: rows for the shell and the monitor, joined with intent names.

Views take the running config, its plan and readings from the kernel, and
return plain dicts with exactly the fields CLI.md's JSON output names.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from engine.compile import naming
from engine.items import AddressItem, NetnsItem, RouteItem
from engine.model import Config, PublicHost
from engine.plan import Plan
from engine.ports import Drift, RouteReading


def host_ns(lab: str, host: str) -> str:
    """The namespace of a host."""
    return naming.host_ns(lab, host)


def public_ns(lab: str, host: str) -> str:
    """The namespace of a public host."""
    return naming.public_ns(lab, host)


def public_host(config: Config, name: str) -> PublicHost | None:
    """The public host called `name` on any internet edge."""
    return next((p for e in config.internets for p in e.public_hosts if p.name == name), None)


def public_host_at(config: Config, segment: str | None, address: str) -> PublicHost | None:
    """The public host with `address` on an edge that serves `segment`."""
    return next((p for e in config.internets if segment in e.segments for p in e.public_hosts if p.address == address), None)


def segment_router_ns(lab: str, segment: str, cxp: str) -> str:
    """The namespace of a segment router."""
    return naming.segment_ns(lab, segment, cxp)


def _installed(item: RouteItem, readings: dict[str, list[RouteReading]]) -> bool:
    for r in readings.get(item.ns, ()):
        if r.dst == item.dst and r.table == item.table:
            return r.gateway == item.gateway and r.dev == item.ifname and r.kind == item.type
    return False


def _prefix_filter(prefix: str | None):  # type: ignore[no-untyped-def]
    if not prefix:
        return lambda dst: True
    if "/" in prefix:
        want = ipaddress.ip_network(prefix, strict=False)
        return lambda dst: ipaddress.ip_network(dst).overlaps(want)
    addr = ipaddress.ip_address(prefix)
    return lambda dst: addr in ipaddress.ip_network(dst)


def route_namespaces(plan: Plan) -> list[str]:
    """The namespaces whose routes `show ip route` shows (segment routers'),
    the only ones it reads back."""
    return sorted({item.ns for item in plan.of_kind("route") if isinstance(item, RouteItem) and item.meta is not None
                   and item.meta.segment is not None})


def route_rows(
    config: Config,
    plan: Plan,
    readings: dict[str, list[RouteReading]],
    segment: str | None = None,
    cxp: str | None = None,
    vpc: str | None = None,
    prefix: str | None = None,
) -> list[dict[str, Any]]:
    """`show ip route`: the segment routers' tables, one row per route."""
    match = _prefix_filter(prefix)
    vpc_obj = config.get("vpc", vpc) if vpc else None
    rows: list[dict[str, Any]] = []
    for item in plan.of_kind("route"):
        if not isinstance(item, RouteItem) or item.meta is None or item.meta.segment is None:
            continue
        meta = item.meta
        if segment and meta.segment != segment or cxp and meta.cxp != cxp:
            continue
        if vpc_obj is not None and (meta.segment != vpc_obj.segment or meta.cxp != vpc_obj.cxp):
            continue  # the table that VPC sees: its segment on its hub
        if not match(item.dst):
            continue
        rows.append(
            {
                "segment": meta.segment,
                "cxp": meta.cxp,
                "prefix": item.dst,
                "origin": meta.origin,
                "via": meta.via,
                "group": meta.group,
                "original_prefix": meta.original_prefix,
                "translated_prefix": meta.translated_prefix,
                "installed": _installed(item, readings),
            }
        )
    rows.sort(key=lambda r: (r["segment"], r["cxp"], ipaddress.ip_network(r["prefix"])))
    return rows


def lab_summary(plan: Plan) -> dict[str, int]:
    """How many kernel objects of each kind the running plan holds."""
    roles: dict[str, int] = {}
    for item in plan.of_kind("ns"):
        role = getattr(item, "role", "?")
        roles[role] = roles.get(role, 0) + 1
    counts = plan.counts()
    return {
        "namespaces": counts.get("ns", 0),
        "hosts": roles.get("host", 0),
        "vpc_routers": roles.get("vpc-router", 0),
        "segment_routers": roles.get("segment-router", 0),
        **{key: roles[role] for key, role in (("firewall_instances", "firewall"), ("internet_routers", "internet"),
                                              ("public_hosts", "public-host")) if roles.get(role)},
        "links": counts.get("veth", 0) + counts.get("bridge", 0),
        "addresses": counts.get("addr", 0),
        "routes": counts.get("route", 0),
    }


@dataclass(frozen=True)
class Health:
    """`show lab health`: drift rows and the plan's size."""

    drift: list[Drift]
    summary: dict[str, int]

    @property
    def ok(self) -> bool:
        return not self.drift

    def rows(self) -> list[dict[str, str]]:
        """Drift as dicts, for JSON and tables."""
        return [{"namespace": d.ns, "kind": d.kind, "name": d.name, "problem": d.problem} for d in self.drift]


def group_rows(config: Config) -> list[dict[str, Any]]:
    """`show groups`: each group of each segment with its members."""
    from engine.prefixes import group_prefixes

    rows = []
    for group, members in sorted(config.groups().items()):
        by_segment: dict[str, list[tuple[str, str]]] = {}
        for kind, name in members:
            vpc = config.get("vpc", name.split("/")[0])
            by_segment.setdefault(vpc.segment if vpc and vpc.segment else "-", []).append((kind, name))
        for segment, own in sorted(by_segment.items()):
            rows.append(
                {
                    "group": group,
                    "segment": segment,
                    "vpcs": [n for k, n in own if k == "vpc"],
                    "subnets": [n for k, n in own if k == "subnet"],
                    "prefixes": group_prefixes(config, group, segment),
                }
            )
    return rows


def service_rows(config: Config, plan: Plan, pids: dict[str, int | None]) -> list[dict[str, Any]]:
    """`show services`: every service with its state, address and process."""
    from engine.items import ServiceItem

    items: dict[str, ServiceItem] = {i.origin: i for i in plan.of_kind("svc") if isinstance(i, ServiceItem)}
    rows = []
    for vpc in config.vpcs:
        for svc in vpc.services:
            item = items.get(f"vpc {vpc.name} service {svc.name}")
            pid = pids.get(f"{item.ns}/{item.name}") if item else None
            rows.append(
                {
                    "name": svc.name,
                    "kind": svc.kind,
                    "vpc": vpc.name,
                    "host": svc.host,
                    "address": item.address if item else None,
                    "port": item.port if item else svc.port,
                    "state": "running" if pid else ("down" if item else "not placed"),
                    "pid": pid,
                }
            )
    for edge in config.internets:
        for public in edge.public_hosts:
            item = items.get(f"internet {edge.name} public-host {public.name}")
            pid = pids.get(f"{item.ns}/{item.name}") if item else None
            rows.append({"name": "http", "kind": "http", "vpc": f"internet {edge.name}", "host": public.name, "address": public.address,
                         "port": item.port if item else None, "state": "running" if pid else ("down" if item else "not placed"), "pid": pid})
    for provider in config.endpoint_services:  # each provider's server, in its own namespace
        item = items.get(f"endpoint-service {provider.name}")
        pid = pids.get(f"{item.ns}/{item.name}") if item else None
        rows.append({"name": provider.name, "kind": provider.kind, "vpc": None, "host": f"endpoint-service {provider.name}",
                     "address": item.address if item else None, "port": item.port if item else provider.port,
                     "state": "running" if pid else ("down" if item else "not placed"), "pid": pid})
    for collector in plan.of_kind("svc"):
        if isinstance(collector, ServiceItem) and collector.kind == "policy-log":
            pid = pids.get(f"{collector.ns}/{collector.name}")
            rows.append({"name": collector.name, "kind": collector.kind, "vpc": None, "host": collector.ns, "address": None,
                         "port": None, "state": "running" if pid else "down", "pid": pid})
    return rows


def share_detail(config: Config, name: str) -> dict[str, Any]:
    """`show share NAME`: ends, what crosses each way (as seen), NAT, direction."""
    from engine.shares import end_of, offers, other

    share = config.require("resource-share", name)
    ends = {}
    for end in ("end-a", "end-b"):
        side = end_of(share, end)
        ends[end] = {"segment": side.segment if side else None, "prefix_list": side.prefix_list if side else None}
    crossing = []
    for end in ("end-a", "end-b"):
        to = end_of(share, other(end))
        for offer in offers(config, share, end):
            crossing.append(
                {
                    "from": f"{end} ({end_of(share, end).segment})",  # type: ignore[union-attr]
                    "to": f"{other(end)} ({to.segment if to else '?'})",
                    "prefix": str(offer.seen),
                    "original_prefix": str(offer.original) if offer.translated else None,
                }
            )
    opener = {"a-to-b": "end-a", "b-to-a": "end-b"}.get(share.direction, "either end")
    return {
        "name": share.name,
        "end_a": ends["end-a"],
        "end_b": ends["end-b"],
        "direction": share.direction,
        "opens": opener,
        "nat": [{"end": n.end, "original": n.original, "translated": n.translated} for n in share.nat],
        "admitted": crossing,
        "firewall": share.firewall,
        "description": share.description,
    }


def address_owners(lab: str, config: Config, plan: Plan) -> dict[str, list[tuple[str, str]]]:
    """Each address of the plan -> [(segment, node)] holding it, the node
    named as users know it: `host api1`, `vpc web router (hub core)`,
    `segment prod router (hub core)`. Tenants may overlap, so one address
    may belong to nodes of several segments (traceroute names its hops)."""
    nodes: dict[str, tuple[str, str]] = {}
    for vpc in config.vpcs:
        nodes[naming.vpc_ns(lab, vpc.name)] = (vpc.segment or "", f"vpc {vpc.name} router (hub {vpc.cxp})")
        for host in vpc.hosts:
            nodes[naming.host_ns(lab, host.name)] = (vpc.segment or "", f"host {host.name}")
    for svc in config.endpoint_services:
        nodes[naming.provider_ns(lab, svc.name)] = ("", f"endpoint-service {svc.name} provider (hub {svc.cxp})")
    router = f"{lab}-s-"
    for item in plan.of_kind("ns"):
        ns = item.ns
        if ns.startswith(router) and "@" in ns:
            segment, cxp = ns[len(router):].rsplit("@", 1)
            nodes[ns] = (segment, f"segment {segment} router (hub {cxp})")
        elif isinstance(item, NetnsItem) and item.role in ("firewall", "internet", "public-host"):
            nodes[ns] = ("", item.origin)  # `firewall fw1 instance 2`, `internet inet`, `public host web (internet inet)`
    owners: dict[str, list[tuple[str, str]]] = {}
    for addr in plan.of_kind("addr"):
        if isinstance(addr, AddressItem) and addr.ns in nodes:
            owners.setdefault(addr.cidr.split("/")[0], []).append(nodes[addr.ns])
    return owners
