"""Notes a commit gives about inspection the configuration may not mean.

A segment policy's `inspect FW` steers east-west connections (between the
segment's own VPCs) through the firewall. Traffic to or from a share or
the internet that the same entry matches is inspected only by that
share's or edge's own `inspect firewall` line (docs/design.md says why: a
firewall is never hairpinned through a NAT'ing router). When an entry
covers such traffic that its firewall does not inspect there, the commit
says so, once, when the note first appears.
"""

from __future__ import annotations

from netaddr import IPSet

from engine.model import Config, PolicyEntry, Segment
from engine.prefixes import term_addresses
from engine.shares import imports


def notes(config: Config) -> list[str]:
    """Every note of `config`."""
    out: list[str] = []
    for seg in config.segments:
        entries = [e for e in seg.policies if e.action == "inspect"]
        if not entries:
            continue
        own = IPSet(c for v in config.vpcs_in(seg.name) for c in v.cidrs)
        for entry in entries:
            out += _share_notes(config, seg, entry, own)
            out += _internet_notes(config, seg, entry, own)
    return out


def _covers(config: Config, seg: Segment, entry: PolicyEntry, own: IPSet, outside: IPSet) -> bool:
    """Does the entry match connections between the segment's own space and `outside`, either way?"""
    src, dst = term_addresses(config, entry.src, seg.name), term_addresses(config, entry.dst, seg.name)
    return bool((src & own and dst & outside) or (src & outside and dst & own))


def _share_notes(config: Config, seg: Segment, entry: PolicyEntry, own: IPSet) -> list[str]:
    out = []
    for name in sorted({i.share for i in imports(config) if i.segment == seg.name}):
        share = config.get("resource-share", name)
        if share is None or share.firewall == entry.firewall:
            continue
        outside = IPSet(str(i.offer.seen) for i in imports(config) if i.share == name and i.segment == seg.name)
        if _covers(config, seg, entry, own, outside):
            out.append(f"segment {seg.name} policy {entry.seq} inspect {entry.firewall} also matches traffic through resource-share "
                       f"{name}, which {entry.firewall} does not inspect there (the policy steers east-west only): "
                       f"add 'inspect firewall {entry.firewall}' to resource-share {name} to inspect it")  # fmt: skip
    return out


def _internet_notes(config: Config, seg: Segment, entry: PolicyEntry, own: IPSet) -> list[str]:
    out = []
    for edge in config.internets:
        if seg.name not in edge.segments or edge.firewall == entry.firewall:
            continue
        if _covers(config, seg, entry, own, IPSet(["0.0.0.0/0"]) - own):
            out.append(f"segment {seg.name} policy {entry.seq} inspect {entry.firewall} also matches traffic to and from internet "
                       f"{edge.name}, which {entry.firewall} does not inspect there (the policy steers east-west only): "
                       f"add 'inspect firewall {entry.firewall}' to internet {edge.name} to inspect it")  # fmt: skip
    return out
