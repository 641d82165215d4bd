"""The Plan seen as the kernel will use it: namespaces, links, addresses, routes.

Everything the generic part of a walk needs, indexed once per plan:
which namespace an interface's veth peer lives in, which ports a bridge
has, which addresses a namespace answers ARP for (Linux answers for every
local address on every interface: arp_ignore 0), and each namespace's
routing tables for longest-prefix match, with the connected routes the
kernel adds for every address shorter than /32.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from engine.datapath.packet import ip_int
from engine.plan import MAIN_TABLE, AddressItem, BridgeItem, LinkConfItem, NetnsItem, Plan, RouteItem, RuleItem, VethItem

LOOPBACK = (ip_int("127.0.0.0"), ip_int("127.255.255.255"))


@dataclass(frozen=True)
class Route:
    """One entry of a routing table, as the lookup needs it."""

    dst: str  # "10.1.0.0/16"
    kind: str  # unicast | unreachable | connected
    gateway: str | None
    ifname: str | None
    origin: str | None  # RouteMeta.via or "connected": what `trace` names as the deciding route

    def describe(self) -> str:
        """`10.1.0.0/16 via 169.254.3.4 dev v.web (vpc web)`."""
        parts = [self.dst]
        if self.kind == "unreachable":
            parts.append("unreachable")
        if self.gateway:
            parts.append(f"via {self.gateway}")
        if self.ifname:
            parts.append(f"dev {self.ifname}")
        if self.origin:
            parts.append(f"({self.origin})")
        return " ".join(parts)


@dataclass
class Table:
    """A routing table indexed by prefix length for longest-prefix match."""

    by_len: dict[int, dict[int, Route]] = field(default_factory=dict)
    lengths: list[int] = field(default_factory=list)  # present lengths, longest first

    def add(self, route: Route) -> None:
        """Insert (a later route for the same prefix replaces the earlier)."""
        net = ipaddress.IPv4Network(route.dst)
        plen = net.prefixlen
        if plen not in self.by_len:
            self.by_len[plen] = {}
            self.lengths = sorted(self.by_len, reverse=True)
        self.by_len[plen][int(net.network_address)] = route

    def lookup(self, address: int) -> Route | None:
        """The longest matching route, or None."""
        for plen in self.lengths:
            mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
            got = self.by_len[plen].get(address & mask)
            if got is not None:
                return got
        return None


@dataclass
class Namespace:
    """One namespace of the plan: role, name, interfaces, addresses, tables."""

    ns: str
    role: str
    node: str  # the NetnsItem's origin: "host alice", "vpc web", "segment prod cxp core"
    addresses: dict[int, str] = field(default_factory=dict)  # address -> interface holding it
    tables: dict[int, Table] = field(default_factory=dict)
    bridges: set[str] = field(default_factory=set)
    master: dict[str, str] = field(default_factory=dict)  # bridge port -> bridge
    alias: dict[str, str] = field(default_factory=dict)  # interface -> meaning
    rules: list[RuleItem] = field(default_factory=list)  # policy routing, by priority

    def lookup(self, address: int, mark: int, ingress: str | None) -> Route | None:
        """The route the kernel picks: the rules in priority order (fwmark
        under its mask, input interface; `lo` for locally sent packets), each
        sending the lookup to its table, the next rule when that table has no
        route; then the main table."""
        for rule in self.rules:
            if rule.fwmark is not None:
                mask = rule.fwmask if rule.fwmask is not None else 0xFFFFFFFF
                if mark & mask != rule.fwmark & mask:
                    continue
            if rule.iif is not None and rule.iif != (ingress or "lo"):
                continue
            route = self.tables[rule.table].lookup(address) if rule.table in self.tables else None
            if route is not None:
                return route
        return self.table().lookup(address)

    def holds(self, address: int) -> bool:
        """True when the namespace owns `address` (it answers ARP for it and takes it in)."""
        return address in self.addresses or LOOPBACK[0] <= address <= LOOPBACK[1]

    def table(self, number: int = MAIN_TABLE) -> Table:
        """A routing table (created empty on first use)."""
        return self.tables.setdefault(number, Table())


class Graph:
    """The plan's namespaces and how their interfaces connect."""

    def __init__(self, plan: Plan, lab: str) -> None:
        self.lab = lab
        self.spaces: dict[str, Namespace] = {}
        self.peer: dict[tuple[str, str], tuple[str, str]] = {}  # veth end -> other end
        self.ports: dict[tuple[str, str], list[str]] = {}  # (ns, bridge) -> its ports
        self.adjacent: dict[str, set[str]] = {}  # ns -> namespaces one veth away
        for item in plan:
            if isinstance(item, NetnsItem):
                self.spaces[item.ns] = Namespace(item.ns, item.role, item.origin)
        for item in plan:
            self._add(item)

    def _add(self, item: object) -> None:
        if isinstance(item, VethItem):
            self.peer[(item.ns, item.ifname)] = (item.peer_ns, item.peer_ifname)
            self.peer[(item.peer_ns, item.peer_ifname)] = (item.ns, item.ifname)
            self.adjacent.setdefault(item.ns, set()).add(item.peer_ns)
            self.adjacent.setdefault(item.peer_ns, set()).add(item.ns)
        elif isinstance(item, BridgeItem):
            self.spaces[item.ns].bridges.add(item.ifname)
        elif isinstance(item, LinkConfItem):
            space = self.spaces[item.ns]
            if item.master:
                space.master[item.ifname] = item.master
                self.ports.setdefault((item.ns, item.master), []).append(item.ifname)
            if item.alias:
                space.alias[item.ifname] = item.alias.split(":", 1)[-1]
        elif isinstance(item, AddressItem):
            iface = ipaddress.IPv4Interface(item.cidr)
            space = self.spaces[item.ns]
            space.addresses[int(iface.ip)] = item.ifname
            if iface.network.prefixlen < 32:
                space.table().add(Route(str(iface.network), "connected", None, item.ifname, "connected"))
        elif isinstance(item, RouteItem):
            via = item.meta.via if item.meta is not None else None
            self.spaces[item.ns].table(item.table).add(Route(item.dst, item.type, item.gateway, item.ifname, via))
        elif isinstance(item, RuleItem):
            rules = self.spaces[item.ns].rules
            rules.append(item)
            rules.sort(key=lambda r: r.priority)

    def space(self, ns: str) -> Namespace:
        """A namespace of the plan (KeyError when there is none)."""
        return self.spaces[ns]

    def neighbours(self, ns: str) -> set[str]:
        """Namespaces one veth away from `ns` (where a packet could go next)."""
        return self.adjacent.get(ns, set())

    def describe_link(self, ns: str, ifname: str | None) -> str | None:
        """The meaning of an interface from its alias (`share portal-a to segment provider`)."""
        if ifname is None or ns not in self.spaces:
            return None
        return self.spaces[ns].alias.get(ifname)
