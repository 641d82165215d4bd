"""Assemble each namespace's nftables table from what the stages contribute.

Stages (shares, policy) add fragments to a `Rulesets` collector; `render`
turns one namespace's fragments into the script of one `table inet
vpclab`, loaded atomically (lab/nft.py). The forward chain's shape is
fixed so that the cost of policy stays flat (LINUX-NOTES):

1. connections a commit refused (REFUSED in their ct mark) are dropped;
   `ct state established,related accept`: replies and admitted flows never
   see the policy again, whatever its size;
2. share direction filters (`ct state new` from the end that may not open);
   in a VPC router with endpoints, its private links first: only the
   endpoints' translations go to a provider, nothing new comes from one;
3. no transit from one share to another (shares are not transitive);
4. traffic from the backbone was judged on its first hub: accepted;
5. the segment policy: a few verdict-map lookups, then the default action.

Every counted rule and map element carries its origin as comment
(engine/origin.py: `segment corp 10`), so that counters map back to
configuration (engine/hits.py sums them).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace

from engine.compile.cache import CompileCache
from engine.items import ORIGIN_MARK, REFUSED_MARK, NftItem
from engine.origin import Origin
from engine.plan import PlanBuilder

# stage order inside the forward chain (after `ct state established,related accept`)
ENDPOINTS, SHARE_FILTERS, TRANSIT, BACKBONE, POLICY = 5, 10, 20, 30, 40


@dataclass
class NsRules:
    """Fragments of one namespace's table."""

    decls: list[str] = field(default_factory=list)  # maps and helper chains
    forward: list[tuple[int, str]] = field(default_factory=list)  # (stage order, rule)
    prerouting: list[str] = field(default_factory=list)
    postrouting: list[str] = field(default_factory=list)
    sources: set[Origin] = field(default_factory=set)
    track: bool = False  # a forward chain even without rules: conntrack sees every flow
    elements: dict[str, list[str]] = field(default_factory=dict)  # named set -> elements (SETS)
    raw: list[str] = field(default_factory=list)  # before conntrack: zones (firewalls, internet edges)
    steer: list[tuple[int, str]] = field(default_factory=list)  # (order, rule): pinning routing targets (compile/steering.py)


class Rulesets:
    """Fragments per namespace, filled by the compiler's stages."""

    def __init__(self) -> None:
        self.by_ns: dict[str, NsRules] = {}

    def ns(self, name: str, source: Origin) -> NsRules:
        """The fragments of namespace `name`, noting who contributed."""
        rules = self.by_ns.setdefault(name, NsRules())
        rules.sources.add(source)
        return rules

    def emit(self, out: PlanBuilder, cache: CompileCache) -> None:
        """One NftItem per namespace that has any rule. Each is memoised on
        its fragments: an unchanged table is the same object at the next
        commit (no render, no digest, and the diff settles it by identity);
        only the latest table per namespace is kept."""
        same: dict[Fragments, NftItem] = {}  # a firewall's instances have one table: rendered once
        for name, r in sorted(self.by_ns.items()):
            elements = tuple((k, tuple(v)) for k, v in sorted(r.elements.items()))
            fragments: Fragments = (tuple(r.decls), tuple(sorted(r.forward, key=lambda f: f[0])), tuple(r.prerouting),
                                    tuple(r.postrouting), tuple(sorted(r.sources)), r.track, elements, tuple(r.raw),
                                    tuple(sorted(r.steer, key=lambda f: f[0])))
            out.add(cache.tables.get(name, fragments, lambda: _like(name, fragments, same)))


Fragments = tuple[tuple[str, ...], tuple[tuple[int, str], ...], tuple[str, ...], tuple[str, ...], tuple[Origin, ...], bool,
                  tuple[tuple[str, tuple[str, ...]], ...], tuple[str, ...], tuple[tuple[int, str], ...]]


def _like(name: str, fragments: Fragments, same: dict[Fragments, NftItem]) -> NftItem:
    """The table of `name`, taking the text of an equal table rendered for
    another namespace in this emit."""
    twin = same.get(fragments)
    if twin is not None:
        return replace(twin, ns=name)
    item = same[fragments] = _item(name, *fragments)
    return item


def _item(name: str, decls: tuple[str, ...], forward: tuple[tuple[int, str], ...], pre: tuple[str, ...],
          post: tuple[str, ...], sources: tuple[Origin, ...], track: bool,
          elements: tuple[tuple[str, tuple[str, ...]], ...], raw: tuple[str, ...], steer: tuple[tuple[int, str], ...]) -> NftItem:
    """The table of one namespace, rendered from its fragments."""
    rules = NsRules(list(decls), list(forward), list(pre), list(post), set(sources), track, {k: list(v) for k, v in elements},
                    list(raw), list(steer))
    text = render(rules)
    return NftItem(name, text, sources, counted(text))


