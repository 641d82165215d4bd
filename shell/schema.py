"""The configuration language, declared once: object kinds and their lines.

Everything about a configuration line lives here: its syntax (with captures
named after model fields), the help of words particular to it, and an
optional check against the rest of the configuration. Parsing, `no`, `?`,
TAB and the running-config printer are all derived from these declarations
(see `shell.commands.configure` and `shell.printer`). Later capabilities
(firewall, internet) add an `ObjectKind` here and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine import model, validate
from engine.model import Config
from shell.binding import Binding

LineCheck = Callable[[Config, Any, dict[str, Any]], str | None]


@dataclass(frozen=True)
class Line:
    """One line of an object's mode (or an object's one-line form)."""

    syntax: str
    help: dict[str, str] | str = field(default_factory=dict)
    field: str | None = None
    check: LineCheck | None = None


@dataclass(frozen=True)
class ObjectKind:
    """A configuration object kind: its header, its mode's lines, its model.

    A kind with `inline` set has no mode: the header line itself carries one
    item (a prefix-list entry), as IOS's `ip prefix-list` does.
    """

    kind: str
    model: type
    help: str
    lines: tuple[Line, ...] = ()
    inline: Line | None = None

    @property
    def mode(self) -> str | None:
        """Name of the object's configuration mode."""
        return None if self.inline else f"config-{self.kind}"

    @property
    def ref(self) -> str:
        """The argument type that names an object of this kind."""
        return REF_TYPES[self.kind]

    @property
    def header(self) -> str:
        """Syntax of the line that names (and enters) an object."""
        return self.inline.syntax if self.inline else f"{self.kind} name={self.ref}"

    def bindings(self) -> list[tuple[Line, Binding]]:
        """Each line with its model binding, in printing order."""
        return [(ln, _binding(ln, self.model)) for ln in self.lines]

    def inline_binding(self) -> Binding | None:
        """The binding of an inline kind's header."""
        return _binding(self.inline, self.model, inline=True) if self.inline else None


_BINDINGS: dict[tuple[str, type, bool], Binding] = {}


def _binding(line: Line, owner: type, inline: bool = False) -> Binding:
    key = (line.syntax, owner, inline)
    if key not in _BINDINGS:
        _BINDINGS[key] = Binding(line.syntax, owner, line.field)
    return _BINDINGS[key]


def _host_name_free(config: Config, vpc: Any, values: dict[str, Any]) -> str | None:
    """Host names are unique lab-wide, not just per VPC."""
    name = values.get("name")
    for other, host in config.hosts():
        if host.name == name and other.name != vpc.name:
            return f"vpc {vpc.name}: host {name} already exists in vpc {other.name}"
    return None


def _first(here: str, problems: list[str]) -> str | None:
    return f"{here}: {problems[0]}" if problems else None


def _policy_line(config: Config, seg: Any, values: dict[str, Any]) -> str | None:
    """What one policy line gets wrong on its own, said at the line; the
    commit's validation says it again, with what needs the whole config.
    Both use engine.validate's single-line checks."""
    entry = model.PolicyEntry(values.get("seq", 0), values.get("action", "permit"), values.get("protocol", "ip"),
                              values.get("src", "any"), values.get("dst", "any"), values.get("ports"))
    return _first(f"segment {seg.name} policy {values.get('seq', '')}".rstrip(), validate.policy_entry_problems(entry))


def _nat_line(config: Config, share: Any, values: dict[str, Any]) -> str | None:
    nat = model.NatMap(values["end"], values["original"], values["translated"])
    return _first(f"resource-share {share.name} nat {nat.end} {nat.original} to {nat.translated}", validate.nat_problems(nat))


def _prefix_list_line(config: Config, plist: Any, values: dict[str, Any]) -> str | None:
    entry = model.PrefixListEntry(0, values.get("action", "permit"), values.get("prefix", ""), values.get("ge"), values.get("le"))
    return _first(f"prefix-list {values.get('name', getattr(plist, 'name', ''))} {entry.prefix}", validate.prefix_list_entry_problems(entry))


def _cidr_line(config: Config, vpc: Any, values: dict[str, Any]) -> str | None:
    problem = validate.cidr_problem(values.get("cidrs", ""))
    return f"vpc {vpc.name} cidr {problem}" if problem else None


def _subnet_line(config: Config, vpc: Any, values: dict[str, Any]) -> str | None:
    return _first(f"vpc {vpc.name} subnet {values.get('name')}", [p for p in [validate.prefix_problem(values.get("prefix", ""))] if p])


