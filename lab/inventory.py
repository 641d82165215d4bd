"""Read back the real state of a lab's namespaces.

The kernel is the truth; the Plan is the wish. `read_ns` returns, per
namespace, the same kinds of facts a Plan holds (links with their settings,
addresses, our routes of every table, our policy routing rules), so that
each kind's realiser (lab/realisers.py) judges drift by a plain comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.items import RouteItem, RuleItem
from engine.plan import Plan
from engine.ports import RouteReading
from lab import netns, rtnl

IFF_UP = 1


@dataclass(frozen=True)
class RuleReading:
    """A policy routing rule of ours as read back from a namespace."""

    priority: int
    table: int
    fwmark: int | None
    fwmask: int | None
    iif: str | None

    def describe(self) -> str:
        """The rule as `ip rule` prints it."""
        match = f" fwmark {self.fwmark:#x}/{self.fwmask or 0:#x}" if self.fwmark is not None else ""
        iif = f" iif {self.iif}" if self.iif else ""
        return f"{self.priority}:{match}{iif} lookup {self.table}"


@dataclass
class NsState:
    """What one namespace holds, as read from the kernel."""

    links: dict[str, dict[str, object]] = field(default_factory=dict)  # ifname -> facts
    addrs: set[tuple[str, str]] = field(default_factory=set)  # (ifname, cidr)
    routes: dict[tuple[int, str], RouteReading] = field(default_factory=dict)  # (table, dst) -> reading (ours)
    rules: dict[int, RuleReading] = field(default_factory=dict)  # priority -> reading (ours)


def read_ns(ns: str) -> NsState:
    """Links, addresses, and vpclab's routes and rules of one namespace."""
    ch = rtnl.Channel(ns)
    try:
        state = NsState()
        names = _read_links(ch, state)
        for a in rtnl.dump_addrs(ch):
            state.addrs.add((names.get(a["index"], "?"), f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}"))
        for r in rtnl.dump_routes(ch):
            if r["proto"] == rtnl.RTPROT_VPCLAB:
                reading = _route(ns, r, names)
                state.routes[(reading.table, reading.dst)] = reading
        for r in rtnl.dump_rules(ch):
            if r.get_attr("FRA_PROTOCOL") == rtnl.RTPROT_VPCLAB:
                state.rules[r.get_attr("FRA_PRIORITY") or 0] = _rule(r)
        return state
    finally:
        ch.close()


def _read_links(ch: rtnl.Channel, state: NsState) -> dict[int, str]:
    names: dict[int, str] = {}
    for link in rtnl.dump_links(ch):
        name = link.get_attr("IFLA_IFNAME")
        names[link["index"]] = name
        info = link.get_attr("IFLA_LINKINFO")
        kind = info.get_attr("IFLA_INFO_KIND") if info else None
        state.links[name] = {
            "index": link["index"],
            "up": bool(link["flags"] & IFF_UP),
            "alias": link.get_attr("IFLA_IFALIAS") or "",
            "master": link.get_attr("IFLA_MASTER"),
            "kind": kind,
        }
    for link in state.links.values():
        master = link["master"]
        link["master"] = names.get(master) if isinstance(master, int) and master else None
    return names


def _route(ns: str, r: Any, names: dict[int, str]) -> RouteReading:
    """A decoded rtmsg as a reading (tables above 255 travel in RTA_TABLE only)."""
    dst = f"{r.get_attr('RTA_DST') or '0.0.0.0'}/{r['dst_len']}"
    kind = "unreachable" if r["type"] == rtnl.RTN_UNREACHABLE else "unicast"
    oif = r.get_attr("RTA_OIF")
    return RouteReading(ns, dst, r.get_attr("RTA_GATEWAY"), names.get(oif) if oif else None, kind, r.get_attr("RTA_TABLE") or r["table"])


def _rule(r: Any) -> RuleReading:
    """A decoded fibmsg as a reading."""
    mark = r.get_attr("FRA_FWMARK")
    mask = r.get_attr("FRA_FWMASK") if mark is not None else None
    return RuleReading(r.get_attr("FRA_PRIORITY") or 0, r.get_attr("FRA_TABLE") or r["table"], mark, mask, r.get_attr("FRA_IIFNAME"))


def read_routes(plan: Plan) -> dict[str, list[RouteReading]]:
    """Our routes, of every table, in every namespace of the plan that exists."""
    return netns.each_present(plan.namespaces(), lambda ns: list(read_ns(ns).routes.values()))


def route_matches(item: RouteItem, reading: RouteReading | None) -> bool:
    """True when the kernel route is the one the plan wants."""
    return (
        reading is not None
        and reading.kind == item.type
        and reading.gateway == item.gateway
        and reading.dev == item.ifname
        and reading.table == item.table
    )


def rule_matches(item: RuleItem, reading: RuleReading) -> bool:
    """True when the kernel rule is the one the plan wants."""
    mask = None if item.fwmark is None else (rtnl.FULL_MASK if item.fwmask is None else item.fwmask)
    return (reading.table, reading.fwmark, reading.fwmask, reading.iif) == (item.table, item.fwmark, mask, item.iif)


def link_counters(ns: str) -> dict[str, dict[str, int]]:
    """Packet and byte counters of every link of a namespace (IFLA_STATS64)."""
    ch = rtnl.Channel(ns)
    try:
        out = {}
        for link in rtnl.dump_links(ch):
            stats = link.get_attr("IFLA_STATS64") or {}
            out[link.get_attr("IFLA_IFNAME")] = {k: int(stats.get(k, 0)) for k in ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes")}
        return out
    finally:
        ch.close()
