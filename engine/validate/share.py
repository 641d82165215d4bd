"""Checks of resource shares: their ends, NAT lines, and what they import
into each segment (which must not overlap its VPCs or other imports)."""

from __future__ import annotations

from collections.abc import Iterable

from engine.addressing import Net, parse_prefix
from engine.errors import Diagnostic
from engine.model import Config
from engine.prefixes import free_prefix
from engine.shares import Import, imports, nat_straddles, offered_inside
from engine.validate.lines import nat_problems


def check(config: Config, previous: Config) -> Iterable[Diagnostic]:
    """Each share on its own, then the imports of every segment together."""
    yield from _shares(config)
    yield from _share_imports(config, previous)


def _shares(config: Config) -> Iterable[Diagnostic]:
    for share in config.shares:
        here = f"resource-share {share.name}"
        ends = {"end-a": share.end_a, "end-b": share.end_b}
        for label, end in ends.items():
            if end is None:
                yield Diagnostic(here, f"no {label}: add '{label} segment SEGMENT prefix-list NAME'")
                continue
            if config.get("segment", end.segment) is None:
                yield Diagnostic(here, f"{label} segment {end.segment} does not exist")
            if config.get("prefix-list", end.prefix_list) is None:
                yield Diagnostic(here, f"{label} prefix-list {end.prefix_list} does not exist")
        if share.end_a and share.end_b and share.end_a.segment == share.end_b.segment:
            yield Diagnostic(here, f"both ends are in segment {share.end_a.segment}: a share joins two segments")
        seen_nat: list[tuple[str, Net, Net]] = []
        for nat in share.nat:
            a, b = parse_prefix(nat.original), parse_prefix(nat.translated)
            line = f"nat {nat.end} {nat.original} to {nat.translated}"
            for other_end, o, t in seen_nat:
                if other_end == nat.end and a is not None and a.overlaps(o):
                    yield Diagnostic(here, f"{line}: {nat.original} overlaps {o}, translated by another nat line of {other_end}")
                elif other_end == nat.end and b is not None and b.overlaps(t):
                    yield Diagnostic(here, f"{line}: {nat.translated} overlaps {t}, the translation of another nat line of {other_end}")
            if a is not None and b is not None:
                seen_nat.append((nat.end, a, b))
            problems = nat_problems(nat)
            for problem in problems:
                yield Diagnostic(here, f"{line}: {problem}")
            if not problems and share.end_a and share.end_b:
                if not offered_inside(config, share, nat):
                    yield Diagnostic(here, f"{line}: {nat.end} offers nothing inside {nat.original} (see 'show share {share.name}'); remove the line or widen the {nat.end} prefix-list")
                for net in nat_straddles(config, share, nat):
                    yield Diagnostic(here, f"{line}: cuts through offered prefix {net}; translate the whole prefix ('nat {nat.end} {net} to ...')")


def _share_imports(config: Config, previous: Config) -> Iterable[Diagnostic]:
    """A share may not import into a segment what overlaps one of its VPCs or
    another share's import: the segment router could not tell them apart.
    Reported on what is new (the share, or the VPC), else the later share,
    with the `nat` line that would fix it; suggestions never collide with
    each other."""
    old_vpcs = {(v.name, c) for v in previous.vpcs for c in v.cidrs}
    old_shares = {s.name: s for s in previous.shares}
    by_segment: dict[str, list[tuple[int, int, str, object, bool]]] = {}
    for vpc in config.vpcs:
        for text in vpc.cidrs:
            net = parse_prefix(text)
            if vpc.segment and net is not None:
                new = bool(previous.vpcs) and (vpc.name, text) not in old_vpcs
                by_segment.setdefault(vpc.segment, []).append((int(net.network_address), int(net.broadcast_address), f"vpc {vpc.name}", net, new))
    for imp in imports(config):
        net = imp.offer.seen
        new = config.get("resource-share", imp.share) != old_shares.get(imp.share)
        by_segment.setdefault(imp.segment, []).append((int(net.network_address), int(net.broadcast_address), f"resource-share {imp.share}", imp, new))
    # suggestions avoid every translation and address in the lab, and each other
    used = [t for sh in config.shares for n in sh.nat if (t := parse_prefix(n.translated)) is not None]
    used += [s[3] if isinstance(s[3], Net) else s[3].offer.seen for spans in by_segment.values() for s in spans]  # type: ignore[attr-defined]
    for segment, spans in sorted(by_segment.items()):
        spans.sort(key=lambda s: (s[0], s[1], s[2]))
        active: list[tuple[int, int, str, object, bool]] = []
        for span in spans:
            active = [a for a in active if a[1] >= span[0]]
            for prior in active:
                both_vpcs = isinstance(prior[3], Net) and isinstance(span[3], Net)  # _segment_overlaps reports those
                # one share's own imports may collide too, when its NAT moves one onto another
                if not both_vpcs and (prior[2] != span[2] or prior[3] != span[3]):
                    yield _import_conflict(config, segment, prior, span, used)
            active.append(span)


def _import_conflict(config: Config, segment: str, a: tuple, b: tuple, used: list) -> Diagnostic:  # type: ignore[type-arg]
    """The diagnostic for two overlapping spans, at least one an import,
    reported on the newer side."""
    vpc_span = next((s for s in (a, b) if isinstance(s[3], Net)), None)
    imps = [s for s in (a, b) if not isinstance(s[3], Net)]
    if vpc_span is not None and vpc_span[4] and not imps[0][4]:  # a new VPC meets an established import
        imp = imps[0][3]
        return Diagnostic(
            vpc_span[2],
            f"cidr {vpc_span[3]} overlaps {imp.offer.seen}, which resource-share {imp.share} imports into segment {segment}: "
            f"choose another cidr, or translate the share's {imp.end} with 'nat'",
        )
    blame = next((s for s in reversed(imps) if s[4]), imps[-1])
    other = a if blame is b else b
    imp = blame[3]
    what = other[3] if isinstance(other[3], Net) else other[3].offer.seen
    return Diagnostic(
        f"resource-share {imp.share}",
        f"imports {imp.offer.seen} into segment {segment}, overlapping {what} of {other[2]}{_nat_hint(config, imp, used)}",
    )


def _nat_hint(config: Config, imp: Import, used: list[Net]) -> str:
    """`; add|change 'nat ...'`: a translation into free space of 100.64.0.0/10,
    remembered so the next suggestion picks another range."""
    share = config.get("resource-share", imp.share)
    end, original = imp.end, imp.offer.original
    if share is None:
        return ""
    line = next((n for n in share.nat if n.end == end and (p := parse_prefix(n.original)) is not None and original.subnet_of(p)), None)
    base = parse_prefix(line.original) if line else original
    fix = free_prefix(base.prefixlen, used) if base is not None else None
    if fix is None:
        return ""
    used.append(fix)
    if line is not None:
        return f"; change 'nat {end} {line.original} to {line.translated}' to 'nat {end} {line.original} to {fix}' in resource-share {imp.share}"
    return f"; add 'nat {end} {original} to {fix}' to resource-share {imp.share}"
