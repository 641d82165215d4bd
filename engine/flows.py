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
from collections.abc import Callable, Iterator
from operator import itemgetter
from typing import Any, TypeVar

from engine.addressing import SERVICE_TRANSPORTS, service_port
from engine.compile.endpoint_layout import layout
from engine.datapath import Model, steering
from engine.datapath.policy import Decision
from engine.fwflows import Passage
from engine.marks import TARGET_MASK
from engine.model import Config
from engine.plan import Plan
from engine.ports import PROTO_NAMES, TCP_STATES, Tracked
from engine.stitch import Link, Routes, legs, once, stitch

WELL_KNOWN = {22: "ssh", 53: "dns", 80: "http", 123: "ntp", 389: "ldap", 443: "https", 636: "ldaps", 3389: "rdp"}
address = socket.inet_ntoa
Chain = list[Link]
T = TypeVar("T")


def router_of(lab: str, ns: str) -> tuple[str, str] | None:
    """(segment, cxp) of a segment router namespace."""
    head = f"{lab}-s-"
    if not ns.startswith(head):
        return None
    seg, _, cxp = ns[len(head) :].rpartition("@")
    return seg, cxp


def _services(config: Config) -> dict[tuple[str, str, str, int], str]:
    """(segment, protocol, address, port) -> `NAME (KIND)` of every service,
    and `NAME (endpoint-service)` of every endpoint: keyed by segment, since
    tenants may share addresses."""
    out = {}
    for vpc, host in config.hosts():
        for svc in vpc.services:
            if svc.host == host.name and vpc.segment:
                port = service_port(svc.kind, svc.port)
                for proto in SERVICE_TRANSPORTS.get(svc.kind, ()):
                    out[(vpc.segment, proto, host.address, port)] = f"{svc.name} ({svc.kind})"
    for ep in layout(config).endpoints:
        # a flow ends at an endpoint's address in its segment's routers, or past
        # it at the provider's (in the VPC router, which is in no segment's name)
        out[(ep.segment, "tcp", ep.address, ep.port)] = out[("", "tcp", ep.provider, ep.port)] = f"{ep.service.name} (endpoint-service)"
    return out


def decide(model: Model, ns: str, ingress: str | None, e: Tracked) -> Decision | None:
    """The policy entry that admitted the connection at this router: where
    it entered from a VPC or a share (traffic from the backbone was judged
    on its first hub), on the tuple the forward chain saw (after DNAT,
    before SNAT). The data-path model's evaluation, as `trace` makes it."""
    if ingress is None or ingress.startswith("bb"):
        return None
    where = model.router_at(ns) or _vpc_segment(model, ns)
    judge = model.judge(where[0]) if where else None
    if judge is None:
        return None
    return judge.decide(e.proto, int.from_bytes(e.o_src, "big"), int.from_bytes(e.r_src, "big"), e.r_sport or 0)


def _vpc_segment(model: Model, ns: str) -> tuple[str, str] | None:
    vpc = model.vpc_at(ns)
    return (vpc.segment, vpc.cxp) if vpc is not None and vpc.segment and vpc.micro_segmentation else None


class _Text(dict[bytes, str]):
    """Addresses as text, each converted once (a poll shows the same few
    hundred addresses on 100,000 rows)."""

    def __missing__(self, raw: bytes) -> str:
        text = self[raw] = address(raw)
        return text


SORTS: dict[str, tuple[Callable[[Chain], Any], bool]] = {
    "bytes": (lambda c: (c[0][1].o_bytes or 0) + (c[0][1].r_bytes or 0), True),
    "packets": (lambda c: (c[0][1].o_packets or 0) + (c[0][1].r_packets or 0), True),
    "age": (lambda c: c[0][1].start_ns or float("inf"), False),  # oldest first
}


