"""`show flows`: conntrack entries of the segment routers, named in intent terms.

Each segment router tracks every connection it forwards (its table has a
forward chain with `ct state`), so a flow is read where it crosses a
segment: the row says which segment, which service it reaches (by the
configured services, else the well-known port), and the NAT a share
applied (the reply tuple that differs from the original).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from engine.compile.services import service_port
from engine.datapath.packet import ip_int
from engine.datapath.policy import Decision, PolicyJudge, judge_for
from engine.diff import Op, reloaded_tables
from engine.model import Config
from engine.plan import Plan
from engine.shares import imports
from engine.validate import SERVICE_TRANSPORTS

WELL_KNOWN = {22: "ssh", 53: "dns", 80: "http", 123: "ntp", 389: "ldap", 443: "https", 636: "ldaps", 3389: "rdp"}


def router_of(lab: str, ns: str) -> tuple[str, str] | None:
    """(segment, cxp) of a segment router namespace."""
    head = f"{lab}-s-"
    if not ns.startswith(head):
        return None
    seg, _, cxp = ns[len(head) :].rpartition("@")
    return seg, cxp


class _Applications:
    """Which configured service a flow reaches: by (segment, protocol,
    address, port), since tenants may share addresses; an address a share
    imports into the segment is followed back to the offering segment."""

    def __init__(self, config: Config):
        self.services: dict[tuple[str, str, str, int], str] = {}
        for vpc, host in config.hosts():
            for svc in vpc.services:
                if svc.host == host.name and vpc.segment:
                    port = service_port(svc.kind, svc.port)
                    for proto in SERVICE_TRANSPORTS.get(svc.kind, ()):
                        self.services[(vpc.segment, proto, host.address, port)] = f"{svc.name} ({svc.kind})"
        self.imports = [(i.segment, i.offer, i.end, i.share) for i in imports(config)]
        self.ends = {s.name: s for s in config.shares}

    def name(self, segment: str, proto: str, address: str | None, port: int | None) -> str | None:
        if address is None or port is None:
            return None
        found = self.services.get((segment, proto, address, port))
        if found is not None:
            return found
        addr = ipaddress.ip_address(address)
        for seg, offer, end, share in self.imports:
            if seg == segment and addr in offer.seen:
                original = ipaddress.ip_address(int(offer.original.network_address) + int(addr) - int(offer.seen.network_address))
                side = self.ends[share].end_a if end == "end-a" else self.ends[share].end_b
                return self.services.get((side.segment, proto, str(original), port)) if side else None
        return None


class _Rules:
    """The policy entry that admits a flow in its segment: the data-path
    model's first-match evaluation (engine/datapath/policy.py, the one
    `trace` uses) on the flow's 5-tuple as its router saw it: after the
    share's DNAT, before SNAT."""

    PROTO = {"tcp": 6, "udp": 17, "icmp": 1}

    def __init__(self, config: Config):
        self.config = config
        self.judges: dict[str, PolicyJudge | None] = {}

    def decide(self, segment: str, r: dict[str, Any]) -> Decision | None:
        if segment not in self.judges:
            self.judges[segment] = judge_for(self.config, segment)
        judge = self.judges[segment]
        if judge is None:
            return None
        nat = r["nat"] or {}
        dst, dport = nat.get("dst") or r["dst"], nat.get("dport") if nat.get("dport") is not None else r["dport"]
        try:
            return judge.decide(self.PROTO.get(r["protocol"], 0), ip_int(r["src"]), ip_int(dst), dport or 0)
        except (OSError, TypeError):  # not an IPv4 address
            return None

    def rule(self, segment: str, r: dict[str, Any]) -> str | None:
        d = self.decide(segment, r)
        return d.rule if d else None