def _zone_line(config: Config, fw: Any, values: dict[str, Any]) -> str | None:
    """A zone's name must not be a word of the rule line (said again at commit)."""
    problem = validate.zone_name_problem(str(values.get("name", "")))
    return f"firewall {fw.name} zone {values.get('name')}: {problem}" if problem else None


def _rule_line(config: Config, fw: Any, values: dict[str, Any]) -> str | None:
    return _first(f"firewall {fw.name} rule {values.get('seq', '')}".rstrip(),
                  validate.ports_problems(values.get("protocol", "ip"), values.get("ports")))


def _public_line(config: Config, edge: Any, values: dict[str, Any]) -> str | None:
    problem = validate.public_address_problem(values.get("snat_address", ""))
    return f"internet {edge.name} snat-address {problem}" if problem else None


def _public_host_line(config: Config, edge: Any, values: dict[str, Any]) -> str | None:
    """Public host names are unique together with the lab's hosts (both are TARGETs)."""
    name = values.get("name")
    problem = validate.public_address_problem(values.get("address", ""))
    if problem:
        return f"internet {edge.name} public-host {name}: {problem}"
    if any(h.name == name for _v, h in config.hosts()):
        return f"internet {edge.name}: public-host {name} is already a host of vpc {next(v.name for v, h in config.hosts() if h.name == name)}"
    other = next((e.name for e in config.internets if e.name != edge.name and any(p.name == name for p in e.public_hosts)), None)
    return f"internet {edge.name}: public-host {name} already exists on internet {other}" if other else None


def _load_balancer_line(config: Config, edge: Any, values: dict[str, Any]) -> str | None:
    problem = validate.public_address_problem(values.get("vip", ""))
    return f"internet {edge.name} load-balancer {values.get('name')}: vip {problem}" if problem else None


REF_TYPES = {"cxp": "CXP", "segment": "SEGMENT", "vpc": "VPC", "prefix-list": "PREFIX-LIST",
             "resource-share": "SHARE", "firewall": "FIREWALL", "internet": "INTERNET",
             "endpoint-service": "ENDPOINT-SERVICE"}
ENDPOINT = "{any|host ADDRESS|PREFIX|group GROUP|prefix-list PREFIX-LIST}"
PORTS = "{eq PORT|range PORT PORT}"
END_HELP = {"segment": "Segment of this end", "prefix-list": "The prefixes this end offers"}

