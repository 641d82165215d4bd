"""Read back the real state of a lab's namespaces.

The kernel is the truth; the Plan is the wish. `read_ns` returns, per
namespace, the same kinds of facts a Plan holds (links with their settings,
addresses, our routes of every table, our policy routing rules), so that
each kind's realiser (lab/realisers.py) judges drift by a plain comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.items import RouteItem, RuleItem
from engine.ports import RouteReading
from lab import marks, netns, nlread, rtnl

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
    table: bool | None = None  # does it hold the lab's nft table (None: not asked)
    other_tables: tuple[str, ...] = ()  # nft tables that are not the lab's, where tables were asked for
    services: frozenset[str] | None = None  # markers of the lab's running service processes (None: not asked)
    mark: str | None = None  # the lab whose mark its lo carries (lab/marks.py)


def read_ns(ns: str) -> NsState:
    """Links, addresses, and vpclab's routes and rules of one namespace
    (decoded lean: lab/nlread.py)."""
    ch = rtnl.Channel(ns).strict()
    try:
        state = NsState()
        names = {}
        for link in nlread.links(ch):
            names[link.index] = link.name
            state.links[link.name] = {"index": link.index, "up": link.up, "alias": link.alias, "master": link.master,
                                      "kind": link.kind}
            if link.index == marks.LO_INDEX:
                state.mark = marks.of_alias(link.alias)
        for facts in state.links.values():
            master = facts["master"]
            facts["master"] = names.get(master) if isinstance(master, int) else None
        state.addrs = {(names.get(index, "?"), f"{address}/{plen}") for index, address, plen in nlread.addrs(ch)}
        for r in nlread.routes(ch):
            reading = RouteReading(ns, r.dst, r.gateway, names.get(r.oif) if r.oif else None,
                                   "unreachable" if r.unreachable else "unicast", r.table)
            state.routes[(reading.table, reading.dst)] = reading
        for rule in nlread.rules(ch):
            if rule.protocol == rtnl.RTPROT_VPCLAB:
                state.rules[rule.priority] = RuleReading(rule.priority, rule.table, rule.fwmark, rule.fwmask, rule.iif)
        return state
    finally:
        ch.close()


def read_routes(namespaces: list[str]) -> dict[str, list[RouteReading]]:
    """Our routes, of every table, in each of these namespaces that exists
    (links are read for the device names; addresses and rules are not)."""
    return netns.each_present(namespaces, _routes_of)


def _routes_of(ns: str) -> list[RouteReading]:
    ch = rtnl.Channel(ns).strict()
    try:
        names = {link.index: link.name for link in nlread.links(ch)}
        return [RouteReading(ns, r.dst, r.gateway, names.get(r.oif) if r.oif else None,
                             "unreachable" if r.unreachable else "unicast", r.table) for r in nlread.routes(ch)]
    finally:
        ch.close()


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
