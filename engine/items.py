"""Plan items: the kinds of kernel object a Plan holds, as frozen data.

Each item names the namespace it lives in, the keys it depends on (a route
needs its link, a link its namespaces) and, where it matters for views, the
intent it came from (`origin`), so a route or a counter maps back to
configuration.

Each item class declares its kind (`KIND`, the first element of its keys),
when it is created relative to the other kinds (`ORDER`) and whether a
changed item is changed in place (`IN_PLACE`); the diff reads these, and
lab/realisers.py has one realiser per kind. A new kind of kernel object is
one class here and one realiser there.

Interface indexes are a pure function of the interface name: the realiser
creates every link with that explicit ifindex, so nothing is ever looked up
in the kernel and a plan can address any interface directly (LINUX-NOTES:
"explicit ifindex so no look-ups").
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import ClassVar

from engine import marks
from engine.origin import Origin

Key = tuple[str, ...]

# the ct mark's bits are laid out in engine/marks.py: REFUSED (a commit's
# policy or firewall rules refused the connection: the tables drop it, the
# lab sets it through lab/ctnetlink.py) and ORIGIN (the router where a connection entered the
# fabric from a VPC: one entry per connection carries it, so a reader can
# ask the kernel for those alone, lab/ctnetlink.py's mark filter)
REFUSED_MARK = marks.REFUSED
ORIGIN_MARK = marks.ORIGIN
MAIN_TABLE = 254  # the kernel's main routing table


def ifindex_of(ifname: str) -> int:
    """The fixed ifindex of an interface name (lo is always 1)."""
    if ifname == "lo":
        return 1
    return 1000 + zlib.crc32(ifname.encode()) % 2_000_000_000


class PlanItem:
    """What every plan item declares about its kind, for the diff and the lab.

    `KIND` is the first element of the item's key; kinds are created in
    `ORDER` (lowest first) and removed the other way; an `IN_PLACE` kind is
    changed where it stands (set, replace, reload, restart), any other is
    removed and created again. Subclasses register themselves.
    """

    KIND: ClassVar[str]
    ORDER: ClassVar[int]
    IN_PLACE: ClassVar[bool] = False
    LABEL: ClassVar[str] = ""  # what `commit check` calls the kind (default: KIND)

    ns: str

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.KIND in ITEM_KINDS:
            raise TypeError(f"plan item kind {cls.KIND!r} declared twice ({ITEM_KINDS[cls.KIND].__name__}, {cls.__name__})")
        ITEM_KINDS[cls.KIND] = cls

    @property
    def key(self) -> Key:
        """The item's identity in the plan."""
        raise NotImplementedError

    def deps(self) -> tuple[Key, ...]:
        """Keys the item needs; when one goes, the kernel may take this item with it."""
        return (("ns", self.ns),)

    def provides(self) -> tuple[Key, ...]:
        """Keys that other items may depend on."""
        return (self.key,)

    def spaces(self) -> tuple[str, ...]:
        """The namespaces the item lives in (a veth: both of its ends')."""
        return (self.ns,)

    def removed_with(self, lost: list[bool]) -> bool:
        """Does the kernel remove this item when the dependencies flagged in
        `lost` (in `deps()` order) go? Yes when any does, unless a kind says
        otherwise."""
        return any(lost)

    def address_of(self) -> Key | None:
        """The link this item is an IPv4 address of (None: not an address)."""
        return None

    def needs_address(self) -> Key | None:
        """The link whose last IPv4 address takes this item with it: the
        kernel disables IPv4 on a link that loses its last address and
        flushes every route through it, even one whose own dependencies
        stay (None: no such link)."""
        return None


ITEM_KINDS: dict[str, type[PlanItem]] = {}


def kind_rank() -> dict[str, int]:
    """Kind -> its place in the creation order."""
    return {kind: cls.ORDER for kind, cls in ITEM_KINDS.items()}


def kind_label(kind: str) -> str:
    """What `commit check` calls a kind (`namespace`, `link`, ...)."""
    cls = ITEM_KINDS.get(kind)
    return (cls.LABEL or cls.KIND) if cls else kind


@dataclass(frozen=True)
class NetnsItem(PlanItem):
    """A network namespace with its sysctls."""

    KIND = "ns"
    ORDER = 10
    LABEL = "namespace"

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
class BridgeItem(PlanItem):
    """A Linux bridge (one per subnet in a VPC router)."""

    KIND = "bridge"
    ORDER = 20

    ns: str
    ifname: str

    @property
    def key(self) -> Key:
        return ("bridge", self.ns, self.ifname)

    def provides(self) -> tuple[Key, ...]:
        return (self.key, ("link", self.ns, self.ifname))


@dataclass(frozen=True)
class VethItem(PlanItem):
    """A veth pair, created in `ns` with its peer placed straight into `peer_ns`."""

    KIND = "veth"
    ORDER = 30

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

    def spaces(self) -> tuple[str, ...]:
        return (self.ns, self.peer_ns)

    def removed_with(self, lost: list[bool]) -> bool:
        """A namespace is freed asynchronously, so a veth with one end in a
        surviving namespace would linger there for a while: it goes with its
        namespaces only when both go, else it is removed explicitly."""
        return all(lost)


@dataclass(frozen=True)
class LinkConfItem(PlanItem):
    """The settable state of one link end: up, alias (its meaning), master."""

    KIND = "conf"
    ORDER = 40
    IN_PLACE = True
    LABEL = "link"

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