class FlowView:
    """The connections `show flows` shows: stitched, filtered, sorted, cut
    to `top`. `rows()` gives CLI.md's dicts (JSON, the monitor); `cells()`
    the text columns of the same rows without building those dicts, since
    100,000 rows of nested hop dicts cost more than reading the kernel."""

    def __init__(self, model: Model, raw: dict[str, list[Tracked]], now: float, **filters: Any) -> None:
        self.model = model
        self.now = now
        self.routes = Routes(model.graph)
        self.text = _Text()
        self.services = _services(model.config)
        keep = _filter(model, filters)
        chains = [c for c in stitch(self.routes, raw) if keep(c)]
        sort = filters.get("sort")
        if sort in SORTS:
            key, reverse = SORTS[sort]
            chains.sort(key=key, reverse=reverse)
        else:  # connections of one class stay together (and in the kernel's order: the sort is stable)
            seg = {ns: _segment(model, ns) or "" for ns in raw}
            chains.sort(key=lambda c: (seg[c[0][0]], *ORDER(c[0][1])))
        top = filters.get("top")
        self.chains = chains[: int(top)] if top else chains
        self.passages = steering.facts(model).passages
        self.firewall_legs = steering.facts(model).legs
        self._paths: dict[tuple[tuple[str, str | None], ...], str] = {}

    def __len__(self) -> int:
        return len(self.chains)

    def _ends(self, chain: Chain) -> tuple[str, str, str, Any, str | None, dict[str, Any] | None]:
        """(protocol, src, dst, final destination port, application, nat)."""
        e, z = chain[0][1], chain[-1][1]
        text = self.text
        proto = PROTO_NAMES.get(e.proto, str(e.proto))
        src, dst = text[e.o_src], text[e.o_dst]
        final = (text[z.r_dst], z.r_dport, text[z.r_src], z.r_sport)
        nat = None if final == (src, e.o_sport, dst, e.o_dport) else dict(zip(("src", "sport", "dst", "dport"), final, strict=True))
        seg = _segment(self.model, chain[-1][0])
        app = self.services.get((seg or "", proto, final[2], z.r_sport or 0)) or WELL_KNOWN.get(e.o_dport or -1)
        return proto, src, dst, final, app, nat

    def _rule(self, chain: Chain) -> str | None:
        for (ns, e), (ingress, _egress) in zip(chain, legs(self.routes, chain), strict=True):
            d = decide(self.model, ns, ingress, e)
            if d is not None:
                return d.rule
        return None

    def hops(self, chain: Chain) -> list[dict[str, Any]]:
        """A hop per router in `trace`'s shape, and one per share link and firewall crossed."""
        out = []
        for (ns, e), (ingress, egress) in zip(chain, legs(self.routes, chain), strict=True):
            space = self.model.graph.spaces.get(ns)
            d = decide(self.model, ns, ingress, e)
            hop = {"node": space.node if space else ns, "kind": space.role if space else "unknown", "ingress": ingress,
                   "egress": egress, "src": self.text[e.r_dst], "dst": self.text[e.r_src], "sport": e.r_dport,
                   "dport": e.r_sport, "rule": d.rule if d else None}  # fmt: skip
            out.append(hop)
            link = self.model.share_links(ns).get(egress or "")
            if link is not None:
                out.append({**hop, "node": f"share {link.share}", "kind": "share", "ingress": egress, "rule": None})
            firewall = self.firewall_legs.get((ns, egress or ""))
            if firewall is not None:  # its instance's conntrack is not read: the router's mark names it
                out.append({**hop, "node": f"firewall {firewall}", "kind": "firewall", "ingress": egress, "rule": None})
        return out

    def rows(self) -> list[dict[str, Any]]:
        """CLI.md's flow fields, one dict per connection (`age` in seconds
        besides). A class's hops and fields are worked out once; each row
        copies them with its own ports, counters, state and age."""
        out = []
        for chain, e, z, (base, hops) in self._classed(self._class_row):
            row = base.copy()
            row["sport"], row["dport"], row["icmp_id"] = e.o_sport, e.o_dport, e.o_id
            if row["nat"] is not None or z.r_dport != e.o_sport:
                row["nat"] = {"src": self.text[z.r_dst], "sport": z.r_dport, "dst": self.text[z.r_src], "dport": z.r_sport}
            c = self._counted(chain)
            row.update(state=TCP_STATES.get(e.state) if e.state is not None else None, packets_out=c.o_packets or 0,
                       bytes_out=c.o_bytes or 0, packets_in=c.r_packets or 0, bytes_in=c.r_bytes or 0, age=self._age(e))  # fmt: skip
            row["path"] = [{**hop, "sport": chain[i][1].r_dport, "dport": chain[i][1].r_sport} for i, hop in hops]
            passage = self._passage(chain)
            if passage is not None:
                row["firewall_instance"] = passage[0].instance
            out.append(row)
        return out

    def _class_row(self, chain: Chain) -> tuple[dict[str, Any], list[tuple[int, dict[str, Any]]]]:
        """A class's row fields, and its hops with the router each takes its ports from."""
        proto, src, dst, _final, app, nat = self._ends(chain)
        hops = self.hops(chain)
        base = {"protocol": proto, "src": src, "sport": None, "dst": dst, "dport": None, "segment": entered(self.model, chain),
                "application": app, "state": None, "nat": nat, "packets_out": 0, "bytes_out": 0, "packets_in": 0, "bytes_in": 0,
                "firewall": None, "firewall_instance": None, "rule": next((h["rule"] for h in hops if h["rule"]), None),
                "path": hops, "age": None, "icmp_id": None}  # fmt: skip
        decided = self._firewall_rule(chain, proto)
        if decided is not None:  # the firewall's rule decided where the policy said `inspect`
            base.update(firewall=decided[0], rule=decided[1])
        routers = [i for i, hop in enumerate(hops) if hop["kind"] not in ("share", "firewall")]
        owner = [max(r for r in routers if r <= i) for i in range(len(hops))]  # a share or firewall hop: the router before it
        return base, [(routers.index(owner[i]), hop) for i, hop in enumerate(hops)]

    def _passage(self, chain: Chain) -> tuple[Passage, Tracked] | None:
        """The firewall instance a connection went through, read from the
        routing target a router of its chain pinned (engine/fwflows.py)."""
        for ns, e in chain:
            if e.mark and e.mark & TARGET_MASK:
                found = self.passages.of(ns, e.mark)
                if found is not None:
                    return found, e
        return None

    def _firewall_rule(self, chain: Chain, proto: str) -> tuple[str, str] | None:
        """(firewall, its deciding rule) of a connection that went through
        one, on the tuple the instance saw: as it left the router that
        pinned it entering the firewall's link, as it arrived where it came out."""
        through = self._passage(chain)
        if through is None:
            return None
        passage, e = through
        src, dst = (e.r_dst, e.r_src) if passage.entered_here else (e.o_src, e.o_dst)
        first = chain[0][1]
        return passage.firewall, str(passage.rule(self.model.config, proto, self.text[src], self.text[dst], first.o_dport))

    def _counted(self, chain: Chain) -> Tracked:
        """The entry whose counters a row shows: the first router's, unless
        it forwarded the packets twice (engine/stitch.py `once`)."""
        first = chain[0][1]
        if not (first.mark and first.mark & TARGET_MASK) and chain[-1][1] is not first:
            return first
        return once(self.routes, chain)

    def _age(self, e: Tracked) -> float | None:
        return round(self.now - e.start_ns / 1e9, 1) if e.start_ns else None

    def path_text(self, chain: Chain) -> str:
        """`a@core > share ab > b@core`: the routers and shares crossed."""
        key = tuple((ns, egress or "") for (ns, _e), (_ingress, egress) in zip(chain, legs(self.routes, chain), strict=True))
        got = self._paths.get(key)
        if got is None:
            parts = []
            for ns, egress in key:
                where = self.model.router_at(ns)
                parts.append(f"{where[0]}@{where[1]}" if where else self.model.graph.spaces[ns].node if ns in self.model.graph.spaces else ns)
                link = self.model.share_links(ns).get(egress or "")
                if link is not None:
                    parts.append(f"share {link.share}")
                if (ns, egress or "") in self.firewall_legs:
                    parts.append(f"firewall {self.firewall_legs[(ns, egress or '')]}")
            got = self._paths[key] = " > ".join(parts)
        return got

    def cells(self) -> Iterator[list[str]]:
        """Text columns per row: the fields of `TEXT_COLUMNS`. What depends
        only on a connection's class (its routers and addresses, protocol
        and service port) is worked out once per class: 100,000 datagrams
        from one host to another are one class."""
        now, states = self.now, TCP_STATES
        for chain, e, z, ((segment, proto, src, dst, dport, app, path, rule), natted) in self._classed(self._class_cells):
            nat = self._nat_text(e, z, natted)
            c = self._counted(chain)
            yield [segment, proto, src, _port(e.o_sport), dst, dport, app, states.get(e.state, "-") if e.state is not None else "-",
                   nat, path, f"{int(now - e.start_ns / 1e9)}s" if e.start_ns else "-", rule,
                   self._instance_text(chain, rule),
                   str(c.o_packets or 0), str(c.o_bytes or 0), str(c.r_packets or 0), str(c.r_bytes or 0)]  # fmt: skip

    def lines(self, sizes: list[int]) -> Iterator[str]:
        """Every row as one line of `TEXT_COLUMNS`, left-aligned in columns of
        `sizes` two spaces apart, the last unpadded (as shell/plain.py lays
        out `cells()`). A class's line is laid out once with its own cells in
        place; each row fills in the eight that vary: one format call a row."""
        now, states = self.now, TCP_STATES
        for chain, e, z, (pattern, natted, rule) in self._classed(lambda c: self._template(c, sizes)):
            nat = self._nat_text(e, z, natted)
            c = self._counted(chain)
            yield pattern.format("-" if e.o_sport is None else e.o_sport, states.get(e.state, "-") if e.state is not None else "-", nat,
                                 f"{int(now - e.start_ns / 1e9)}s" if e.start_ns else "-", self._instance_text(chain, rule),
                                 c.o_packets or 0, c.o_bytes or 0, c.r_packets or 0, c.r_bytes or 0).rstrip()  # fmt: skip

    def _instance_text(self, chain: Chain, rule: str) -> str:
        """`fw1/2`: the firewall instance that holds a connection (it varies
        within a class, by source port); only where a firewall's rule decided."""
        through = self._passage(chain) if rule.startswith("firewall ") else None
        return f"{through[0].firewall}/{through[0].instance}" if through else "-"

    def _classed(self, make: Callable[[Chain], T]) -> Iterator[tuple[Chain, Tracked, Tracked, T]]:
        """Each connection, its first and last entries, and what `make`
        gave for its class (called once per class)."""
        memo: dict[tuple[Any, ...], T] = {}
        for chain in self.chains:
            e, z = chain[0][1], chain[-1][1]
            key = (chain[0][0], chain[-1][0], CLASS_FIRST(e), CLASS_LAST(z))
            got = memo.get(key)
            if got is None:
                got = memo[key] = make(chain)
            yield chain, e, z, got

    def _nat_text(self, e: Tracked, z: Tracked, natted: bool) -> str:
        """`NEW-SRC:PORT -> NEW-DST:PORT` when anything was translated, else `-`."""
        if not natted and z.r_dport == e.o_sport:
            return "-"
        return f"{_end(self.text[z.r_dst], z.r_dport)} -> {_end(self.text[z.r_src], z.r_sport)}"

    def _template(self, chain: Chain, sizes: list[int]) -> tuple[str, bool, str]:
        """A class's line as a format pattern with holes for the per-row cells."""
        (segment, proto, src, dst, dport, app, path, rule), natted = self._class_cells(chain)
        cells = [segment, proto, src, None, dst, dport, app, None, None, path, None, rule, None, None, None, None, None]
        parts = [f"{{:<{w}}}" if c is None else f"{c:<{w}}".replace("{", "{{").replace("}", "}}") for c, w in zip(cells[:-1], sizes[:-1], strict=True)]
        return "  ".join([*parts, "{}"]), natted, rule

    def _class_cells(self, chain: Chain) -> tuple[list[str], bool]:
        """The cells of a connection's class, and whether its addresses or
        service port are translated (its source port is compared per row)."""
        e = chain[0][1]
        proto, src, dst, final, app, _nat = self._ends(chain)
        decided = self._firewall_rule(chain, proto)
        rule = decided[1] if decided is not None else self._rule(chain) or "-"
        fixed = [entered(self.model, chain) or "-", proto, src, dst, _port(e.o_dport), app or "-",
                 self.path_text(chain), rule]  # fmt: skip
        return fixed, (final[0], final[2], final[3]) != (src, dst, e.o_dport)


