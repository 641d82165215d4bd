"""Compiler stage: firewall instances, their legs, and steering into them.

Each instance of a firewall is a namespace (`LAB-f-FW@N`) with a fabric
address on lo. Its legs (engine/inspection.py): a *hairpin* leg to the
router of each segment whose policy inspects with the firewall, on the
firewall's hub, and two legs per *wire* (an inspected share or internet
link) to the wire's two routers. Inside, a conntrack zone per hairpin or
wire keeps tenants apart, routing goes by the input leg (a hairpin leg
sends back out itself, a wire's leg to its partner), and the zone rules
are verdict maps over (protocol, source zone, destination zone, port),
first match wins, with a counter on every rule and on the default.

Steering (engine/compile/steering.py does the pinning):
- east-west: the segment's router on the firewall's hub classifies new
  connections between the segment's own prefixes by the first match of
  its policy (the policy's runs, so the same entry that counts in the
  forward chain decides here) and pins `inspect FW` ones to an instance,
  both ways; the segment's routers on other hubs pin them to the backbone
  link towards that hub (original direction) and answer what arrives from
  there back over it (reply-to);
- a share's wire: each end pins a new connection entering the wire to an
  instance (original direction) and answers a connection arriving from an
  instance back through it (reply-to).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from engine.addressing import parse_prefix
from engine.compile.cache import CompileCache
from engine.compile.nft import BACKBONE, POLICY, Rulesets, quote
from engine.compile.policy import MATCH, _runs, logged, resolve_terms, run_maps
from engine.compile.steering import CLASSIFY, REPLY_TO, Steering, chain_name
from engine.compile.topology import ROUTER_SYSCTLS
from engine.fwzones import MATCH as ZONE_MATCH
from engine.fwzones import Facing, facings, members, rule_runs, zone_value
from engine.inspection import Hairpin, Instance, Layout, Side, Wire, stable_ids
from engine.items import AddressItem, Item, Key, LinkConfItem, NetnsItem, RouteItem, RuleItem, VethItem
from engine.marks import BOTH, ORIGINAL, REPLY
from engine.model import Config, Firewall, FirewallRule, Segment
from engine.origin import DEFAULT, Origin
from engine.plan import PlanBuilder
from engine.shares import offers, other

FIREWALL_SYSCTLS = ROUTER_SYSCTLS + (
    # an instance forwards a hairpinned packet out the leg it came in on: no redirects
    ("net.ipv4.conf.all.send_redirects", "0"),
    ("net.ipv4.conf.default.send_redirects", "0"),
)
LEG_TABLES = 2000  # routing by input leg inside an instance: tables (and rule priorities) 2000+
FABRIC = Origin("fabric")


def build_firewalls(config: Config, layout: Layout, steer: Steering, out: PlanBuilder, rules: Rulesets, cache: CompileCache) -> None:
    """Instances with their legs and tables, and the steering of hairpins and share wires."""
    for name, instances in layout.instances.items():
        fw = config.require("firewall", name)
        legs = facings(config, layout, name)
        parts = cache.policies.get(("firewall", fw, tuple((f.ifname, tuple(members(config, fw, f))) for f in legs),
                                    _conntrack_zones(layout, name)), lambda: instance_parts(config, layout, fw, legs))
        routing = _leg_routing(layout, name)
        for inst in instances:
            out.merge(_instance_items(inst, layout, routing))
            r = rules.ns(inst.ns, Origin("firewall", name))
            r.decls += parts[0]
            r.raw += parts[1]
            r.forward += parts[2]
    _hairpin_steering(config, layout, steer, rules, cache)
    _share_steering(config, layout, steer, rules)


def share_legs(layout: Layout) -> dict[str, tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]]:
    """Each inspected share's legs at end-a and end-b: (interface, the instance's address)."""
    out = {}
    for w in layout.wires:
        if w.kind == "share":
            insts = layout.instances[w.firewall]
            out[w.name] = tuple(tuple((side.ifnames[i.number - 1], i.address) for i in insts) for side in (w.a, w.b))
    return out  # type: ignore[return-value]


# --- instances ---------------------------------------------------------------------


def _conntrack_zones(layout: Layout, firewall: str) -> tuple[tuple[str, int], ...]:
    """Leg -> conntrack zone inside the instances: a hairpin leg's own, a wire's shared by its two legs."""
    out: list[tuple[str, int]] = []
    for link in layout.links_of(firewall):
        if isinstance(link, Hairpin):
            out.append((link.side.inst_if, link.zone))
        else:
            out += [(link.a.inst_if, link.zone), (link.b.inst_if, link.zone)]
    return tuple(sorted(out))


def _leg_routing(layout: Layout, firewall: str) -> tuple[tuple[str, str, str], ...]:
    """(input leg, gateway, output leg) inside every instance: a hairpin leg
    back to its router, a wire's leg on to the router at the wire's other end."""
    out: list[tuple[str, str, str]] = []
    for link in layout.links_of(firewall):
        if isinstance(link, Hairpin):
            out.append((link.side.inst_if, link.side.address, link.side.inst_if))
        else:
            out += [(link.a.inst_if, link.b.address, link.b.inst_if), (link.b.inst_if, link.a.address, link.a.inst_if)]
    return tuple(sorted(out))


def _instance_items(inst: Instance, layout: Layout, routing: tuple[tuple[str, str, str], ...]) -> Mapping[Key, Item]:
    """An instance's namespace, address, legs and routing by input leg."""
    out = PlanBuilder()
    lab = layout.lab
    out.add(NetnsItem(inst.ns, "firewall", f"firewall {inst.firewall} instance {inst.number}", FIREWALL_SYSCTLS))
    out.add(LinkConfItem(inst.ns, "lo"))
    out.add(AddressItem(inst.ns, "lo", f"{inst.address}/32"))
    for link in layout.links_of(inst.firewall):
        sides = [link.side] if isinstance(link, Hairpin) else [link.a, link.b]
        for side in sides:
            _leg(lab, inst, side, link, out)
    ids = stable_ids([leg for leg, _gw, _out in routing], 4000)
    for leg, gateway, egress in routing:
        table = LEG_TABLES + ids[leg]
        out.add(RuleItem(inst.ns, table, table, iif=leg, origin=Origin("firewall", inst.firewall)))
        out.add(RouteItem(inst.ns, "0.0.0.0/0", gateway, egress, onlink=True, table=table))
    return out.keyed()


