"""`show` commands: tables of the running configuration, routes, lab health, history."""

from __future__ import annotations

import ipaddress
from typing import Any

from engine.endpoints import vpc_endpoint_rows
from engine.errors import NotFoundError
from engine.model import Config, Host, Vpc
from shell.context import Context
from shell.grammar.registry import Command
from shell.render import detail_result, rows_result
from shell.state import Result


def _running(ctx: Context) -> Config:
    return ctx.api.running


def host_subnet(vpc: Vpc, host: Host) -> str | None:
    """The subnet a host sits in: declared, or the one holding its address."""
    if host.subnet:
        return host.subnet
    for sn in vpc.subnets:
        try:
            if ipaddress.IPv4Address(host.address) in ipaddress.IPv4Network(sn.prefix, strict=False):
                return sn.name
        except ValueError:
            continue
    return None


def _cxps(ctx: Context) -> Result:
    cfg = _running(ctx)
    rows = [{"name": c.name, "cloud": c.cloud, "region": c.region,
             "vpcs": sum(1 for v in cfg.vpcs if v.cxp == c.name), "description": c.description}
            for c in cfg.objects("cxp")]
    return rows_result(rows)


def _segments(ctx: Context) -> Result:
    cfg = _running(ctx)
    rows = [{"name": s.name, "default_action": s.default_action, "policies": len(s.policies),
             "vpcs": sum(1 for v in cfg.vpcs if v.segment == s.name),
             "cxps": sorted({v.cxp for v in cfg.vpcs if v.segment == s.name}), "description": s.description}
            for s in cfg.segments]
    return rows_result(rows)


def _vpc_row(v: Vpc) -> dict[str, Any]:
    return {"name": v.name, "cxp": v.cxp, "segment": v.segment, "group": v.group, "cidrs": list(v.cidrs),
            "subnets": len(v.subnets), "hosts": len(v.hosts), "micro_segmentation": v.micro_segmentation}


def _vpcs(ctx: Context) -> Result:
    return rows_result([_vpc_row(v) for v in _running(ctx).vpcs])


def _host_rows(cfg: Config, vpc_name: str | None = None) -> list[dict[str, Any]]:
    return [{"name": h.name, "address": h.address, "vpc": v.name, "subnet": host_subnet(v, h),
             "segment": v.segment, "cxp": v.cxp}
            for v, h in cfg.hosts() if vpc_name in (None, v.name)]


def _hosts(ctx: Context) -> Result:
    return rows_result(sorted(_host_rows(_running(ctx)), key=lambda r: r["name"]))


def _groups(ctx: Context) -> Result:
    return rows_result(ctx.api.groups(), empty="No groups configured.")


def _prefix_lists(ctx: Context) -> Result:
    rows = [{"name": p.name, "seq": e.seq, "action": e.action, "prefix": e.prefix, "ge": e.ge, "le": e.le}
            for p in _running(ctx).prefix_lists for e in p.entries]
    return rows_result(rows)


def _end(end: Any) -> str | None:
    return f"{end.segment} ({end.prefix_list})" if end else None


def _shares(ctx: Context) -> Result:
    rows = [{"name": s.name, "end_a": _end(s.end_a), "end_b": _end(s.end_b), "direction": s.direction,
             "nat": [f"{n.end} {n.original}->{n.translated}" for n in s.nat], "firewall": s.firewall}
            for s in _running(ctx).shares]
    return rows_result(rows)


def _get(cfg: Config, kind: str, name: str) -> Any:
    obj = cfg.get(kind, name)
    if obj is None:
        raise NotFoundError(f"{kind} {name} does not exist in the running configuration")
    return obj


def _vpc(ctx: Context, name: str) -> Result:
    cfg = _running(ctx)
    vpc = _get(cfg, "vpc", name)
    subnets = [{"name": s.name, "prefix": s.prefix, "group": s.group} for s in vpc.subnets]
    services = [{"name": s.name, "kind": s.kind, "host": s.host, "port": s.port} for s in vpc.services]
    hosts = _host_rows(cfg, vpc.name)
    endpoints = vpc_endpoint_rows(cfg, vpc.name)
    head = {k: val for k, val in _vpc_row(vpc).items() if k not in ("subnets", "hosts")}
    head["description"] = vpc.description
    data = {**head, "subnets": subnets, "hosts": hosts, "services": services, "endpoints": endpoints}
    return detail_result(head, [("Subnets", subnets), ("Hosts", hosts), ("Services", services), ("Endpoints", endpoints)], data)


def _segment(ctx: Context, name: str) -> Result:
    cfg = _running(ctx)
    seg = _get(cfg, "segment", name)
    vpcs = [_vpc_row(x) for x in cfg.vpcs if x.segment == seg.name]
    policy = [{"seq": p.seq, "action": p.action + (f" {p.firewall}" if p.firewall else ""), "protocol": p.protocol,
               "src": p.src, "dst": p.dst, "ports": p.ports, "log": p.log} for p in seg.policies]
    shares = [{"name": s.name, "end_a": _end(s.end_a), "end_b": _end(s.end_b), "direction": s.direction}
              for s in cfg.shares if seg.name in (getattr(s.end_a, "segment", None), getattr(s.end_b, "segment", None))]
    head = {"name": seg.name, "default_action": seg.default_action, "description": seg.description}
    data = {**head, "vpcs": vpcs, "policy": policy, "shares": shares}
    return detail_result(head, [("VPCs", vpcs), ("Policy", policy), ("Shares", shares)], data)