@dataclass(frozen=True)
class AddressItem(PlanItem):
    """An IPv4 address with prefix length on one link."""

    KIND = "addr"
    ORDER = 50
    LABEL = "address"

    ns: str
    ifname: str
    cidr: str  # "10.1.1.1/24"

    @property
    def key(self) -> Key:
        return ("addr", self.ns, self.ifname, self.cidr)

    def deps(self) -> tuple[Key, ...]:
        return (("link", self.ns, self.ifname),)

    def address_of(self) -> Key | None:
        return ("link", self.ns, self.ifname)


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
class RouteItem(PlanItem):
    """A route in one of a namespace's routing tables (`unreachable` when
    type says so). Routes of the main table keep the key they always had;
    another table's routes carry it in theirs (policy routing steers marked
    packets into such tables: see RuleItem)."""

    KIND = "route"
    ORDER = 60
    IN_PLACE = True

    ns: str
    dst: str  # "10.1.0.0/16" or "0.0.0.0/0"
    gateway: str | None = None
    ifname: str | None = None
    onlink: bool = False
    type: str = "unicast"  # unicast | unreachable
    meta: RouteMeta | None = field(default=None, compare=True)
    on_address: str | None = None  # the local cidr the gateway is reached through
    table: int = MAIN_TABLE

    @property
    def key(self) -> Key:
        if self.table == MAIN_TABLE:
            return ("route", self.ns, self.dst)
        return ("route", self.ns, self.dst, "table", str(self.table))

    def deps(self) -> tuple[Key, ...]:
        """The link, and the address that makes the gateway reachable: the
        kernel flushes a gateway route when that address goes away."""
        if not self.ifname:
            return (("ns", self.ns),)
        link: Key = ("link", self.ns, self.ifname)
        return (link, ("addr", self.ns, self.ifname, self.on_address)) if self.on_address else (link,)

    def needs_address(self) -> Key | None:
        """A route through a link goes when the link's last address does
        (a VPC router's onlink default route when a lower cidr moves its
        uplink address: the old address is removed before the new one is
        added)."""
        return ("link", self.ns, self.ifname) if self.ifname and self.type == "unicast" else None


@dataclass(frozen=True)
class RuleItem(PlanItem):
    """A policy routing rule (`ip rule`): packets whose firewall mark matches
    `fwmark` under `fwmask` (and, with `iif`, that arrived on that link)
    look up routing table `table`. Rules are keyed by priority, one per
    priority in a namespace; the kernel cannot replace a rule, so a changed
    one is removed and added again. A rule naming a link survives the
    link's removal in the kernel, hence no dependency on it."""

    KIND = "rule"
    ORDER = 65

    ns: str
    priority: int
    table: int
    fwmark: int | None = None
    fwmask: int | None = None  # None with a fwmark: every bit
    iif: str | None = None
    origin: Origin | None = None

    @property
    def key(self) -> Key:
        return ("rule", self.ns, str(self.priority))

    def describe(self) -> str:
        """The rule as `ip rule` prints it, for drift reports."""
        match = f" fwmark {self.fwmark:#x}/{self.fwmask if self.fwmask is not None else 0xFFFFFFFF:#x}" if self.fwmark is not None else ""
        iif = f" iif {self.iif}" if self.iif else ""
        return f"{self.priority}:{match}{iif} lookup {self.table}"


@dataclass(frozen=True)
class NftItem(PlanItem):
    """The whole nftables table of one namespace, as nft script text.

    One item per namespace because the table is loaded as one atomic
    transaction: a changed policy entry replaces the table, which keeps
    conntrack (so admitted connections survive) but swaps every rule at once.
    `sources` are the configured objects that contributed (origins without
    an entry), for views: which routers enforce a segment's policy.
    """

    KIND = "nft"
    ORDER = 80
    IN_PLACE = True

    ns: str
    ruleset: str
    sources: tuple[Origin, ...] = ()
    # (comment, digest of the rules and elements counted under it): a reload
    # carries a counter over when its digest did not change
    counted: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> Key:
        return ("nft", self.ns)


@dataclass(frozen=True)
class ServiceDataItem(PlanItem):
    """What a running service reads and reads again when it changes: a dns
    server's views (engine/dns.py). The lab keeps it in a file beside the
    service (found by the service's tag) and replaces it in place, so a
    commit that adds a host or an endpoint changes what the server answers
    without restarting it. A file outlives its namespace, so it is always
    removed explicitly; it is written before services start and removed
    after they stop (ORDER)."""

    KIND = "data"
    ORDER = 85
    IN_PLACE = True
    LABEL = "service data"

    ns: str
    name: str  # the service it belongs to (its name in the namespace)
    tag: str  # that service's tag
    data: str

    @property
    def key(self) -> Key:
        return ("data", self.ns, self.name)

    def removed_with(self, lost: list[bool]) -> bool:
        return False


@dataclass(frozen=True)
class ServiceItem(PlanItem):
    """A supervised process in a namespace: a host's service, or a router's
    policy-log collector.

    `argv` is complete except for the lab's runtime paths, which the lab
    layer fills in; `tag` is unique in the lab and ends up on the process's
    command line, which is how a running service is found again.
    """

    KIND = "svc"
    ORDER = 90
    IN_PLACE = True

    ns: str
    name: str
    kind: str  # dns | http | tcp-echo | udp-echo | policy-log
    port: int | None
    tag: str
    address: str | None = None
    on_address: tuple[str, str] | None = None  # (ifname, cidr) the service listens on
    data: str = ""  # http: the page (a dns server's views are a ServiceDataItem)
    origin: str = ""

    @property
    def key(self) -> Key:
        return ("svc", self.ns, self.name)

    def deps(self) -> tuple[Key, ...]:
        if self.on_address:
            return (("ns", self.ns), ("addr", self.ns, *self.on_address))
        return (("ns", self.ns),)

    def removed_with(self, lost: list[bool]) -> bool:
        """A process keeps its namespace alive, so a service is always stopped explicitly."""
        return False


Item = PlanItem