def _leg(lab: str, inst: Instance, side: Side, link: Hairpin | Wire, out: PlanBuilder) -> None:
    router_if = side.ifnames[inst.number - 1]
    what = f"segment {link.segment}" if isinstance(link, Hairpin) else f"{link.kind} {link.name}"
    out.add(VethItem(side.ns, router_if, inst.ns, side.inst_if))
    out.add(LinkConfItem(side.ns, router_if, f"{lab}:firewall {inst.firewall} instance {inst.number} ({what})"))
    out.add(LinkConfItem(inst.ns, side.inst_if, f"{lab}:{what} via {side.ns.removeprefix(lab + '-')}"))


def instance_parts(config: Config, layout: Layout, fw: Firewall, legs: list[Facing]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[int, str], ...]]:
    """(declarations, raw-chain rules, forward rules) of every instance of a
    firewall: the same for all of them, since their legs have the same names."""
    zsrc, zdst = [], []
    for facing in legs:
        for net, number in members(config, fw, facing):
            zsrc.append(f"{quote(facing.ifname)} . {net} : {zone_value(number):#010x}")
    zdst = list(zsrc)
    decls = [_zone_map("zsrc", "iifname . ip saddr : ct mark", zsrc), _zone_map("zdst", "oifname . ip daddr : meta mark", zdst)]
    origin = Origin("firewall", fw.name)
    chain = run_maps(rule_runs(fw), ZONE_MATCH, "fwr", decls,
                     lambda rule: f" counter comment {quote(origin.entry_text(rule.seq))} : {_verdict(fw, rule, decls)}")
    default = "accept" if fw.default_action == "permit" else "drop"
    chain.append(f"counter {default} comment {quote(origin.entry_text(DEFAULT))}")
    decls.append("chain fw_rules { " + "; ".join(chain) + "; }")
    zones = _conntrack_zones(layout, fw.name)
    raw = (f"ct zone set iifname map {{ {', '.join(f'{quote(leg)} : {zone}' for leg, zone in zones)} }}",) if zones else ()
    forward = (
        (POLICY, "ct mark set iifname . ip saddr map @zsrc"),
        (POLICY, "meta mark set oifname . ip daddr map @zdst"),
        (POLICY, "jump fw_rules"),
    )
    return tuple(decls), raw, forward


def _zone_map(name: str, typeof: str, elements: list[str]) -> str:
    body = f"elements = {{ {', '.join(elements)} }}; " if elements else ""
    return f"map {name} {{ typeof {typeof}; flags interval; {body}}}"


def _verdict(fw: Firewall, rule: FirewallRule, decls: list[str]) -> str:
    origin = Origin.of_entry("firewall", fw.name, rule.seq)
    return logged(origin, rule.action, "accept" if rule.action == "permit" else "drop", rule.log, decls, "fwlog")


# --- steering ----------------------------------------------------------------------