# Named sets the stages fill element by element, and the rules that use them:
# a router with two hundred shares has four set lookups, not six hundred rules.
SETS = {
    "share_links": "set share_links { typeof iifname; elements = { %s } }",
    "share_out": "set share_out { typeof oifname . ip saddr; flags interval; elements = { %s } }",
    "share_in": "set share_in { typeof iifname . ip saddr; flags interval; elements = { %s } }",
    "share_dir": "map share_dir { typeof iifname : verdict; counter; elements = { %s } }",
}
_SOURCE, _TRANSIT = (f'"{Origin("shares", entry=e)}"' for e in ("source", "transit"))
SET_RULES = (  # (the set that must have elements, stage order, rule)
    ("share_dir", SHARE_FILTERS, "ct state new iifname vmap @share_dir"),
    ("share_links", SHARE_FILTERS, f"oifname @share_links oifname . ip saddr != @share_out counter drop comment {_SOURCE}"),
    ("share_links", SHARE_FILTERS, f"iifname @share_links iifname . ip saddr != @share_in counter drop comment {_SOURCE}"),
    ("share_links", TRANSIT, f"iifname @share_links oifname @share_links counter drop comment {_TRANSIT}"),
)


def _set_parts(rules: NsRules) -> tuple[list[str], list[tuple[int, str]]]:
    """Declarations and rules of the named sets in use (an empty set is
    declared without elements: it matches nothing)."""
    decls, forward = [], []
    if rules.elements.get("share_links"):
        for name in ("share_links", "share_out", "share_in"):
            items = rules.elements.get(name, [])
            decl = SETS[name] % ", ".join(items)
            decls.append(decl if items else decl.replace(" elements = {  } }", " }"))
    if rules.elements.get("share_dir"):
        decls.append(SETS["share_dir"] % ", ".join(rules.elements["share_dir"]))
    for needed, order, rule in SET_RULES:
        if rules.elements.get(needed):
            forward.append((order, rule))
    return decls, forward


def render(rules: NsRules) -> str:
    """The script of one table."""
    set_decls, set_rules = _set_parts(rules)
    forward = sorted([*rules.forward, *set_rules], key=lambda r: r[0])
    lines = ["table inet vpclab {"]
    lines += [f"  {d}" for d in [*set_decls, *rules.decls]]
    if forward or rules.track:
        lines.append("  chain forward {")
        lines.append("    type filter hook forward priority filter; policy accept;")
        # connections a later commit refuses (its policy or a firewall's rules) carry this
        # mark on every router they cross (engine/ending.py): dropped in both directions,
        # before the established accept would let them through
        lines.append(f"    ct mark & {REFUSED_MARK:#x} == {REFUSED_MARK:#x} drop")
        lines.append("    ct state established,related accept")
        if rules.track:  # a segment router: where connections from its VPCs enter the fabric
            lines.append(f'    ct state new iifname "v*" ct mark set ct mark or {ORIGIN_MARK:#x}')
        lines += [f"    {rule}" for _, rule in forward]
        lines.append("  }")
    lines += _chain("zones", "type filter hook prerouting priority raw", rules.raw)
    # after dstnat, so that steering sees a load balancer's backend; before routing
    lines += _chain("steer", "type filter hook prerouting priority dstnat + 10", [r for _, r in sorted(rules.steer, key=lambda f: f[0])])
    if rules.prerouting:
        lines.append("  chain prerouting {")
        lines.append("    type nat hook prerouting priority dstnat; policy accept;")
        lines += [f"    {rule}" for rule in rules.prerouting]
        lines.append("  }")
    if rules.postrouting:
        lines.append("  chain postrouting {")
        lines.append("    type nat hook postrouting priority srcnat; policy accept;")
        lines += [f"    {rule}" for rule in rules.postrouting]
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _chain(name: str, hook: str, rules: list[str]) -> list[str]:
    """A base chain's lines (none when it has no rules)."""
    if not rules:
        return []
    return [f"  chain {name} {{", f"    {hook}; policy accept;", *(f"    {rule}" for rule in rules), "  }"]


COUNTED = re.compile(r'[^,{};\n]*\bcounter(?: drop| accept)? comment "([^"]+)"[^,{};\n]*')


def counted(text: str) -> tuple[tuple[str, str], ...]:
    """Each counter comment with a digest of the rules and elements under it."""
    parts: dict[str, list[str]] = {}
    for m in COUNTED.finditer(text):
        parts.setdefault(m.group(1), []).append(m.group(0).strip())
    return tuple(sorted((c, hashlib.sha1("\n".join(sorted(p)).encode()).hexdigest()[:16]) for c, p in parts.items()))


def quote(text: str) -> str:
    """A comment or log prefix as an nft string (no quotes or backslashes inside)."""
    return '"' + text.replace('"', "'").replace("\\", "/")[:120] + '"'


