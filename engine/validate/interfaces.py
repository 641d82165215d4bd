"""Checks that every link gets a name and an interface index of its own.

Interface names must fit 15 characters, so a long object name becomes a
hash (`v-1a2b3c4d`, engine/compile/naming.py), and every link is created
with a fixed index derived from its name (engine/items.py `ifindex_of`).
Two names can hash alike (VPCs `longvpcname29685295` and
`longvpcname32060020` share a crc32; ports `v.s0031554` and `v.s0114158`
an index): in one namespace the kernel would refuse the second link, half
way through a commit. They are refused here instead, naming both objects,
on the one the user just added.

Which links each namespace holds is listed from the configuration with
the compiler's own naming functions; a test compares the list with the
links of compiled plans, so a stage that adds links must add them here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from engine.compile import naming
from engine.compile.endpoint_layout import Placed, layout
from engine.compile.shares import share_if
from engine.compile.topology import share_hub, vpc_hubs
from engine.errors import Diagnostic
from engine.items import ifindex_of
from engine.model import Config
from engine.validate.names import valid_name

Space = tuple[str, ...]  # ("segment", SEGMENT, CXP) | ("vpc", VPC) | ("host", HOST) | ("provider", SERVICE)
Link = tuple[Space, str, str]  # (namespace, interface name, owner: a config path, "" for fixed names)


def links(config: Config) -> Iterator[Link]:
    """Every link end the compiled plan holds, by namespace, with the
    object it belongs to ("" for the fixed names every namespace has).
    Objects with an invalid name are left out: they are refused anyway, and
    a name that is not ASCII cannot be hashed."""
    hubs = vpc_hubs(config)
    routers = {(seg, cxp) for seg, cxps in hubs.items() for cxp in cxps if valid_name(seg) and valid_name(cxp)}
    for share in config.shares:
        if share.end_a and share.end_b and share.end_a.segment != share.end_b.segment and valid_name(share.name):
            hub = share_hub(hubs, share.end_a.segment, share.end_b.segment)
            for end in (share.end_a, share.end_b):
                if valid_name(end.segment) and valid_name(hub):
                    routers.add((end.segment, hub))
                    yield ("segment", end.segment, hub), share_if(share.name), f"resource-share {share.name}"
    for seg, cxp in sorted(routers):
        yield ("segment", seg, cxp), "lo", ""
        for other in sorted(c for s, c in routers if s == seg and c != cxp):
            yield ("segment", seg, cxp), naming.backbone_if(other), f"cxp {other}"
    for vpc in config.vpcs:
        if vpc.segment is None or (vpc.segment, vpc.cxp) not in routers or not valid_name(vpc.name):
            continue
        where = f"vpc {vpc.name}"
        inside = ("vpc", vpc.name)
        yield ("segment", vpc.segment, vpc.cxp), naming.vpc_port_if(vpc.name), where
        yield inside, "lo", ""
        yield inside, naming.VPC_UPLINK, ""
        for sn in (sn for sn in vpc.subnets if valid_name(sn.name)):
            yield inside, naming.bridge_if(sn.name), f"{where} subnet {sn.name}"
        for host in (h for h in vpc.hosts if valid_name(h.name)):
            yield inside, naming.host_port_if(host.name), f"{where} host {host.name}"
            yield ("host", host.name), "lo", ""
            yield ("host", host.name), naming.HOST_IF, ""
    for svc in (s for s in config.endpoint_services if valid_name(s.name)):
        yield ("provider", svc.name), "lo", ""
    for ep in _placed(config):
        if (ep.vpc.segment, ep.vpc.cxp) in routers and valid_name(ep.vpc.name) and valid_name(ep.service.name):
            owner = f"vpc {ep.vpc.name} endpoint {ep.endpoint.name}"
            yield ("vpc", ep.vpc.name), naming.private_link_if(ep.service.name), owner
            yield ("provider", ep.service.name), naming.endpoint_if(ep.vpc.name), owner


def _placed(config: Config) -> tuple[Placed, ...]:
    """The endpoints the compiler places; none while a name that the
    placement hashes is not text (names.check refuses it already)."""
    try:
        return layout(config).endpoints
    except UnicodeEncodeError:
        return ()


def space_text(space: Space) -> str:
    """A namespace as messages name it."""
    if space[0] == "segment":
        return f"the router of segment {space[1]} on hub {space[2]}"
    if space[0] == "provider":
        return f"the provider of endpoint-service {space[1]}"
    return f"the router of vpc {space[1]}" if space[0] == "vpc" else f"host {space[1]}"


def check(config: Config, previous: Config) -> Iterable[Diagnostic]:
    """Two links of one namespace with one name or one index, reported on
    the object that is new (not in `previous`), else the later one."""
    old = {owner for _ns, _name, owner in links(previous)} if previous.vpcs or previous.shares else set()
    names: dict[tuple[Space, str], str] = {}
    indexes: dict[tuple[Space, int], tuple[str, str]] = {}
    for space, name, owner in links(config):
        first = names.setdefault((space, name), owner)
        if first != owner:
            yield _clash(old, first, owner, f"in {space_text(space)} would both be named {name}")
            continue
        index = ifindex_of(name)
        other, other_owner = indexes.setdefault((space, index), (name, owner))
        if other != name:
            yield _clash(old, other_owner, owner,
                         f"in {space_text(space)} ({other} and {name}) would get the same interface index {index}")


def _clash(old: set[str], first: str, second: str, what: str) -> Diagnostic:
    """Blame the new one of two owners (a fixed name is never to blame)."""
    blamed, kept = (first, second) if (first and first not in old and second in old) or not second else (second, first)
    other = kept or "a link every such namespace has"
    return Diagnostic(blamed, f"its link and that of {other} {what}: their names hash alike; rename one of them")
