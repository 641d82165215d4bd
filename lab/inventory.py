"""Read back the real state of a lab's namespaces and compare it with a Plan.

The kernel is the truth; the Plan is the wish. `read_state` returns, per
namespace, the same kinds of facts a Plan holds (links with their settings,
addresses, routes we own), so drift is a plain comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.plan import AddressItem, BridgeItem, LinkConfItem, Plan, RouteItem, VethItem
from engine.ports import Drift, RouteReading
from lab import netns, rtnl

IFF_UP = 1


@dataclass
class NsState:
    """What one namespace holds, as read from the kernel."""

    links: dict[str, dict[str, object]] = field(default_factory=dict)  # ifname -> facts
    addrs: set[tuple[str, str]] = field(default_factory=set)  # (ifname, cidr)
    routes: dict[str, RouteReading] = field(default_factory=dict)  # dst -> reading (ours)


def read_ns(ns: str) -> NsState:
    """Links, addresses and vpclab routes of one namespace."""
    ch = rtnl.Channel(ns)
    try:
        state = NsState()
        names: dict[int, str] = {}
        for link in rtnl.dump_links(ch):
            name = link.get_attr("IFLA_IFNAME")
            names[link["index"]] = name
            info = link.get_attr("IFLA_LINKINFO")
            kind = info.get_attr("IFLA_INFO_KIND") if info else None
            state.links[name] = {
                "index": link["index"],
                "up": bool(link["flags"] & IFF_UP),
                "alias": link.get_attr("IFLA_IFALIAS") or "",
                "master": link.get_attr("IFLA_MASTER"),
                "kind": kind,
            }
        for link in state.links.values():
            master = link["master"]
            link["master"] = names.get(master) if isinstance(master, int) and master else None
        for a in rtnl.dump_addrs(ch):
            state.addrs.add((names.get(a["index"], "?"), f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}"))
        for r in rtnl.dump_routes(ch):
            if r["table"] != rtnl.RT_TABLE_MAIN or r["proto"] != rtnl.RTPROT_VPCLAB:
                continue
            dst = f"{r.get_attr('RTA_DST') or '0.0.0.0'}/{r['dst_len']}"
            kind = "unreachable" if r["type"] == rtnl.RTN_UNREACHABLE else "unicast"
            oif = r.get_attr("RTA_OIF")
            state.routes[dst] = RouteReading(ns, dst, r.get_attr("RTA_GATEWAY"), names.get(oif) if oif else None, kind)
        return state
    finally:
        ch.close()


def read_routes(plan: Plan) -> dict[str, list[RouteReading]]:
    """Our routes in every namespace of the plan that exists."""
    out: dict[str, list[RouteReading]] = {}
    for ns in plan.namespaces():
        if netns.exists(ns):
            out[ns] = list(read_ns(ns).routes.values())
    return out


def route_matches(item: RouteItem, reading: RouteReading | None) -> bool:
    """True when the kernel route is the one the plan wants."""
    return (
        reading is not None
        and reading.kind == item.type
        and reading.gateway == item.gateway
        and reading.dev == item.ifname
    )


def drift(plan: Plan, lab_prefix: str) -> list[Drift]:
    """Every difference between the kernel and the plan."""
    out: list[Drift] = []
    wanted = set(plan.namespaces())
    for ns in sorted(set(netns.list_names(lab_prefix)) - wanted):
        out.append(Drift(ns, "namespace", ns, "unexpected"))
    states: dict[str, NsState] = {}
    for ns in sorted(wanted):
        if not netns.exists(ns):
            out.append(Drift(ns, "namespace", ns, "missing"))
            continue
        try:
            states[ns] = read_ns(ns)
        except OSError as exc:
            out.append(Drift(ns, "namespace", ns, f"unreadable: {exc}"))
    for item in plan:
        out += _item_drift(item, states)
    return out


def _item_drift(item: object, states: dict[str, NsState]) -> list[Drift]:
    if isinstance(item, VethItem):
        return _link_drift(states, item.ns, item.ifname, "veth") + _link_drift(states, item.peer_ns, item.peer_ifname, "veth")
    if isinstance(item, BridgeItem):
        return _link_drift(states, item.ns, item.ifname, "bridge")
    st = states.get(getattr(item, "ns", ""))
    if st is None:
        return []
    if isinstance(item, LinkConfItem):
        link = st.links.get(item.ifname)
        if link and (link["up"] != item.up or link["master"] != item.master):
            return [Drift(item.ns, "link", item.ifname, "different (state or master)")]
    elif isinstance(item, AddressItem):
        if (item.ifname, item.cidr) not in st.addrs:
            return [Drift(item.ns, "address", f"{item.cidr} on {item.ifname}", "missing")]
    elif isinstance(item, RouteItem):
        reading = st.routes.get(item.dst)
        if reading is None:
            return [Drift(item.ns, "route", item.dst, "missing")]
        if not route_matches(item, reading):
            return [Drift(item.ns, "route", item.dst, f"different (kernel: via {reading.gateway} dev {reading.dev})")]
    return []


def _link_drift(states: dict[str, NsState], ns: str, ifname: str, kind: str) -> list[Drift]:
    st = states.get(ns)
    if st is None:
        return []
    link = st.links.get(ifname)
    if link is None:
        return [Drift(ns, "link", ifname, "missing")]
    if link["kind"] != kind:
        return [Drift(ns, "link", ifname, f"different (kind {link['kind']}, want {kind})")]
    return []


__all__ = ["NsState", "drift", "read_ns", "read_routes", "route_matches"]


def link_counters(ns: str) -> dict[str, dict[str, int]]:
    """Packet and byte counters of every link of a namespace (IFLA_STATS64)."""
    ch = rtnl.Channel(ns)
    try:
        out = {}
        for link in rtnl.dump_links(ch):
            stats = link.get_attr("IFLA_STATS64") or {}
            out[link.get_attr("IFLA_IFNAME")] = {k: int(stats.get(k, 0)) for k in ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes")}
        return out
    finally:
        ch.close()