def policy_namespaces(old: Plan, ops: Iterable[Op]) -> dict[str, str]:
    """Namespace -> segment, for every table a commit (re)loaded whose segment
    policy changed (by the digests of its counted entries): where admitted
    connections must be judged again. A share or NAT change reloads a table
    too, but leaves its policy, and its connections, alone."""
    out = {}
    for item, before in reloaded_tables(old, ops):
        policy = {c: d for c, d in item.counted if c.startswith("segment ")}
        was = {c: d for c, d in before.counted if c.startswith("segment ")} if before else {}
        if policy and policy != was:
            out[item.ns] = next(src.split(" ", 1)[1] for src in item.sources if src.startswith("segment "))
    return out


LIVE = {"ESTABLISHED", "SYN_SENT", "SYN_RECV", None}  # tcp states worth ending; udp/icmp have none
FABRIC = ipaddress.ip_network("169.254.0.0/16")


def refused_now(config: Config, raw: dict[str, list[dict[str, Any]]], segments: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Live tracked connections, per namespace, that the running policy of
    their segment refuses: a new `deny` also ends connections it would not
    admit today (the commit keeps those it still admits). Connections to or
    from the routers themselves (the fabric's 169.254 addresses, gateways)
    are not forwarded, so the policy never applied to them: left alone."""
    if not any(raw.get(ns) for ns in segments):
        return {}
    rules = _Rules(config)
    gateways = {str(ipaddress.ip_network(sn.prefix).network_address + 1) for v in config.vpcs for sn in v.subnets}
    apps = _Applications(config)
    out: dict[str, list[dict[str, Any]]] = {}
    for ns, entries in raw.items():
        segment = segments.get(ns)
        if segment is None:
            continue
        for e in entries:
            row = _row((segment, ""), e, apps)
            if row["protocol"] not in ("tcp", "udp", "icmp") or row["state"] not in LIVE:
                continue
            ends = [a for a in (row["src"], row["dst"]) if a]
            if any(a in gateways or ipaddress.ip_address(a) in FABRIC for a in ends):
                continue
            decision = rules.decide(segment, row)
            if decision is not None and decision.action == "deny":
                out.setdefault(ns, []).append(row)
    return out


def flow_rows(lab: str, config: Config, raw: dict[str, list[dict[str, Any]]], **filters: Any) -> list[dict[str, Any]]:
    """CLI.md's flow fields, filtered and sorted as `show flows` asks."""
    apps = _Applications(config)
    rules = _Rules(config)
    rows = []
    for ns, entries in raw.items():
        where = router_of(lab, ns)
        if where is None:
            continue
        for e in entries:
            row = _row(where, e, apps)
            row["rule"] = rules.rule(where[0], row)
            rows.append(row)
    keep = _filter(config, filters)
    rows = [r for r in rows if keep(r)]
    key = {"bytes": lambda r: r["bytes_out"] + r["bytes_in"], "packets": lambda r: r["packets_out"] + r["packets_in"]}
    sort = filters.get("sort")
    if sort in key:
        rows.sort(key=key[sort], reverse=True)
    else:
        rows.sort(key=lambda r: (r["segment"], r["protocol"], r["src"], r["dst"], r["dport"] or 0))
    top = filters.get("top")
    return rows[: int(top)] if top else rows


def _row(where: tuple[str, str], e: dict[str, Any], apps: _Applications) -> dict[str, Any]:
    o, r = e["orig"], e["reply"]
    nat = None
    if r.get("src") != o.get("dst") or r.get("dst") != o.get("src") or r.get("sport") != o.get("dport") or r.get("dport") != o.get("sport"):
        nat = {"src": r.get("dst"), "sport": r.get("dport"), "dst": r.get("src"), "dport": r.get("sport")}
    proto = e["protocol"]
    real_dst, real_port = r.get("src"), r.get("sport")
    app = apps.name(where[0], proto, real_dst, real_port)
    if app is None and o.get("dport") in WELL_KNOWN:
        app = WELL_KNOWN[o["dport"]]
    return {
        "protocol": proto,
        "src": o.get("src"),
        "sport": o.get("sport"),
        "dst": o.get("dst"),
        "dport": o.get("dport"),
        "segment": where[0],
        "application": app,
        "state": e.get("state"),
        "nat": nat,
        "packets_out": o.get("packets", 0),
        "bytes_out": o.get("bytes", 0),
        "packets_in": r.get("packets", 0),
        "bytes_in": r.get("bytes", 0),
        "firewall": None,
        "firewall_instance": None,
        "rule": None,
        "path": [f"segment {where[0]} cxp {where[1]}"],
    }


def _addresses(r: dict[str, Any]) -> set[str]:
    out = {r["src"], r["dst"]}
    if r["nat"]:
        out |= {r["nat"]["src"], r["nat"]["dst"]}
    return out


def _filter(config: Config, f: dict[str, Any]):  # type: ignore[no-untyped-def]
    """A predicate on rows for the filters of `show flows`, with what it needs
    (a host's address, a VPC's networks, a share's imports) looked up once."""
    host = next(((v, h) for v, h in config.hosts() if h.name == f.get("host")), None) if f.get("host") else None
    vpc = config.get("vpc", f["vpc"]) if f.get("vpc") else None
    vpc_nets = [ipaddress.ip_network(c) for c in (vpc.cidrs if vpc else ())]
    # (segment, prefix) pairs: what the share brings into each segment, and
    # what each end offers (its own prefixes, before its NAT)
    share_pairs: list[tuple[str, str, Any]] = []  # (segment, "own"|"in", prefix)
    if f.get("share"):
        share = config.require("resource-share", f["share"])
        for i in imports(config):
            if i.share == f["share"]:
                share_pairs.append((i.segment, "in", i.offer.seen))
                side = share.end_a if i.end == "end-a" else share.end_b
                share_pairs += [(side.segment, "own", i.offer.original), (side.segment, "own", i.offer.seen)]

    def inside(addresses: set[str], nets: list[Any]) -> bool:
        return any(ipaddress.ip_address(a) in n for a in addresses if a for n in nets)

    def keep(r: dict[str, Any]) -> bool:
        addresses = _addresses(r)
        if f.get("segment") and r["segment"] != f["segment"]:
            return False
        if f.get("protocol") and r["protocol"] != f["protocol"]:
            return False
        if f.get("port") and int(f["port"]) not in (r["sport"], r["dport"]):
            return False
        if f.get("address") and f["address"] not in addresses:
            return False
        # a host's flows: its address on either side, before or after NAT, in its own segment
        if f.get("host") and (host is None or host[0].segment != r["segment"] or host[1].address not in addresses):
            return False
        if f.get("vpc") and (vpc is None or r["segment"] != vpc.segment or not inside({r["src"], r["dst"]}, vpc_nets)):
            return False
        # through a share: one side's address is what the share brings into (or
        # takes out of) this segment, and the other side's is not in this segment's own space
        if f.get("share") and not _crosses(r, share_pairs):
            return False
        return True

    return keep


def _crosses(r: dict[str, Any], pairs: list[tuple[str, str, Any]]) -> bool:
    """Did this row's flow cross the share? One side must be what this
    segment's end offers and the other what the share brings in."""
    own = [p for seg, kind, p in pairs if seg == r["segment"] and kind == "own"]
    imp = [p for seg, kind, p in pairs if seg == r["segment"] and kind == "in"]
    nat = r["nat"] or {}
    source = [a for a in (r["src"], nat.get("src")) if a]
    dest = [a for a in (r["dst"], nat.get("dst")) if a]

    def any_in(addresses: list[str], nets: list[Any]) -> bool:
        return any(ipaddress.ip_address(a) in n for a in addresses for n in nets)

    return (any_in(source, own) and any_in(dest, imp)) or (any_in(source, imp) and any_in(dest, own))
