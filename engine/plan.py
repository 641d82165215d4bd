"""The Plan: the desired kernel state of a lab, as frozen plain data.

A Plan is a set of items keyed by identity. Each item names the namespace
it lives in, the keys it depends on (a route needs its link, a link its
namespaces) and, where it matters for views, the intent it came from
(`origin`), so a route or a counter maps back to configuration.

Interface indexes are a pure function of the interface name: the realiser
creates every link with that explicit ifindex, so nothing is ever looked up
in the kernel and a plan can address any interface directly (LINUX-NOTES:
"explicit ifindex so no look-ups").
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from engine.origin import Origin

Key = tuple[str, ...]

# ct mark bit of connections a policy change refused: the tables drop them,
# the lab sets it (lab/conntrack.py) on what the engine says was refused
REFUSED_MARK = 0x1


def ifindex_of(ifname: str) -> int:
    """The fixed ifindex of an interface name (lo is always 1)."""
    if ifname == "lo":
        return 1
    return 1000 + zlib.crc32(ifname.encode()) % 2_000_000_000


@dataclass(frozen=True)
class NetnsItem:
    """A network namespace with its sysctls."""

    ns: str
    role: str  # host | vpc-router | segment-router
    origin: str
    sysctls: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> Key:
        return ("ns", self.ns)

    def deps(self) -> tuple[Key, ...]:
        return ()

    def provides(self) -> tuple[Key, ...]:
        return (self.key, ("link", self.ns, "lo"))


@dataclass(frozen=True)
class VethItem:
    """A veth pair, created in `ns` with its peer placed straight into `peer_ns`."""

    ns: str
    ifname: str
    peer_ns: str
    peer_ifname: str

    @property
    def key(self) -> Key:
        return ("veth", self.ns, self.ifname)

    def deps(self) -> tuple[Key, ...]:
        return (("ns", self.ns), ("ns", self.peer_ns))

    def provides(self) -> tuple[Key, ...]:
        return (self.key, ("link", self.ns, self.ifname), ("link", self.peer_ns, self.peer_ifname))


@dataclass(frozen=True)
class BridgeItem:
    """A Linux bridge (one per subnet in a VPC router)."""

    ns: str
    ifname: str

    @property
    def key(self) -> Key:
        return ("bridge", self.ns, self.ifname)

    def deps(self) -> tuple[Key, ...]:
        return (("ns", self.ns),)

    def provides(self) -> tuple[Key, ...]:
        return (self.key, ("link", self.ns, self.ifname))


@dataclass(frozen=True)
class LinkConfItem:
    """The settable state of one link end: up, alias (its meaning), master."""

    ns: str
    ifname: str
    alias: str = ""
    master: str | None = None
    up: bool = True

    @property
    def key(self) -> Key:
        return ("conf", self.ns, self.ifname)

    def deps(self) -> tuple[Key, ...]:
        own: Key = ("link", self.ns, self.ifname)
        return (own, ("link", self.ns, self.master)) if self.master else (own,)

    def provides(self) -> tuple[Key, ...]:
        return (self.key,)


@dataclass(frozen=True)
class AddressItem:
    """An IPv4 address with prefix length on one link."""

    ns: str
    ifname: str
    cidr: str  # "10.1.1.1/24"

    @property
    def key(self) -> Key:
        return ("addr", self.ns, self.ifname, self.cidr)

    def deps(self) -> tuple[Key, ...]:
        return (("link", self.ns, self.ifname),)

    def provides(self) -> tuple[Key, ...]:
        return (self.key,)


@dataclass(frozen=True)
class RouteMeta:
    """Where a route came from, in the terms of `show ip route`."""

    segment: str | None
    cxp: str | None
    origin: str  # vpc | backbone | share | internet | endpoint | local
    via: str | None = None
    group: str | None = None
    original_prefix: str | None = None
    translated_prefix: str | None = None
    vpc: str | None = None


@dataclass(frozen=True)
class RouteItem:
    """A route in a namespace's main table (`unreachable` when type says so)."""

    ns: str
    dst: str  # "10.1.0.0/16" or "0.0.0.0/0"
    gateway: str | None = None
    ifname: str | None = None
    onlink: bool = False
    type: str = "unicast"  # unicast | unreachable
    meta: RouteMeta | None = field(default=None, compare=True)
    on_address: str | None = None  # the local cidr the gateway is reached through

    @property
    def key(self) -> Key:
        return ("route", self.ns, self.dst)

    def deps(self) -> tuple[Key, ...]:
        """The link, and the address that makes the gateway reachable: the
        kernel flushes a gateway route when that address goes away."""
        if not self.ifname:
            return (("ns", self.ns),)
        link: Key = ("link", self.ns, self.ifname)
        return (link, ("addr", self.ns, self.ifname, self.on_address)) if self.on_address else (link,)

    def provides(self) -> tuple[Key, ...]:
        return (self.key,)