def _share(ctx: Context, name: str) -> Result:
    d = ctx.api.share(name)
    ends = {k: f"segment {d[k]['segment']} prefix-list {d[k]['prefix_list']}" for k in ("end_a", "end_b")}
    head = {"name": d["name"], "end-a": ends["end_a"], "end-b": ends["end_b"],
            "direction": f"{d['direction']} (opened by {d['opens']})", "firewall": d["firewall"], "description": d["description"]}
    return detail_result(head, [("Admitted prefixes (as the receiving end sees them)", d["admitted"]), ("NAT", d["nat"])], d)


def _share_statistics(ctx: Context, name: str) -> Result:
    return rows_result(ctx.api.share_statistics(name), empty="The share is not complete (an end is missing).")


def _services(ctx: Context) -> Result:
    return rows_result(ctx.api.services(), empty="No services configured.")


HIT_COLUMNS = ("scope", "name", "seq", "action", "match", "packets", "bytes")


def _scope(segment: str | None, share: str | None, firewall: str | None) -> tuple[str | None, str | None]:
    """The `[segment S | share N | firewall F]` selection of hits and counters."""
    for scope, name in (("segment", segment), ("share", share), ("firewall", firewall)):
        if name:
            return scope, name
    return None, None


def _policy_hits(ctx: Context, segment: str | None = None, share: str | None = None, firewall: str | None = None,
                 nonzero: bool = False) -> Result:
    scope, name = _scope(segment, share, firewall)
    rows = ctx.api.policy_hits(scope, name, nonzero)
    return rows_result(rows, HIT_COLUMNS, empty="No policy entries with counters.")


def _log(ctx: Context, count: int = 20) -> Result:
    lines = ctx.api.log(count)
    return Result("\n".join(lines) if lines else "The policy log is empty.", data=lines)


def _clear_counters(ctx: Context, segment: str | None = None, share: str | None = None, firewall: str | None = None) -> Result:
    scope, name = _scope(segment, share, firewall)
    n = ctx.api.clear_counters(scope, name)
    return Result(f"Counters cleared in {n} table(s).", data={"tables": n})


ROUTE_COLUMNS = ("segment", "cxp", "prefix", "origin", "via", "group", "original_prefix", "installed")


def _routes(ctx: Context, segment: str | None = None, cxp: str | None = None, vpc: str | None = None,
            prefix: str | None = None) -> Result:
    rows = ctx.api.routes(segment=segment, cxp=cxp, vpc=vpc, prefix=prefix)
    return rows_result(rows, ROUTE_COLUMNS, empty="No routes.")


def _lab(ctx: Context, health: bool = False) -> Result:
    api = ctx.api
    state = api.health()
    summary = {"lab": api.name, "commits": len(api.history()), **state.summary}
    if not health:
        return detail_result(summary, [], summary)
    rows = state.rows()
    head = {**summary, "health": "ok" if state.ok else f"{len(rows)} problem(s)"}
    return detail_result(head, [("Drift", rows)], {"ok": state.ok, "drift": rows, "summary": state.summary})


LISTS = {"cxps": _cxps, "segments": _segments, "vpcs": _vpcs, "hosts": _hosts, "groups": _groups,
         "prefix-lists": _prefix_lists, "shares": _shares}


def commands() -> list[Command]:
    """The show commands."""
    out = [Command(f"show {word}", handler, ("exec",)) for word, handler in LISTS.items()]
    out += [
        Command("show vpc name=VPC", _vpc, ("exec",), "Details of one VPC"),
        Command("show segment name=SEGMENT", _segment, ("exec",), "Details of one segment"),
        Command("show share name=SHARE", _share, ("exec",), "Details of one resource share"),
        Command("show share name=SHARE statistics", _share_statistics, ("exec",),
                {"statistics": "Packets and bytes each way through the share"}),
        Command("show ip route [segment segment=SEGMENT|cxp cxp=CXP|vpc vpc=VPC|prefix=ADDRESS-OR-PREFIX]*",
                _routes, ("exec",), {"segment": "Only this segment", "cxp": "Only this hub", "vpc": "Only routes of this VPC"}),
        Command("show lab [health=health]", _lab, ("exec",)),
        Command("show services", _services, ("exec",), "Services with state, address and process"),
        Command("show policy hits [segment segment=SEGMENT|share share=SHARE|firewall firewall=FIREWALL] [nonzero=nonzero]",
                _policy_hits, ("exec",), {"policy": "Packets and bytes per policy entry", "segment": "Only this segment's policy",
                                          "share": "Only this share", "firewall": "Only this firewall's rules (all instances)",
                                          "nonzero": "Only entries that matched"}),
        Command("show log [count=LINES]", _log, ("exec",), "Lines written by 'log' policy entries"),
        Command("clear counters [segment segment=SEGMENT|share share=SHARE|firewall firewall=FIREWALL]",
                _clear_counters, ("exec",), {"counters": "Zero policy hit counters", "segment": "Only this segment's policy",
                                             "share": "Only this share (and its link statistics)",
                                             "firewall": "Only this firewall's rules, in every instance"}),
    ]
    return out
