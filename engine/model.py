"""The intent model: what the engineer declared, as frozen data.

Every object of CLI.md's configuration language is here, even those the
compiler does not realise yet, so that the shell, persistence and validation
speak the whole language from the start. Objects hold plain strings (names,
prefixes, addresses) exactly as declared; `validate` parses and checks them,
so a malformed value is a diagnostic, never an exception at construction.

Collections inside a Config are tuples sorted by name (or seq), which makes
equality, hashing and the running-config order stable without extra work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from engine.memo import derived

CORE_CXP = "core"

Action = Literal["permit", "deny"]


# --- hubs and segments -------------------------------------------------------


@dataclass(frozen=True)
class Cxp:
    """A hub in one cloud region; vpcs attach to it, segments span hubs."""

    name: str
    cloud: str | None = None
    region: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class PolicyEntry:
    """One ordered entry of a segment policy (first match wins)."""

    seq: int
    action: str  # permit | deny | inspect
    protocol: str  # ip | tcp | udp | icmp
    src: str  # "any" | "host A" | "A/N" | "group NAME" | "prefix-list NAME"
    dst: str
    ports: str | None = None  # "eq N" | "range A B"
    firewall: str | None = None  # for action inspect
    log: bool = False


@dataclass(frozen=True)
class Segment:
    """An isolated routing and policy domain spanning hubs."""

    name: str
    description: str | None = None
    default_action: str = "permit"
    policies: tuple[PolicyEntry, ...] = ()


# --- vpcs --------------------------------------------------------------------


@dataclass(frozen=True)
class Subnet:
    """A subnet of a VPC; its gateway (first address) lives on the VPC router."""

    name: str
    prefix: str
    group: str | None = None


@dataclass(frozen=True)
class Host:
    """A workload: one namespace with one interface in a subnet."""

    name: str
    address: str
    subnet: str | None = None  # None: the subnet that holds the address


@dataclass(frozen=True)
class Service:
    """A real server (dns, http, echo) running in a host's namespace."""

    name: str
    kind: str  # dns | http | tcp-echo | udp-echo
    host: str
    port: int | None = None


@dataclass(frozen=True)
class Endpoint:
    """An interface endpoint of a provider service inside a VPC."""

    name: str
    service: str
    address: str