@dataclass(frozen=True)
class NftItem:
    """The whole nftables table of one namespace, as nft script text.

    One item per namespace because the table is loaded as one atomic
    transaction: a changed policy entry replaces the table, which keeps
    conntrack (so admitted connections survive) but swaps every rule at once.
    `sources` are the configured objects that contributed (origins without
    an entry), for views: which routers enforce a segment's policy.
    """

    ns: str
    ruleset: str
    sources: tuple[Origin, ...] = ()
    # (comment, digest of the rules and elements counted under it): a reload
    # carries a counter over when its digest did not change
    counted: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> Key:
        return ("nft", self.ns)

    def deps(self) -> tuple[Key, ...]:
        return (("ns", self.ns),)

    def provides(self) -> tuple[Key, ...]:
        return (self.key,)


@dataclass(frozen=True)
class ServiceItem:
    """A supervised process in a namespace: a host's service, or a router's
    policy-log collector.

    `argv` is complete except for the lab's runtime paths, which the lab
    layer fills in; `tag` is unique in the lab and ends up on the process's
    command line, which is how a running service is found again.
    """

    ns: str
    name: str
    kind: str  # dns | http | tcp-echo | udp-echo | policy-log
    port: int | None
    tag: str
    address: str | None = None
    on_address: tuple[str, str] | None = None  # (ifname, cidr) the service listens on
    data: str = ""  # dns: the hosts file; http: the page
    origin: str = ""

    @property
    def key(self) -> Key:
        return ("svc", self.ns, self.name)

    def deps(self) -> tuple[Key, ...]:
        if self.on_address:
            return (("ns", self.ns), ("addr", self.ns, *self.on_address))
        return (("ns", self.ns),)

    def provides(self) -> tuple[Key, ...]:
        return (self.key,)


Item = NetnsItem | VethItem | BridgeItem | LinkConfItem | AddressItem | RouteItem | NftItem | ServiceItem

# Order in which kinds are created; removal goes the other way.
KIND_ORDER = ("ns", "bridge", "veth", "conf", "addr", "route", "nft", "svc")


@dataclass(frozen=True)
class Plan:
    """The desired state: items by key. Build with PlanBuilder."""

    items: dict[Key, Item] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items.values())

    def __len__(self) -> int:
        return len(self.items)

    def of_kind(self, kind: str) -> list[Item]:
        """Items whose key starts with `kind` ('ns', 'route', ...)."""
        return [i for k, i in self.items.items() if k[0] == kind]

    def namespaces(self) -> list[str]:
        """Every namespace of the plan."""
        return [k[1] for k in self.items if k[0] == "ns"]

    def in_ns(self, ns: str) -> list[Item]:
        """Items living in namespace `ns` (a veth counts in both of its ends)."""
        return [i for i in self.items.values() if i.ns == ns or getattr(i, "peer_ns", None) == ns]

    def counts(self) -> dict[str, int]:
        """How many items of each kind."""
        out: dict[str, int] = {}
        for k in self.items:
            out[k[0]] = out.get(k[0], 0) + 1
        return out


class PlanBuilder:
    """Collects items from the compiler's stages; refuses two items with one key."""

    def __init__(self) -> None:
        self._items: dict[Key, Item] = {}

    def add(self, item: Item) -> None:
        """Add one item; a second, different item with the same key is a compiler bug."""
        old = self._items.get(item.key)
        if old is not None and old != item:
            raise ValueError(f"plan conflict at {item.key}: {old} vs {item}")
        self._items[item.key] = item

    def extend(self, items: Iterable[Item]) -> None:
        """Add many items."""
        for item in items:
            self.add(item)

    def merge(self, keyed: Mapping[Key, Item]) -> None:
        """Add a memoised group of items by key: one C-level update, item by
        item only where keys meet (a commit merges hundreds of such groups)."""
        if not self._items.keys().isdisjoint(keyed):
            for item in keyed.values():
                self.add(item)
            return
        self._items.update(keyed)

    def keyed(self) -> Mapping[Key, Item]:
        """The items so far, by key, read-only (memoised groups are shared)."""
        return MappingProxyType(dict(self._items))

    def build(self) -> Plan:
        """The finished, frozen plan."""
        return Plan(dict(self._items))