# a connection's class: what makes connections look alike but for their
# source port and counters (with the routers crossed, which cells() adds)
CLASS_FIRST, CLASS_LAST = itemgetter(0, 5, 6, 8), itemgetter(12, 11, 13)  # proto, src, dst, dport; as delivered
ORDER = itemgetter(0, 5, 6, 8)  # the default order after the segment: protocol, source, destination, port


TEXT_COLUMNS = ("segment", "protocol", "src", "sport", "dst", "dport", "application", "state", "nat", "path", "age", "rule",
                "firewall", "packets out", "bytes out", "packets in", "bytes in")  # fmt: skip


def _port(port: int | None) -> str:
    return "-" if port is None else str(port)


def _end(addr: str, port: int | None) -> str:
    return addr if port is None else f"{addr}:{port}"


def entered(model: Model, chain: Chain) -> str | None:
    """The segment a connection entered: its first segment router's (a
    connection from the internet enters at the edge, then a segment), or
    the VPC's where only its router tracked it."""
    for ns, _e in chain:
        where = model.router_at(ns)
        if where is not None:
            return where[0]
    vpc = model.vpc_at(chain[0][0])
    return vpc.segment if vpc is not None else None


def _segment(model: Model, ns: str) -> str | None:
    where = model.router_at(ns)
    return where[0] if where else None