def _hairpin_steering(config: Config, layout: Layout, steer: Steering, rules: Rulesets, cache: CompileCache) -> None:
    """Hairpins at the firewall's hub, detours from the segment's other hubs,
    and the classification of east-west connections in both."""
    legs: dict[str, list[str]] = {}  # router -> its hairpin legs
    segments: dict[str, str] = {}  # router -> its segment
    for h in layout.hairpins:
        insts = layout.instances[h.firewall]
        targets = [steer.target(h.side.ns, h.side.key, i.number, h.side.ifnames[i.number - 1], i.address,
                                Origin("firewall", h.firewall, f"instance {i.number}")) for i in insts]  # fmt: skip
        steer.pick(h.side.ns, chain_name("steer", h.firewall), targets, BOTH)
        legs.setdefault(h.side.ns, []).extend(h.side.ifnames)
        segments[h.side.ns] = h.segment
    for d in layout.detours:
        target = steer.target(d.ns, d.key, 1, d.ifname, d.gateway)
        steer.pick(d.ns, chain_name("steer", d.firewall), [target], ORIGINAL)
        rules.ns(d.ns, FABRIC).steer.append((REPLY_TO, f"ct state new iifname {quote(d.ifname)} jump {steer.pin(d.ns, target, REPLY)}"))
        segments[d.ns] = d.segment
    for ns, segment in segments.items():
        seg = config.require("segment", segment)
        r = rules.ns(ns, FABRIC)
        r.decls += cache.policies.get(("classify", seg, resolve_terms(config, seg)), lambda: classify_decls(config, seg))
        own = legs.get(ns)
        if own:
            names = ", ".join(quote(n) for n in own)
            r.forward.append((BACKBONE, f"iifname {{ {names} }} accept"))  # back from an instance: judged on the way there
            r.steer.append((CLASSIFY, f"ct state new iifname != {{ {names} }} ip saddr @seg_own ip daddr @seg_own jump classify"))
        else:
            r.steer.append((CLASSIFY, "ct state new ip saddr @seg_own ip daddr @seg_own jump classify"))


def classify_decls(config: Config, seg: Segment) -> tuple[str, ...]:
    """`classify`: the first match of the segment's policy, up to its last
    inspect entry, as verdict maps: `goto steer_FW` for inspect entries,
    `return` for the others; and `seg_own`, the segment's own prefixes."""
    cidrs = dict(resolve_terms(config, seg))
    runs = _runs(seg, cidrs)
    last = max((e.seq for e in seg.policies if e.action == "inspect"), default=0)
    runs = [cut for run in runs if (cut := [(e, els) for e, els in run if e.seq <= last])]
    decls: list[str] = []
    chain = run_maps(runs, MATCH, "cls", decls,
                     lambda e: f" : goto {chain_name('steer', e.firewall or '')}" if e.action == "inspect" else " : return")
    own = {n for v in config.vpcs_in(seg.name) for c in v.cidrs if (n := parse_prefix(c)) is not None}
    nets = ", ".join(str(n) for n in ipaddress.collapse_addresses(own))
    decls.append(f"set seg_own {{ typeof ip saddr; flags interval; {f'elements = {{ {nets} }}; ' if nets else ''}}}")
    decls.append("chain classify { " + "; ".join(chain or ["return"]) + "; }")
    return tuple(decls)


def _share_steering(config: Config, layout: Layout, steer: Steering, rules: Rulesets) -> None:
    """Each end of a share's wire: new connections entering the wire pinned
    to an instance, connections arriving from an instance answered through it."""
    for w in layout.wires:
        share = config.get("resource-share", w.name) if w.kind == "share" else None
        if share is None:
            continue
        for side, end in ((w.a, "end-a"), (w.b, "end-b")):
            received = ", ".join(str(n) for n in ipaddress.collapse_addresses(o.seen for o in offers(config, share, other(end))))
            wire_entry(steer, rules, layout, w, side, received and f"ip daddr {{ {received} }}")


def wire_entry(steer: Steering, rules: Rulesets, layout: Layout, wire: Wire, side: Side, match: str) -> None:
    """One router's end of a wire: its targets (one per instance), the pinning
    of new connections that `match` (entering the wire here), and reply-to
    for connections that arrive from an instance."""
    insts = layout.instances[wire.firewall]
    targets = [steer.target(side.ns, side.key, i.number, side.ifnames[i.number - 1], i.address,
                            Origin("firewall", wire.firewall, f"instance {i.number}")) for i in insts]  # fmt: skip
    r = rules.ns(side.ns, FABRIC)
    names = ", ".join(quote(n) for n in side.ifnames)
    back = ", ".join(f"{quote(n)} : jump {steer.pin(side.ns, t, REPLY)}" for n, t in zip(side.ifnames, targets, strict=True))
    r.steer.append((REPLY_TO, f"ct state new iifname vmap {{ {back} }}"))
    if match:
        pick = steer.pick(side.ns, chain_name("wire", f"{wire.kind}_{wire.name}"), targets, ORIGINAL)
        r.steer.append((CLASSIFY, f"ct state new iifname != {{ {names} }} {match} jump {pick}"))
