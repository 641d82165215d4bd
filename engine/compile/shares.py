"""Compiler stage: resource shares.

A share is a veth between the routers of its two segments on the hub that
carries it (topology.share_hub), named `s.SHARE` at both ends. Each end's
router gets routes only for what the other end offers, as that end sees it
(translated where a `nat` line says so); the segments' routers on other
hubs reach those prefixes over their backbone. Each end's own NAT lives in
its own router, on the share link: SNAT of its offered prefixes going out,
DNAT of their translations coming in, both as 1:1 prefix maps. Direction
is a `ct state new` drop on the end that may not open connections.
"""

from __future__ import annotations

from engine.compile import naming
from engine.compile.nft import DIRECTION, TRANSIT, Rulesets, iface_set, quote
from engine.compile.topology import Fabric, share_hub, vpc_pairs
from engine.model import Config, ResourceShare
from engine.plan import LinkConfItem, PlanBuilder, RouteItem, RouteMeta, VethItem
from engine.shares import END_NAMES, end_of, nat_maps, offers, other


def share_if(share: str) -> str:
    """The share link's name in both segment routers."""
    return naming.ifname("s", share)


def build_shares(fab: Fabric, config: Config, out: PlanBuilder, rules: Rulesets) -> None:
    """Links, routes and nft fragments of every complete share."""
    base = vpc_pairs(config)
    share_ifs: dict[str, list[str]] = {}
    for share in config.shares:
        if not (share.end_a and share.end_b) or share.end_a.segment == share.end_b.segment:
            continue
        hub = share_hub(base, share.end_a.segment, share.end_b.segment)
        _link(fab, share, hub, out)
        for end in END_NAMES:
            _end(fab, config, share, end, hub, out, rules)
            ns = naming.segment_ns(fab.lab, end_of(share, end).segment, hub)  # type: ignore[union-attr]
            share_ifs.setdefault(ns, []).append(share_if(share.name))
    for ns, ifs in share_ifs.items():
        if len(ifs) > 1:
            rules.ns(ns, "shares").forward.append(
                (TRANSIT, f"iifname {iface_set(ifs)} oifname {iface_set(ifs)} counter drop comment {quote('shares transit')}")
            )


def _link(fab: Fabric, share: ResourceShare, hub: str, out: PlanBuilder) -> None:
    a, b = share.end_a, share.end_b
    ns_a = naming.segment_ns(fab.lab, a.segment, hub)  # type: ignore[union-attr]
    ns_b = naming.segment_ns(fab.lab, b.segment, hub)  # type: ignore[union-attr]
    name = share_if(share.name)
    out.add(VethItem(ns_a, name, ns_b, name))
    out.add(LinkConfItem(ns_a, name, f"{fab.lab}:share {share.name} to segment {b.segment}"))  # type: ignore[union-attr]
    out.add(LinkConfItem(ns_b, name, f"{fab.lab}:share {share.name} to segment {a.segment}"))  # type: ignore[union-attr]


def _end(fab: Fabric, config: Config, share: ResourceShare, end: str, hub: str, out: PlanBuilder, rules: Rulesets) -> None:
    """What one end's routers receive, and this end's NAT and direction rules."""
    me, peer = end_of(share, end), end_of(share, other(end))
    seg = me.segment  # type: ignore[union-attr]
    ns = naming.segment_ns(fab.lab, seg, hub)
    link = share_if(share.name)
    peer_addr = fab.routers[(peer.segment, hub)]  # type: ignore[union-attr]
    for offer in offers(config, share, other(end)):
        nat = (str(offer.original), str(offer.seen)) if offer.translated else (None, None)
        dst = str(offer.seen)
        meta = RouteMeta(seg, hub, "share", f"share {share.name}", None, nat[0], nat[1])
        out.add(RouteItem(ns, dst, peer_addr, link, True, meta=meta))
        for cxp in fab.segment_cxps(seg):
            if cxp != hub:
                far = RouteMeta(seg, cxp, "share", f"share {share.name} (cxp {hub})", None, nat[0], nat[1])
                out.add(RouteItem(naming.segment_ns(fab.lab, seg, cxp), dst, fab.routers[(seg, hub)], naming.backbone_if(hub), True, meta=far))
    opener = {"a-to-b": "end-a", "b-to-a": "end-b"}.get(share.direction)
    if opener is not None and opener == end:  # the other end's new connections arrive here
        rules.ns(ns, f"resource-share {share.name}").forward.append(
            (DIRECTION, f"iifname {quote(link)} ct state new counter drop comment {quote(f'share {share.name} direction')}")
        )
    maps = nat_maps(share, end)
    if maps:
        r = rules.ns(ns, f"resource-share {share.name}")
        snat = ", ".join(f"{o} : {t}" for o, t in maps)
        dnat = ", ".join(f"{t} : {o}" for o, t in maps)
        r.postrouting.append(f"oifname {quote(link)} snat ip prefix to ip saddr map {{ {snat} }} comment {quote(f'share {share.name} nat {end}')}")
        r.prerouting.append(f"iifname {quote(link)} dnat ip prefix to ip daddr map {{ {dnat} }} comment {quote(f'share {share.name} nat {end}')}")
