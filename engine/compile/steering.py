"""Compiler stage helper: pinning routing targets in connection marks.

The firewall and internet stages decide *which* new connections a router
steers (engine/compile/firewall.py, internet.py); this module is *how*,
the same everywhere (engine/marks.py has the mark layout):

- a new connection is pinned to a target in a mode by a tiny chain
  `pin_T_M`: a connection without a target takes T; one that has T already
  gains the mode (a connection that hairpins through a router on another
  hub is pinned there twice, once per direction); one pinned elsewhere is
  left alone, so the first decision stands;
- an instance is chosen by `jhash` over the connection's first packet with
  a fixed seed (engine/jhash.py predicts it): tcp and udp with their ports,
  other protocols by addresses alone (an ICMP header has no ports, and its
  checksum would make the choice unpredictable);
- every packet then gets its connection's target as packet mark when the
  mode covers its direction, except on the leg the target leaves by (a
  packet coming back from a firewall instance or from the firewall's hub
  is routed normally); a mark whose target is gone (an instance removed)
  is dropped: its connection's state went with the instance;
- per target, an `ip rule fwmark T/0xff00 lookup 1000+T` and a table whose
  one route leaves by the target's leg;
- steering fails closed: a packet whose mark names a target leaves by that
  target's leg or not at all (`steer_guard`, before every other forward
  rule, established connections included). Without it, a leg deleted
  behind vpclab's back takes its table's route with it, the lookup falls
  through to the main table and the connection goes round the firewall.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

from engine.compile.nft import Rulesets, quote
from engine.inspection import Layout
from engine.items import RouteItem, RuleItem
from engine.marks import JHASH_SEED, MODE_MASK, ORIGINAL, REPLY, TARGET_MASK, mark_of, pin_value, table_of
from engine.origin import Origin
from engine.plan import PlanBuilder

# order of steer-chain parts: a connection's own classification pins first,
# reply-to after it (a pin never overwrites another target, so a reply-to pin
# made first would keep a connection that arrives from another hub's
# backbone out of this router's firewall or share wire)
CLASSIFY, REPLY_TO, RESTORE = 10, 20, 90
MODE_NAMES = {ORIGINAL: "o", REPLY: "r", ORIGINAL | REPLY: "b"}
PORTED = "meta l4proto { tcp, udp }"
HASH_PORTS = "jhash ip saddr . ip daddr . meta l4proto . th sport . th dport"
HASH_ADDRESSES = "jhash ip saddr . ip daddr . meta l4proto"
KEEP = 0xFFFFFFFF & ~(TARGET_MASK | MODE_MASK)


@dataclass(frozen=True)
class Target:
    """Where a target leaves a namespace."""

    number: int
    ifname: str
    gateway: str
    origin: Origin | None = None


@dataclass
class _Space:
    targets: dict[int, Target] = field(default_factory=dict)
    chains: dict[str, str] = field(default_factory=dict)  # name -> declaration


def chain_name(prefix: str, name: str) -> str:
    """A chain name for a configured object (nft names take letters, digits, `_`)."""
    if re.fullmatch(r"[A-Za-z0-9_]{1,24}", name):
        return f"{prefix}_{name}"
    return f"{prefix}_{zlib.crc32(name.encode()):08x}"


class Steering:
    """Targets and pinning chains of one compile, per namespace."""

    def __init__(self, layout: Layout):
        self.layout = layout
        self.spaces: dict[str, _Space] = {}

    def target(self, ns: str, key: str, number: int, ifname: str, gateway: str, origin: Origin | None = None) -> int:
        """Register target `number` of link `key` in `ns` (leaving by `ifname`
        towards `gateway`); its index."""
        t = self.layout.target(ns, key, number)
        self.spaces.setdefault(ns, _Space()).targets[t] = Target(t, ifname, gateway, origin)
        return t

    def pin(self, ns: str, target: int, mode: int) -> str:
        """The chain that pins `target` in `mode` (declared in `ns`)."""
        name = f"pin_{target}_{MODE_NAMES[mode]}"
        value, mark = pin_value(target, mode), mark_of(target)
        self.spaces.setdefault(ns, _Space()).chains[name] = (
            f"chain {name} {{ ct mark & {TARGET_MASK:#x} == 0x0 ct mark set ct mark and {KEEP:#x} or {value:#x}; "
            f"ct mark & {TARGET_MASK:#x} == {mark:#x} ct mark set ct mark or {mode:#x}; }}"
        )
        return name

    def pick(self, ns: str, name: str, targets: list[int], mode: int) -> str:
        """A chain that pins one of `targets` (one per instance, in order) by
        jhash of the connection's first packet; its name."""
        space = self.spaces.setdefault(ns, _Space())
        pins = [self.pin(ns, t, mode) for t in targets]
        if len(pins) == 1:
            body = f"jump {pins[0]}"
        else:
            choices = ", ".join(f"{i} : goto {p}" for i, p in enumerate(pins))
            n = len(pins)
            body = (f"{PORTED} {HASH_PORTS} mod {n} seed {JHASH_SEED:#x} vmap {{ {choices} }}; "
                    f"{HASH_ADDRESSES} mod {n} seed {JHASH_SEED:#x} vmap {{ {choices} }}")
        space.chains[name] = f"chain {name} {{ {body}; }}"
        return name

    def finish(self, rules: Rulesets, out: PlanBuilder, source: Origin) -> None:
        """Each namespace's targets as rules and tables, and its chains and
        restore rules into its table."""
        for ns, space in sorted(self.spaces.items()):
            r = rules.ns(ns, source)
            r.decls += [space.chains[c] for c in sorted(space.chains)]
            if not space.targets:
                continue
            for t in space.targets.values():
                out.add(RuleItem(ns, table_of(t.number), table_of(t.number), mark_of(t.number), TARGET_MASK, origin=t.origin))
                out.add(RouteItem(ns, "0.0.0.0/0", t.gateway, t.ifname, onlink=True, table=table_of(t.number)))
            came = ", ".join(f"{quote(t.ifname)} . {mark_of(t.number):#x}" for t in sorted(space.targets.values(), key=lambda t: t.number))
            known = ", ".join(f"{mark_of(t):#x}" for t in sorted(space.targets))
            r.decls.append(f"set came_by_target {{ typeof iifname . meta mark; elements = {{ {came} }}; }}")
            r.decls += guard(space)
            r.steer += [
                (RESTORE, f"ct direction original ct mark & {ORIGINAL:#x} == {ORIGINAL:#x} meta mark set ct mark & {TARGET_MASK:#x}"),
                (RESTORE, f"ct direction reply ct mark & {REPLY:#x} == {REPLY:#x} meta mark set ct mark & {TARGET_MASK:#x}"),
                (RESTORE, "iifname . meta mark @came_by_target meta mark set 0x0"),
                (RESTORE, f"meta mark != 0x0 meta mark != {{ {known} }} drop"),
            ]


def guard(space: _Space) -> list[str]:
    """The set of (leg, target mark) pairs a marked packet may leave by, and
    the forward base chain that drops any other marked packet. Its priority
    is before the table's own forward chain, whose `ct state established`
    accept would otherwise let an open connection's packets by."""
    legs = ", ".join(f"{quote(t.ifname)} . {mark_of(t.number):#x}" for t in sorted(space.targets.values(), key=lambda t: t.number))
    return [
        f"set leaves_by_target {{ typeof oifname . meta mark; elements = {{ {legs} }}; }}",
        "chain steer_guard { type filter hook forward priority filter - 10; policy accept; "
        f"meta mark & {TARGET_MASK:#x} != 0x0 oifname . meta mark & {TARGET_MASK:#x} != @leaves_by_target counter drop; }}",
    ]
