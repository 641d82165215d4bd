"""Assemble each namespace's nftables table from what the stages contribute.

Stages (shares, policy) add fragments to a `Rulesets` collector; `render`
turns one namespace's fragments into the script of one `table inet
vpclab`, loaded atomically (lab/nft.py). The forward chain's shape is
fixed so that the cost of policy stays flat (LINUX-NOTES):

1. `ct state established,related accept`: replies and admitted flows never
   see the policy again, whatever its size;
2. share direction filters (`ct state new` from the end that may not open);
3. no transit from one share to another (shares are not transitive);
4. traffic from the backbone was judged on its first hub: accepted;
5. the segment policy: a few verdict-map lookups, then the default action.

Every counted rule and map element carries a comment `KIND NAME ENTRY`
so that counters map back to configuration (engine/hits.py sums them).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from engine.plan import NftItem, PlanBuilder


@dataclass
class NsRules:
    """Fragments of one namespace's table."""

    decls: list[str] = field(default_factory=list)  # maps and helper chains
    forward: list[tuple[int, str]] = field(default_factory=list)  # (stage order, rule)
    prerouting: list[str] = field(default_factory=list)
    postrouting: list[str] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)
    track: bool = False  # a forward chain even without rules: conntrack sees every flow


class Rulesets:
    """Fragments per namespace, filled by the compiler's stages."""

    def __init__(self) -> None:
        self.by_ns: dict[str, NsRules] = {}

    def ns(self, name: str, source: str) -> NsRules:
        """The fragments of namespace `name`, noting who contributed."""
        rules = self.by_ns.setdefault(name, NsRules())
        rules.sources.add(source)
        return rules

    def emit(self, out: PlanBuilder) -> None:
        """One NftItem per namespace that has any rule."""
        for name, rules in sorted(self.by_ns.items()):
            text = render(rules)
            out.add(NftItem(name, text, tuple(sorted(rules.sources)), counted(text)))


def render(rules: NsRules) -> str:
    """The script of one table."""
    lines = ["table inet vpclab {"]
    lines += [f"  {d}" for d in rules.decls]
    if rules.forward or rules.track:
        lines.append("  chain forward {")
        lines.append("    type filter hook forward priority filter; policy accept;")
        lines.append("    ct state established,related accept")
        lines += [f"    {rule}" for _, rule in sorted(rules.forward, key=lambda r: r[0])]
        lines.append("  }")
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


def iface_set(names: list[str]) -> str:
    """An anonymous set of interface names."""
    return "{ " + ", ".join(quote(n) for n in sorted(names)) + " }"


# stage order inside the forward chain
DIRECTION, TRANSIT, BACKBONE, POLICY = 10, 20, 30, 40
