"""Compiler stage: resource shares.

A share is a veth between the routers of its two segments on the hub that
carries it (topology.share_hub), named `s.SHARE` at both ends. Each end's
router gets routes only for what the other end offers, as that end sees it
(translated where a `nat` line says so); the segments' routers on other
hubs reach those prefixes over their backbone. Each end's own NAT lives in
its own router, on the share link: SNAT of its offered prefixes going out,
DNAT of their translations coming in, both as 1:1 prefix maps. Direction
is a `ct state new` drop on the end that may not open connections. The
per-share parts go into named sets of the router (engine/compile/nft.py
SETS), so two hundred shares cost a few lookups, not hundreds of rules.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from engine.compile import naming
from engine.compile.cache import CompileCache
from engine.compile.nft import NsRules, Rulesets, quote
from engine.compile.topology import Fabric, share_hub, vpc_hubs
from engine.items import Item, Key, LinkConfItem, RouteItem, RouteMeta, VethItem
from engine.model import Config, ResourceShare
from engine.origin import DIRECTION, Origin
from engine.plan import PlanBuilder
from engine.shares import Offer, nat_maps, offers, other


def share_if(share: str) -> str:
    """The share link's name in both segment routers."""
    return naming.ifname("s", share)


Fragment = tuple[str, str, int, str]  # (ns, chain, order, rule)


def build_shares(fab: Fabric, config: Config, out: PlanBuilder, rules: Rulesets, cache: CompileCache) -> None:
    """Links, routes and nft fragments of every complete share.

    Each share's items are memoised on exactly what they depend on (the
    share, its hub, both ends' offers and routers), like VPCs: a commit
    that adds one share to two hundred builds one share."""
    hubs = vpc_hubs(config)
    for share in config.shares:
        if not (share.end_a and share.end_b) or share.end_a.segment == share.end_b.segment:
            continue
        hub = share_hub(hubs, share.end_a.segment, share.end_b.segment)
        seg_a, seg_b = share.end_a.segment, share.end_b.segment
        inputs = (
            fab.lab, share, hub,
            tuple(offers(config, share, "end-a")), tuple(offers(config, share, "end-b")),
            tuple((c, fab.routers[(seg_a, c)]) for c in fab.segment_cxps(seg_a)),
            tuple((c, fab.routers[(seg_b, c)]) for c in fab.segment_cxps(seg_b)),
        )  # fmt: skip
        items, fragments = cache.shares.get(inputs, lambda: _share_items(*inputs))
        out.merge(items)
        origin = Origin("share", share.name)
        touched: dict[str, NsRules] = {}
        for ns, chain, order, text in fragments:
            r = touched.get(ns) or touched.setdefault(ns, rules.ns(ns, origin))
            if chain == "forward":
                r.forward.append((order, text))
            elif chain.startswith("set:"):
                r.elements.setdefault(chain[4:], []).append(text)
            else:
                getattr(r, chain).append(text)


def _share_items(
    lab: str,
    share: ResourceShare,
    hub: str,
    offers_a: tuple[Offer, ...],
    offers_b: tuple[Offer, ...],
    routers_a: tuple[tuple[str, str], ...],
    routers_b: tuple[tuple[str, str], ...],
) -> tuple[Mapping[Key, Item], tuple[Fragment, ...]]:
    out = PlanBuilder()
    frags: list[Fragment] = []
    ends = {
        "end-a": (share.end_a.segment, dict(routers_a), offers_a, offers_b),  # type: ignore[union-attr]
        "end-b": (share.end_b.segment, dict(routers_b), offers_b, offers_a),  # type: ignore[union-attr]
    }
    _link(lab, share, hub, out)
    for end, (seg, routers, own, received) in ends.items():
        peer_routers = ends[other(end)][1]
        _end(lab, share, end, seg, hub, routers, peer_routers[hub], received, out, frags)
        _sources(lab, share, seg, hub, own, received, frags)
    return out.keyed(), tuple(frags)


def _sources(lab: str, share: ResourceShare, seg: str, hub: str, own: tuple[Offer, ...], received: tuple[Offer, ...],
             frags: list[Fragment]) -> None:  # fmt: skip
    """Only what an end offers may enter the share: routes decide where
    packets go, these sets who may send them. Out of the link, sources must
    be this end's offers (before its NAT); into it, the other end's offers
    as this end sees them. Replies are accepted earlier (established).
    Shares are not transitive: nothing goes from one share link to another."""
    ns = naming.segment_ns(lab, seg, hub)
    link = quote(share_if(share.name))
    frags.append((ns, "set:share_links", 0, link))
    # interval sets refuse overlapping elements: merge each side's prefixes first
    frags += [(ns, "set:share_out", 0, f"{link} . {net}") for net in ipaddress.collapse_addresses(o.original for o in own)]
    frags += [(ns, "set:share_in", 0, f"{link} . {net}") for net in ipaddress.collapse_addresses(o.seen for o in received)]


def _link(lab: str, share: ResourceShare, hub: str, out: PlanBuilder) -> None:
    a, b = share.end_a, share.end_b
    ns_a = naming.segment_ns(lab, a.segment, hub)  # type: ignore[union-attr]
    ns_b = naming.segment_ns(lab, b.segment, hub)  # type: ignore[union-attr]
    name = share_if(share.name)
    out.add(VethItem(ns_a, name, ns_b, name))
    out.add(LinkConfItem(ns_a, name, f"{lab}:share {share.name} to segment {b.segment}"))  # type: ignore[union-attr]
    out.add(LinkConfItem(ns_b, name, f"{lab}:share {share.name} to segment {a.segment}"))  # type: ignore[union-attr]


def _end(
    lab: str, share: ResourceShare, end: str, seg: str, hub: str, routers: dict[str, str], peer_addr: str,
    received: tuple[Offer, ...], out: PlanBuilder, frags: list[Fragment],
) -> None:  # fmt: skip
    """What one end's routers receive, and this end's NAT and direction rules."""
    ns = naming.segment_ns(lab, seg, hub)
    link = share_if(share.name)
    for offer in received:
        nat = (str(offer.original), str(offer.seen)) if offer.translated else (None, None)
        dst = str(offer.seen)
        meta = RouteMeta(seg, hub, "share", f"share {share.name}", None, nat[0], nat[1])
        out.add(RouteItem(ns, dst, peer_addr, link, True, meta=meta))
        for cxp in routers:
            if cxp != hub:
                far = RouteMeta(seg, cxp, "share", f"share {share.name} (cxp {hub})", None, nat[0], nat[1])
                out.add(RouteItem(naming.segment_ns(lab, seg, cxp), dst, routers[hub], naming.backbone_if(hub), True, meta=far))
    opener = {"a-to-b": "end-a", "b-to-a": "end-b"}.get(share.direction)
    if opener == end:  # the other end's new connections arrive here
        frags.append((ns, "set:share_dir", 0, f"{quote(link)} counter comment {quote(str(Origin('share', share.name, DIRECTION)))} : drop"))
    maps = nat_maps(share, end)
    if maps:
        snat = ", ".join(f"{o} : {t}" for o, t in maps)
        dnat = ", ".join(f"{t} : {o}" for o, t in maps)
        note = quote(str(Origin("share", share.name, f"nat {end}")))
        frags.append((ns, "postrouting", 0, f"oifname {quote(link)} snat ip prefix to ip saddr map {{ {snat} }} comment {note}"))
        frags.append((ns, "prerouting", 0, f"iifname {quote(link)} dnat ip prefix to ip daddr map {{ {dnat} }} comment {note}"))
