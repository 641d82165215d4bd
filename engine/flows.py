"""`show flows`: one row per connection, stitched across the routers it crossed.

Every segment router tracks what it forwards (its table has a forward
chain with `ct state`), so a connection crossing a share or the backbone
has one conntrack entry per router; engine/stitch.py joins them into one
chain. A row names the connection as its source sent it, the segment it
entered, the service it reaches (the configured service at the address
and port it was delivered to, else the well-known port), the NAT between
what was sent and what was delivered, the counters and state of its first
router, its age (conntrack timestamps), the policy entry that admitted it
and its `path`: a hop per router (and per share crossed) in `trace`'s hop
shape, with the addresses as NAT made them there.

Filters and sorting look at chains; rows (dicts) are made only for what
is shown, since a busy lab has 100,000 connections.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any

from engine.compile.services import service_port
from engine.datapath import Model
from engine.datapath.policy import Decision
from engine.diff import Op, reloaded_tables
from engine.model import Config
from engine.plan import Plan
from engine.ports import PROTO_NAMES, TCP_STATES, Tracked
from engine.stitch import Step, stitch
from engine.validate import SERVICE_TRANSPORTS

WELL_KNOWN = {22: "ssh", 53: "dns", 80: "http", 123: "ntp", 389: "ldap", 443: "https", 636: "ldaps", 3389: "rdp"}
address = socket.inet_ntoa
Chain = list[Step]


def router_of(lab: str, ns: str) -> tuple[str, str] | None:
    """(segment, cxp) of a segment router namespace."""
    head = f"{lab}-s-"
    if not ns.startswith(head):
        return None
    seg, _, cxp = ns[len(head) :].rpartition("@")
    return seg, cxp


def _services(config: Config) -> dict[tuple[str, str, str, int], str]:
    """(segment, protocol, address, port) -> `NAME (KIND)` of every service:
    keyed by segment, since tenants may share addresses."""
    out = {}
    for vpc, host in config.hosts():
        for svc in vpc.services:
            if svc.host == host.name and vpc.segment:
                port = service_port(svc.kind, svc.port)
                for proto in SERVICE_TRANSPORTS.get(svc.kind, ()):
                    out[(vpc.segment, proto, host.address, port)] = f"{svc.name} ({svc.kind})"
    return out


def decide(model: Model, step: Step) -> Decision | None:
    """The policy entry that admitted the connection at this router: where
    it entered from a VPC or a share (traffic from the backbone was judged
    on its first hub), on the tuple the forward chain saw (after DNAT,
    before SNAT). The data-path model's evaluation, as `trace` makes it."""
    if step.ingress is None or step.ingress.startswith("bb"):
        return None
    where = model.router_at(step.ns) or _vpc_segment(model, step.ns)
    judge = model.judge(where[0]) if where else None
    if judge is None:
        return None
    e = step.entry
    return judge.decide(e.proto, int.from_bytes(e.o_src, "big"), int.from_bytes(e.r_src, "big"), e.r_sport or 0)


def _vpc_segment(model: Model, ns: str) -> tuple[str, str] | None:
    vpc = model.vpc_at(ns)
    return (vpc.segment, vpc.cxp) if vpc is not None and vpc.segment and vpc.micro_segmentation else None


# --- rows -------------------------------------------------------------------------


def _hop(model: Model, step: Step) -> dict[str, Any]:
    e = step.entry
    space = model.graph.spaces.get(step.ns)
    d = decide(model, step)
    return {"node": space.node if space else step.ns, "kind": space.role if space else "unknown",
            "ingress": step.ingress, "egress": step.egress, "src": address(e.r_dst), "dst": address(e.r_src),
            "sport": e.r_dport, "dport": e.r_sport, "rule": d.rule if d else None}  # fmt: skip


