"""Checks of internet edges: hub, segments, public addresses (documentation
ranges only), public hosts, load balancers and inspection."""

from __future__ import annotations

from collections.abc import Iterable

from engine.errors import Diagnostic
from engine.marks import BLOCKS
from engine.model import Config, Internet, LoadBalancer
from engine.validate.lines import public_address_problem


def check(config: Config, previous: Config) -> Iterable[Diagnostic]:
    """Each edge on its own; a segment reaches the internet by one edge;
    public host names are unique with the lab's hosts."""
    served: dict[str, str] = {}
    hosts = {h.name: v.name for v, h in config.hosts()}
    publics: dict[str, str] = {}
    for edge in config.internets:
        here = f"internet {edge.name}"
        yield from _edge(config, edge)
        for seg in edge.segments:
            if seg in served:
                yield Diagnostic(here, f"segment {seg} already reaches the internet by internet {served[seg]}: a segment has one edge")
            served.setdefault(seg, edge.name)
        for host in edge.public_hosts:
            if host.name in hosts:
                yield Diagnostic(here, f"public-host {host.name} has the name of a host of vpc {hosts[host.name]}: host names are unique in a lab")
            elif host.name in publics and publics[host.name] != edge.name:
                yield Diagnostic(here, f"public-host {host.name} is already a public host of internet {publics[host.name]}")
            publics.setdefault(host.name, edge.name)
    yield from _shared_addresses(config, {e.name for e in previous.internets})


def _roles(edge: Internet) -> list[tuple[str, str]]:
    """(address, object) of each public address an edge holds, in line order."""
    out = [(edge.snat_address, "snat-address")] if edge.snat_address else []
    out += [(h.address, f"public-host {h.name}") for h in edge.public_hosts]
    return out + [(lb.vip, f"load-balancer {lb.name} vip") for lb in edge.load_balancers]


def _shared_addresses(config: Config, before: set[str]) -> Iterable[Diagnostic]:
    """A public address serves one role at one edge: another edge's address
    would make a bare address in trace or assert ambiguous and give two
    routers one address; an edge's snat-address as a VIP would give one
    address to egress and to a load balancer at once. (Within an edge, a
    public host's address is refused as snat-address or VIP by _edge, and
    one VIP may serve several ports.) Edges already running come first: the
    new one is named as the one in conflict."""
    owners: dict[str, tuple[str, str]] = {}  # address -> (edge, object)
    for edge in sorted(config.internets, key=lambda e: (e.name not in before, e.name)):
        for address, what in _roles(edge):
            first = owners.get(address)
            if first is None:
                owners[address] = (edge.name, what)
            elif first[0] != edge.name:
                yield Diagnostic(f"internet {edge.name} {what}", f"address {address} is already {first[1]} of internet {first[0]}: "
                                 "a public address belongs to one edge")
            elif first[1] == "snat-address" and what.startswith("load-balancer"):
                yield Diagnostic(f"internet {edge.name} {what}", f"address {address} is the edge's snat-address: "
                                 "egress and a load balancer cannot share an address; choose another vip")


def _edge(config: Config, edge: Internet) -> Iterable[Diagnostic]:
    here = f"internet {edge.name}"
    if config.get("cxp", edge.cxp) is None:
        yield Diagnostic(here, f"cxp {edge.cxp} does not exist: define 'cxp {edge.cxp}' first")
    for seg in edge.segments:
        if config.get("segment", seg) is None:
            yield Diagnostic(here, f"segment {seg} does not exist")
    if len(edge.segments) > BLOCKS:
        yield Diagnostic(here, f"serves {len(edge.segments)} segments: an edge serves at most {BLOCKS}")
    if edge.snat_address is None and edge.segments:
        yield Diagnostic(here, "no snat-address: egress needs 'snat-address A.B.C.D' (a documentation-range address)")
    elif edge.snat_address is not None and (problem := public_address_problem(edge.snat_address)):
        yield Diagnostic(here, f"snat-address {problem}")
    if edge.firewall:
        fw = config.get("firewall", edge.firewall)
        if fw is None:
            yield Diagnostic(here, f"inspect firewall {edge.firewall}: firewall {edge.firewall} does not exist")
        elif fw.cxp != edge.cxp:
            yield Diagnostic(here, f"inspect firewall {edge.firewall}: the firewall is on cxp {fw.cxp}, the edge on cxp {edge.cxp}; "
                                   "put them on one hub")  # fmt: skip
    addresses: dict[str, str] = {}
    for host in edge.public_hosts:
        problem = public_address_problem(host.address)
        if problem:
            yield Diagnostic(here, f"public-host {host.name}: {problem}")
        elif host.address in addresses:
            yield Diagnostic(here, f"public-host {host.name}: address {host.address} is already public-host {addresses[host.address]}")
        addresses.setdefault(host.address, host.name)
        if host.address == edge.snat_address:
            yield Diagnostic(here, f"snat-address {edge.snat_address} is the address of public-host {host.name}")
    listeners: dict[tuple[str, int], str] = {}
    for lb in edge.load_balancers:
        yield from _load_balancer(config, edge, lb, addresses)
        if (lb.vip, lb.port) in listeners:
            yield Diagnostic(f"{here} load-balancer {lb.name}", f"vip {lb.vip} port {lb.port} is already load-balancer {listeners[(lb.vip, lb.port)]}")
        listeners.setdefault((lb.vip, lb.port), lb.name)


def _load_balancer(config: Config, edge: Internet, lb: LoadBalancer, publics: dict[str, str]) -> Iterable[Diagnostic]:
    here = f"internet {edge.name} load-balancer {lb.name}"
    problem = public_address_problem(lb.vip)
    if problem:
        yield Diagnostic(here, f"vip {problem}")
    elif lb.vip in publics:
        yield Diagnostic(here, f"vip {lb.vip} is the address of public-host {publics[lb.vip]}")
    if not 1 <= lb.port <= 65535:
        yield Diagnostic(here, f"port {lb.port} is out of range (1-65535)")
    if not lb.backends:
        yield Diagnostic(here, "no backend: add 'backend HOST'")
    hosts = {h.name: (v, h) for v, h in config.hosts()}
    seen: dict[str, tuple[str, str]] = {}  # address -> (host, segment)
    for name in lb.backends:
        found = hosts.get(name)
        if found is None:
            yield Diagnostic(here, f"backend {name} is not a host of the lab")
            continue
        vpc, host = found
        if vpc.segment not in edge.segments:
            yield Diagnostic(here, f"backend {name} is in segment {vpc.segment}, which internet {edge.name} does not serve "
                                   f"(add 'segment {vpc.segment}' to it)")  # fmt: skip
            continue
        other = seen.get(host.address)
        if other is not None and other[0] != name:
            yield Diagnostic(here, f"backends {other[0]} (segment {other[1]}) and {name} (segment {vpc.segment}) have the same "
                                   f"address {host.address}: the edge could not tell them apart")  # fmt: skip
        seen.setdefault(host.address, (name, vpc.segment or ""))
