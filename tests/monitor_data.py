"""A fixed data source for the monitor: snapshot tests and the benchmark.

`FixedSource` answers every view of tui.source.Source from synthetic rows in
exactly the shapes of CLI.md (`show flows`, `show ip route`, `show policy
hits`), deterministically: each poll adds the same bytes to the same flows,
so rates and sparklines come out the same in every run."""

from __future__ import annotations

import ipaddress
from typing import Any

from tui.source import Snapshot

Row = dict[str, Any]
SEGMENTS = ("corp", "prod", "dev", "partner")
APPS = {443: "web (tcp-echo)", 53: "dns (udp-echo)", 22: "ssh", 5432: None}
RULES = {443: "10", 53: "20", 22: "30", 5432: "default"}


def flow_rows(count: int) -> list[Row]:
    """`count` connections between hosts of four segments: every field of
    `show flows`, some through a share's NAT, the busiest first by index."""
    rows = []
    ports = list(APPS)
    for i in range(count):
        seg = SEGMENTS[i % len(SEGMENTS)]
        src = str(ipaddress.ip_address("10.10.0.0") + (i * 7919) % 60000)
        dst = f"10.20.{(i // 250) % 250}.{i % 250 + 1}"
        dport = ports[i % len(ports)]
        proto = "udp" if dport == 53 else "tcp"
        nat = {"src": f"100.64.{i % 200}.{i % 250 + 1}", "sport": 10000 + i % 50000, "dst": dst, "dport": dport} if i % 5 == 0 else None
        rows.append({
            "protocol": proto, "src": src, "sport": 20000 + i % 40000, "dst": dst, "dport": dport, "segment": seg,
            "application": APPS[dport], "state": "ESTABLISHED" if proto == "tcp" else None, "nat": nat,
            "packets_out": 10 + i % 97, "bytes_out": 1000 + (i * 37) % 90000, "packets_in": 8 + i % 89,
            "bytes_in": 2000 + (i * 53) % 120000, "firewall": None, "firewall_instance": None,
            "rule": f"segment {seg} {RULES[dport]}", "path": [f"segment {seg} cxp core"], "age": 5 + i % 3000, "icmp_id": None,
        })  # fmt: skip
    return rows


class FixedSource:
    """Every Source call, from fixed rows; poll N adds N steps to the counters."""

    lab = "demo"

    def __init__(self, flows: int = 40, number: int = 7, trace: bool = True) -> None:
        self.base = flow_rows(flows)
        self.number = number
        self.calls = 0  # flows readings
        self.hit_reads = 0  # policy hits readings
        self.cleared_at = 0
        self.with_trace = trace
        self.fail: str | None = None  # set: reading flows raises this, as a lab can

    @property
    def has_trace(self) -> bool:
        return self.with_trace

    def snapshot(self) -> Snapshot:
        return Snapshot(self.lab, self.number, 0.0)

    def flows(self, snap: Snapshot, **filters: Any) -> list[Row]:
        if self.fail:
            from engine.errors import VpclabError

            raise VpclabError(self.fail)
        self.calls += 1
        step = self.calls
        out = []
        wanted = [(k if k != "address" else "src", v) for k, v in filters.items() if k != "port" and v is not None]
        for i, r in enumerate(self.base):
            if wanted and any(r.get(k) != v for k, v in wanted):
                continue
            grow = step * (i % 11) * 100  # flow i moves (i % 11) * 100 bytes per poll each way
            out.append({**r, "bytes_out": r["bytes_out"] + grow, "bytes_in": r["bytes_in"] + 2 * grow,
                        "packets_out": r["packets_out"] + step * (i % 11), "packets_in": r["packets_in"] + step * (i % 11)})
        return out

    def routes(self, snap: Snapshot, **filters: Any) -> list[Row]:
        rows = []
        for n, seg in enumerate(SEGMENTS):
            rows.append({"segment": seg, "cxp": "core", "prefix": f"10.{10 + n}.0.0/16", "origin": "vpc", "via": f"vpc v{seg}",
                         "group": None, "original_prefix": None, "translated_prefix": None, "installed": True})
        rows.append({"segment": "corp", "cxp": "core", "prefix": "100.64.1.0/24", "origin": "share", "via": "share portal",
                     "group": None, "original_prefix": "10.11.1.0/24", "translated_prefix": "100.64.1.0/24", "installed": False})
        return [r for r in rows if all(r.get(k) == v for k, v in filters.items() if k in ("segment", "cxp"))]

    def policy_hits(self, snap: Snapshot, scope: str | None = None, name: str | None = None) -> list[Row]:
        self.hit_reads += 1
        grow = self.hit_reads - self.cleared_at
        rows = []
        for seg in SEGMENTS:
            for seq, action, match, rate in ((10, "permit", "tcp any any eq 443", 5), (20, "permit", "udp any any eq 53", 2),
                                             (30, "permit", "tcp any any eq 22", 1), (40, "deny", "tcp any any range 1 1000", 0)):
                rows.append({"scope": "segment", "name": seg, "seq": seq, "action": action, "match": match,
                             "packets": (100 + grow * 10) * rate, "bytes": (9000 + grow * 900) * rate})
        rows.append({"scope": "share", "name": "portal", "seq": None, "action": "deny", "match": "new connections from end-b",
                     "packets": 0, "bytes": 0})
        return [r for r in rows if (scope is None or r["scope"] == scope) and (name is None or r["name"] == name)]

    def topology(self, snap: Snapshot) -> list[Row]:
        """Rows as engine/tree.py gives them (`kind:name` ids)."""
        def node(kind: str, key: str, name: str, parent: str | None, detail: str = "") -> Row:
            return {"id": f"{kind}:{key}", "parent": parent, "kind": kind, "name": name, "detail": detail}

        rows = [node("cxp", "core", "core", None)]
        for n, seg in enumerate(SEGMENTS):
            rows += [node("segment", f"{seg}@core", seg, "cxp:core", "1 vpc"),
                     node("vpc", f"v{seg}", f"v{seg}", f"segment:{seg}@core", f"10.{10 + n}.0.0/16"),
                     node("subnet", f"v{seg}/s1", "s1", f"vpc:v{seg}", f"10.{10 + n}.1.0/24"),
                     node("host", f"h{seg}", f"h{seg}", f"subnet:v{seg}/s1", f"10.{10 + n}.1.10")]
        return [*rows, node("share", "portal", "portal", "cxp:core", "corp <-> prod (a-to-b)")]

    def groups(self, snap: Snapshot) -> list[Row]:
        return [{"group": "clients", "segment": seg, "prefixes": ["10.10.0.0/17"]} for seg in SEGMENTS]

    def share_traffic(self, snap: Snapshot) -> list[Row]:
        return [{"share": "portal", "a_to_b": 5000 * self.calls, "b_to_a": 20000 * self.calls, "end_a": "corp", "end_b": "prod"}]

    def clear_counters(self, scope: str | None = None, name: str | None = None) -> int:
        self.cleared_at = self.hit_reads
        return 4

    def trace(self, snap: Snapshot, flow: Row) -> Row | None:
        hop = {"kind": "router", "ingress": "eth0", "egress": "eth1", "src": flow["src"], "dst": flow["dst"],
               "sport": flow["sport"], "dport": flow["dport"], "rule": flow.get("rule")}
        hops = [{**hop, "node": f"segment {flow['segment']} cxp core"}]
        return {"predicted": hops, "observed": hops, "agree": True, "verdict": "reachable", "reason": flow.get("rule"),
                "first_difference": None}