def path(model: Model, chain: Chain) -> list[dict[str, Any]]:
    """A hop per router, and one per share link crossed between two."""
    out = []
    for step in chain:
        hop = _hop(model, step)
        out.append(hop)
        link = model.share_links(step.ns).get(step.egress or "")
        if link is not None:
            out.append({**hop, "node": f"share {link.share}", "kind": "share", "ingress": step.egress, "rule": None})
    return out


def _row(model: Model, chain: Chain, services: dict[tuple[str, str, str, int], str], now: float) -> dict[str, Any]:
    e, z = chain[0].entry, chain[-1].entry
    proto = PROTO_NAMES.get(e.proto, str(e.proto))
    src, dst = address(e.o_src), address(e.o_dst)
    final = (address(z.r_dst), z.r_dport, address(z.r_src), z.r_sport)
    nat = None if final == (src, e.o_sport, dst, e.o_dport) else dict(zip(("src", "sport", "dst", "dport"), final, strict=True))
    hops = path(model, chain)
    first_seg, last_seg = _segment(model, chain[0].ns), _segment(model, chain[-1].ns)
    app = services.get((last_seg or "", proto, final[2], z.r_sport or 0)) or WELL_KNOWN.get(e.o_dport or -1)
    return {
        "protocol": proto, "src": src, "sport": e.o_sport, "dst": dst, "dport": e.o_dport, "segment": first_seg,
        "application": app, "state": TCP_STATES.get(e.state) if e.state is not None else None, "nat": nat,
        "packets_out": e.o_packets or 0, "bytes_out": e.o_bytes or 0, "packets_in": e.r_packets or 0, "bytes_in": e.r_bytes or 0,
        "firewall": None, "firewall_instance": None, "rule": next((h["rule"] for h in hops if h["rule"]), None),
        "path": hops, "age": round(now - e.start_ns / 1e9, 1) if e.start_ns else None,
    }  # fmt: skip


def _segment(model: Model, ns: str) -> str | None:
    where = model.router_at(ns)
    return where[0] if where else None


SORTS: dict[str, tuple[Callable[[Chain], Any], bool]] = {
    "bytes": (lambda c: (c[0].entry.o_bytes or 0) + (c[0].entry.r_bytes or 0), True),
    "packets": (lambda c: (c[0].entry.o_packets or 0) + (c[0].entry.r_packets or 0), True),
    "age": (lambda c: c[0].entry.start_ns or float("inf"), False),  # oldest first
}


def flow_rows(model: Model, raw: dict[str, list[Tracked]], now: float, **filters: Any) -> list[dict[str, Any]]:
    """CLI.md's flow fields, one row per connection, filtered and sorted as
    `show flows` asks (`age` in seconds besides: what `sort age` orders by)."""
    keep = _filter(model, filters)
    chains = [c for c in stitch(model.graph, raw) if keep(c)]
    sort = filters.get("sort")
    if sort in SORTS:
        key, reverse = SORTS[sort]
        chains.sort(key=key, reverse=reverse)
    else:
        segment = {ns: _segment(model, ns) or "" for ns in raw}
        chains.sort(key=lambda c: (segment[c[0].ns], c[0].entry.proto, c[0].entry.o_src, c[0].entry.o_dst, c[0].entry.o_dport or 0))
    top = filters.get("top")
    if top:
        chains = chains[: int(top)]
    services = _services(model.config)
    return [_row(model, c, services, now) for c in chains]


# --- filters ------------------------------------------------------------------------


def _ends(chain: Chain) -> tuple[bytes, bytes, bytes, bytes]:
    """Source and destination as sent, and as delivered (after every NAT)."""
    e, z = chain[0].entry, chain[-1].entry
    return e.o_src, e.o_dst, z.r_dst, z.r_src