def flow_namespaces(plan: Plan) -> list[str]:
    """The namespaces whose conntrack tables `show flows` reads: every one
    with a table, but firewall instances (their connections are the
    routers' again, whose marks name the instance)."""
    firewalls = {i.ns for i in plan.of_kind("ns") if getattr(i, "role", "") == "firewall"}
    return [item.ns for item in plan.of_kind("nft") if item.ns not in firewalls]


def flow_rows(model: Model, raw: dict[str, list[Tracked]], now: float, **filters: Any) -> list[dict[str, Any]]:
    """CLI.md's flow fields, one row per connection, filtered and sorted as `show flows` asks."""
    return FlowView(model, raw, now, **filters).rows()


# --- filters ------------------------------------------------------------------------


def _filter(model: Model, f: dict[str, Any]) -> Callable[[Chain], bool]:
    """A predicate on chains for the filters of `show flows`."""
    tests: list[Callable[[Chain], bool]] = []
    if f.get("segment"):
        tests.append(lambda c: any(_segment(model, ns) == f["segment"] for ns, _e in c))
    if f.get("protocol"):
        number = {v: k for k, v in PROTO_NAMES.items()}.get(f["protocol"])
        tests.append(lambda c: c[0][1].proto == number)
    if f.get("port"):
        port = int(f["port"])
        tests.append(lambda c: port in (c[0][1].o_sport, c[0][1].o_dport, c[-1][1].r_dport, c[-1][1].r_sport))
    if f.get("address"):
        raw = socket.inet_aton(f["address"])
        tests.append(lambda c: raw in (c[0][1].o_src, c[0][1].o_dst, c[-1][1].r_dst, c[-1][1].r_src))
    if f.get("host"):
        tests.append(_host_test(model, f["host"]))
    if f.get("vpc"):
        tests.append(_vpc_test(model, f["vpc"]))
    if f.get("firewall"):
        passages = steering.facts(model).passages
        tests.append(lambda c: any((p := passages.of(ns, e.mark or 0)) is not None and p.firewall == f["firewall"] for ns, e in c if e.mark))
    if f.get("share"):
        routes = Routes(model.graph)

        def crosses(c: Chain) -> bool:
            for (ns, _e), (_ingress, egress) in zip(c, legs(routes, c), strict=True):
                link = model.share_links(ns).get(egress or "")
                if link is not None and link.share == f["share"]:
                    return True
            return False

        tests.append(crosses)
    return lambda c: all(t(c) for t in tests)


def _host_test(model: Model, name: str) -> Callable[[Chain], bool]:
    """A host's flows: it sent them (source at the first router, in its
    segment) or received them (destination as delivered, in its segment)."""
    found = next(((v, h) for v, h in model.config.hosts() if h.name == name), None)
    if found is None:
        return lambda c: False
    seg, addr = found[0].segment, socket.inet_aton(found[1].address)
    return lambda c: ((_segment(model, c[0][0]) == seg and c[0][1].o_src == addr)
                      or (_segment(model, c[-1][0]) == seg and c[-1][1].r_src == addr))  # fmt: skip


def _vpc_test(model: Model, name: str) -> Callable[[Chain], bool]:
    vpc = model.config.get("vpc", name)
    if vpc is None:
        return lambda c: False
    nets = [ipaddress.ip_network(x) for x in vpc.cidrs]

    def inside(raw: bytes) -> bool:
        addr = ipaddress.IPv4Address(raw)
        return any(addr in n for n in nets)

    return lambda c: ((_segment(model, c[0][0]) == vpc.segment and inside(c[0][1].o_src))
                      or (_segment(model, c[-1][0]) == vpc.segment and inside(c[-1][1].r_src)))  # fmt: skip