@dataclass(frozen=True)
class Vpc:
    """A VPC or VNet attached to one hub, in one segment."""

    name: str
    segment: str | None = None
    cxp: str = CORE_CXP
    description: str | None = None
    group: str | None = None
    cidrs: tuple[str, ...] = ()
    subnets: tuple[Subnet, ...] = ()
    hosts: tuple[Host, ...] = ()
    services: tuple[Service, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    micro_segmentation: bool = False


# --- sharing -----------------------------------------------------------------


@dataclass(frozen=True)
class PrefixListEntry:
    """One IOS-style prefix-list line: seq, action, prefix, optional ge/le."""

    seq: int
    action: str
    prefix: str
    ge: int | None = None
    le: int | None = None


@dataclass(frozen=True)
class PrefixList:
    """An ordered list of prefix matches, evaluated as IOS does."""

    name: str
    entries: tuple[PrefixListEntry, ...] = ()


@dataclass(frozen=True)
class ShareEnd:
    """One end of a resource share: a segment and the list of what it offers."""

    segment: str
    prefix_list: str


@dataclass(frozen=True)
class NatMap:
    """1:1 prefix translation of one end's prefix as seen from the other end."""

    end: str  # end-a | end-b
    original: str
    translated: str

    KEY_FIELDS = ("end", "original")  # one nat line per (end, original prefix)


@dataclass(frozen=True)
class ResourceShare:
    """Opens chosen prefixes between two segments."""

    name: str
    end_a: ShareEnd | None = None
    end_b: ShareEnd | None = None
    direction: str = "bidirectional"
    nat: tuple[NatMap, ...] = ()
    firewall: str | None = None
    description: str | None = None


# --- firewalls, internet, endpoints -----------------------------------------


@dataclass(frozen=True)
class Zone:
    """A firewall zone: a segment (optionally one group of it) or an internet edge."""

    name: str
    segment: str | None = None
    group: str | None = None
    internet: str | None = None


@dataclass(frozen=True)
class FirewallRule:
    """One ordered zone-based firewall rule."""

    seq: int
    action: str
    protocol: str
    src_zone: str
    dst_zone: str
    ports: str | None = None
    log: bool = False


@dataclass(frozen=True)
class Firewall:
    """A zone-based firewall with 1-8 instances sharing the load symmetrically."""

    name: str
    cxp: str = CORE_CXP
    instances: int = 1
    zones: tuple[Zone, ...] = ()
    rules: tuple[FirewallRule, ...] = ()
    default_action: str = "deny"


@dataclass(frozen=True)
class PublicHost:
    """A host on the simulated internet."""

    name: str
    address: str


@dataclass(frozen=True)
class LoadBalancer:
    """A VIP on the internet edge forwarding to lab hosts."""

    name: str
    vip: str
    port: int
    backends: tuple[str, ...] = ()


@dataclass(frozen=True)
class Internet:
    """A simulated internet edge on a hub."""

    name: str
    cxp: str = CORE_CXP
    segments: tuple[str, ...] = ()
    snat_address: str | None = None
    firewall: str | None = None
    public_hosts: tuple[PublicHost, ...] = ()
    load_balancers: tuple[LoadBalancer, ...] = ()


@dataclass(frozen=True)
class EndpointService:
    """A provider service reached through interface endpoints."""

    name: str
    cxp: str = CORE_CXP
    kind: str = "http"
    port: int | None = None


# --- the whole configuration -------------------------------------------------

KINDS: dict[str, str] = {
    # CLI keyword -> Config attribute, in running-config order
    "cxp": "cxps",
    "segment": "segments",
    "prefix-list": "prefix_lists",
    # before the VPCs whose `endpoint` lines name them, so a saved
    # configuration defines each service before its first use
    "endpoint-service": "endpoint_services",
    "vpc": "vpcs",
    "firewall": "firewalls",
    "resource-share": "shares",
    "internet": "internets",
}

T = TypeVar("T")


def _first_by_name(objects: Iterable[Any]) -> dict[str, Any]:
    """Name -> object; the first of two with one name (validation reports those)."""
    out: dict[str, Any] = {}
    for obj in objects:
        out.setdefault(obj.name, obj)
    return out


def _sorted_by_name(items: Iterable[T]) -> tuple[T, ...]:
    return tuple(sorted(items, key=lambda o: o.name))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Config:
    """A whole lab configuration (the candidate or the running one)."""

    cxps: tuple[Cxp, ...] = ()
    segments: tuple[Segment, ...] = ()
    vpcs: tuple[Vpc, ...] = ()
    prefix_lists: tuple[PrefixList, ...] = ()
    shares: tuple[ResourceShare, ...] = ()
    firewalls: tuple[Firewall, ...] = ()
    internets: tuple[Internet, ...] = ()
    endpoint_services: tuple[EndpointService, ...] = field(default=())

    # Reading ---------------------------------------------------------------

    def objects(self, kind: str) -> tuple[Any, ...]:
        """All objects of a CLI kind (`vpc`, `segment`, ...), by name."""
        items = getattr(self, KINDS[kind])
        if kind == "cxp" and not any(c.name == CORE_CXP for c in items):
            items = _sorted_by_name((*items, Cxp(CORE_CXP)))
        return items  # type: ignore[no-any-return]

    def get(self, kind: str, name: str) -> Any | None:
        """The object of `kind` called `name`, or None.

        Indexed per kind on first use (engine/memo.py): a Config never
        changes, and lookups by name happen per share, per policy term, per
        route."""
        return derived(self, f"_by_name_{kind}", lambda: _first_by_name(self.objects(kind))).get(name)

    def require(self, kind: str, name: str) -> Any:
        """The object of `kind` called `name`; NotFoundError when there is none."""
        obj = self.get(kind, name)
        if obj is None:
            from engine.errors import NotFoundError

            raise NotFoundError(f"{kind} {name} does not exist")
        return obj

    def vpcs_in(self, segment: str) -> tuple[Vpc, ...]:
        """The VPCs of a segment (indexed on first use)."""
        return derived(self, "_by_segment", self._vpcs_by_segment).get(segment, ())

    def _vpcs_by_segment(self) -> dict[str | None, tuple[Vpc, ...]]:
        index: dict[str | None, list[Vpc]] = {}
        for vpc in self.vpcs:
            index.setdefault(vpc.segment, []).append(vpc)
        return {k: tuple(v) for k, v in index.items()}

    def names(self, kind: str) -> list[str]:
        """Names of every object of a kind, sorted."""
        return [o.name for o in self.objects(kind)]

    def hosts(self) -> list[tuple[Vpc, Host]]:
        """Every host with the VPC it lives in."""
        return [(v, h) for v in self.vpcs for h in v.hosts]

    def groups(self) -> dict[str, list[tuple[str, str]]]:
        """Group name -> members as (kind, name): vpcs and `vpc/subnet`."""
        out: dict[str, list[tuple[str, str]]] = {}
        for vpc in self.vpcs:
            if vpc.group:
                out.setdefault(vpc.group, []).append(("vpc", vpc.name))
            for sn in vpc.subnets:
                if sn.group:
                    out.setdefault(sn.group, []).append(("subnet", f"{vpc.name}/{sn.name}"))
        return out

    # Editing (each returns a new Config) -------------------------------------

    def put(self, kind: str, obj: Any) -> Config:
        """Add or replace the object of `kind` with obj's name."""
        attr = KINDS[kind]
        items = [o for o in getattr(self, attr) if o.name != obj.name]
        return replace(self, **{attr: _sorted_by_name((*items, obj))})

    def remove(self, kind: str, name: str) -> Config:
        """Remove the object of `kind` called `name` (no-op if absent)."""
        attr = KINDS[kind]
        items = tuple(o for o in getattr(self, attr) if o.name != name)
        return replace(self, **{attr: items})

    def is_empty(self) -> bool:
        """True when nothing but defaults is configured."""
        return self == Config() or all(
            not getattr(self, a) or (a == "cxps" and self.cxps == (Cxp(CORE_CXP),))
            for a in KINDS.values()
        )