OBJECT_KINDS: tuple[ObjectKind, ...] = (
    ObjectKind("cxp", model.Cxp, "A hub in one cloud region ('core' always exists)", (
        Line("cloud cloud={aws|azure|gcp|oci|private}"),
        Line("region region=WORD", {"region": "Region name, e.g. us-east-1"}),
        Line("description description=LINE"),
    )),
    ObjectKind("segment", model.Segment, "An isolated routing and policy domain", (
        Line("description description=LINE"),
        Line("default-action default_action={permit|deny}"),
        Line(f"policy seq=SEQ {{action={{permit|deny}}|action=inspect firewall=FIREWALL}} "
             f"protocol={{ip|tcp|udp|icmp}} src={ENDPOINT} dst={ENDPOINT} [ports={PORTS}] [log=log]",
             {"src": "Source", "dst": "Destination", "host": "One address (A.B.C.D)", "any": "Any address",
              "ip": "Any IP protocol", "inspect": "Permit, through a firewall (its rules decide too)",
              "firewall": "The firewall that inspects",
              "group": "A group of this segment (VPCs and subnets)", "prefix-list": "Addresses a prefix list permits"},
             field="policies", check=_policy_line),
    )),
    ObjectKind("prefix-list", model.PrefixList, "An ordered list of prefix matches",
               inline=Line("prefix-list name=PREFIX-LIST [seq seq=SEQ] action={permit|deny} prefix=PREFIX "
                           "[ge ge=LEN] [le le=LEN]", field="entries", check=_prefix_list_line)),
    ObjectKind("vpc", model.Vpc, "A VPC or VNet attached to a hub", (
        Line("description description=LINE"),
        Line("cxp cxp=CXP", "Hub this VPC attaches to (default core)"),
        Line("segment segment=SEGMENT", "Segment of this VPC (required)"),
        Line("group group=GROUP", "Group of the whole VPC"),
        Line("cidr cidrs=PREFIX", "An address range of this VPC (one or more)", check=_cidr_line),
        Line("subnet name=NAME prefix=PREFIX [group group=GROUP]", {"group": "Group of this subnet"},
             field="subnets", check=_subnet_line),
        Line("host name=NAME address=ADDRESS [subnet subnet=SUBNET]",
             {"subnet": "Subnet (default: the one holding the address)"}, field="hosts",
             check=_host_name_free),
        Line("service name=NAME kind={dns|http|tcp-echo|udp-echo} on host=VPC-HOST [port port=PORT]",
             field="services"),
        Line("micro-segmentation", field="micro_segmentation"),
        Line("endpoint name=NAME service service=ENDPOINT-SERVICE address address=ADDRESS",
             {"endpoint": "An interface endpoint of a provider service in this VPC",
              "service": "The endpoint service it reaches", "address": "Its address, in a subnet of this VPC"},
             field="endpoints"),
    )),
    ObjectKind("endpoint-service", model.EndpointService, "A provider service reached through interface endpoints", (
        Line("cxp cxp=CXP", "Hub of the provider (default core)"),
        Line("kind kind={http|tcp-echo}", "What the provider serves (default http)"),
        Line("port port=PORT", "Port it serves on (default: the kind's, http 80, tcp-echo 7)"),
    )),
    ObjectKind("resource-share", model.ResourceShare, "Open chosen prefixes between two segments", (
        Line("description description=LINE"),
        Line("end-a segment segment=SEGMENT prefix-list prefix_list=PREFIX-LIST", END_HELP, field="end_a"),
        Line("end-b segment segment=SEGMENT prefix-list prefix_list=PREFIX-LIST", END_HELP, field="end_b"),
        Line("direction direction={bidirectional|a-to-b|b-to-a}"),
        Line("nat end={end-a|end-b} original=PREFIX to translated=PREFIX", field="nat", check=_nat_line),
        Line("inspect firewall firewall=FIREWALL", {"inspect": "Send the share's connections through a firewall",
                                                    "firewall": "The firewall whose instances the share runs through"}),
    )),
    ObjectKind("firewall", model.Firewall, "A zone-based firewall, inserted by policy, share or internet edge", (
        Line("cxp cxp=CXP", "Hub of the firewall's instances (default core)"),
        Line("instances instances=INSTANCES", "How many instances share the load (1-8); each flow stays on one"),
        Line("zone name=NAME {segment segment=SEGMENT [group group=GROUP]|internet internet=INTERNET}",
             {"zone": "A zone: a segment, a group of one, or an internet edge (repeat for more members)",
              "name": "Zone name", "segment": "Members: this segment's traffic", "group": "Only this group of the segment",
              "internet": "Members: the traffic of this internet edge"}, field="zones", check=_zone_line),
        Line(f"rule seq=SEQ action={{permit|deny}} protocol={{ip|tcp|udp|icmp}} from src_zone={{any|ZONE}} "
             f"to dst_zone={{any|ZONE}} [ports={PORTS}] [log=log]",
             {"from": "Source zone", "to": "Destination zone", "any": "Any zone (and addresses in none)",
              "ip": "Any IP protocol", "log": "Write matching connections to 'show log'"},
             field="rules", check=_rule_line),
        Line("default-action default_action={permit|deny}", "For connections no rule matches (default deny)"),
    )),
    ObjectKind("internet", model.Internet, "A simulated internet edge on a hub", (
        Line("cxp cxp=CXP", "Hub of the edge (default core)"),
        Line("segment segments=SEGMENT", "A segment that may reach the internet (repeat for more)"),
        Line("snat-address snat_address=ADDRESS", "Public source address of egress connections", check=_public_line),
        Line("inspect firewall firewall=FIREWALL", {"inspect": "Send egress and ingress through a firewall",
                                                    "firewall": "The firewall (on the edge's hub)"}),
        Line("public-host name=NAME address=ADDRESS", {"public-host": "A host on the simulated internet (ping, HTTP on 80)"},
             field="public_hosts", check=_public_host_line),
        Line("load-balancer name=NAME vip vip=ADDRESS port port=PORT backend backends=HOST [backend backends=HOST]*",
             {"load-balancer": "A public VIP:port spread over lab hosts", "vip": "Public address of the load balancer",
              "backend": "A host of a segment this edge serves"},
             field="load_balancers", check=_load_balancer_line),
    )),
)

KIND_BY_NAME: dict[str, ObjectKind] = {k.kind: k for k in OBJECT_KINDS}


def printing_order() -> list[ObjectKind]:
    """Declared kinds in the model's running-config order."""
    return [KIND_BY_NAME[k] for k in model.KINDS if k in KIND_BY_NAME]