def _filter(model: Model, f: dict[str, Any]) -> Callable[[Chain], bool]:
    """A predicate on chains for the filters of `show flows`."""
    tests: list[Callable[[Chain], bool]] = []
    seg_of = lambda ns: _segment(model, ns)  # noqa: E731
    if f.get("segment"):
        tests.append(lambda c: any(seg_of(s.ns) == f["segment"] for s in c))
    if f.get("protocol"):
        number = {v: k for k, v in PROTO_NAMES.items()}.get(f["protocol"])
        tests.append(lambda c: c[0].entry.proto == number)
    if f.get("port"):
        port = int(f["port"])
        tests.append(lambda c: port in (c[0].entry.o_sport, c[0].entry.o_dport, c[-1].entry.r_dport, c[-1].entry.r_sport))
    if f.get("address"):
        raw = socket.inet_aton(f["address"])
        tests.append(lambda c: raw in _ends(c))
    if f.get("host"):
        tests.append(_host_test(model, f["host"]))
    if f.get("vpc"):
        tests.append(_vpc_test(model, f["vpc"]))
    if f.get("share"):
        tests.append(lambda c: any((link := model.share_links(s.ns).get(s.egress or "")) and link.share == f["share"] for s in c))
    return lambda c: all(t(c) for t in tests)


def _host_test(model: Model, name: str) -> Callable[[Chain], bool]:
    """A host's flows: it sent them (source at the first router, in its
    segment) or received them (destination as delivered, in its segment)."""
    found = next(((v, h) for v, h in model.config.hosts() if h.name == name), None)
    if found is None:
        return lambda c: False
    seg, addr = found[0].segment, socket.inet_aton(found[1].address)
    return lambda c: ((_segment(model, c[0].ns) == seg and c[0].entry.o_src == addr)
                      or (_segment(model, c[-1].ns) == seg and c[-1].entry.r_src == addr))  # fmt: skip


def _vpc_test(model: Model, name: str) -> Callable[[Chain], bool]:
    vpc = model.config.get("vpc", name)
    if vpc is None:
        return lambda c: False
    nets = [ipaddress.ip_network(x) for x in vpc.cidrs]

    def inside(raw: bytes) -> bool:
        addr = ipaddress.IPv4Address(raw)
        return any(addr in n for n in nets)

    return lambda c: ((_segment(model, c[0].ns) == vpc.segment and inside(c[0].entry.o_src))
                      or (_segment(model, c[-1].ns) == vpc.segment and inside(c[-1].entry.r_src)))  # fmt: skip


# --- connections a new policy refuses --------------------------------------------------


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


LIVE_TCP = {1, 2, 3}  # SYN_SENT, SYN_RECV, ESTABLISHED: states worth ending; udp/icmp have none
FABRIC = ipaddress.ip_network("169.254.0.0/16")


def refused_now(model: Model, raw: dict[str, list[Tracked]], segments: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Live tracked connections, per namespace, that the running policy of
    their segment refuses: a new `deny` also ends connections it would not
    admit today (the commit keeps those it still admits). Connections to or
    from the routers themselves (the fabric's 169.254 addresses, gateways)
    are not forwarded, so the policy never applied to them: left alone."""
    config = model.config
    gateways = {socket.inet_aton(str(ipaddress.ip_network(sn.prefix).network_address + 1)) for v in config.vpcs for sn in v.subnets}
    out: dict[str, list[dict[str, Any]]] = {}
    for ns, entries in raw.items():
        judge = model.judge(segments[ns]) if ns in segments else None
        if judge is None:
            continue
        for e in entries:
            if e.proto not in (1, 6, 17) or (e.proto == 6 and e.state not in LIVE_TCP):
                continue
            ends = (e.o_src, e.o_dst)
            if any(a in gateways or ipaddress.IPv4Address(a) in FABRIC for a in ends):
                continue
            if judge.decide(e.proto, int.from_bytes(e.o_src, "big"), int.from_bytes(e.r_src, "big"), e.r_sport or 0).action == "deny":
                out.setdefault(ns, []).append({"protocol": PROTO_NAMES[e.proto], "src": address(e.o_src), "dst": address(e.o_dst),
                                               "sport": e.o_sport, "dport": e.o_dport})  # fmt: skip
    return out
