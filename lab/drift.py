"""The kernel against plans: drift, and the plan the kernel actually holds.

`drift` says, for `show lab health` (and `repair`, built on it), every
difference between a lab's namespaces and its running plan: what is
missing or different, as each kind's realiser judges it
(lab/realisers.py), and what is there but not planned: namespaces (ours,
or foreign ones with the lab's prefix), links, addresses, our routes and
rules, and the policy tables the plan wants.

`observed` turns the same reading into a Plan: the items of some plans
that the kernel holds as those plans have them. Diffing it against the
wanted plan gives exactly the operations that make the kernel right,
whatever mix of states it is in: after a commit was killed half way
(between its old and new plan) or when things were deleted behind
vpclab's back (a commit then applies from what is, not from what was
believed).
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Sequence

from engine.items import AddressItem, Key, NftItem, PlanItem, RouteItem, RuleItem, ServiceItem
from engine.plan import Plan
from engine.ports import Drift
from lab import inventory, marks, netns, nft, rtnl, services
from lab.inventory import NsState
from lab.realisers import realiser_of

States = dict[str, NsState]
FOREIGN = "foreign: not made by vpclab (destroy leaves it)"
HALF_MADE = "half-made (not mounted)"  # a file in /run/netns with no namespace on it (lab/netns.py half_made)
LINK_KINDS = ("veth", "bridge")  # the kinds of link vpclab makes; others (tunl0 when ipip is loaded) are the kernel's


def read_states(lab: str, namespaces: Iterable[str], tables: Iterable[str] = (), with_services: bool = False,
                adopt: bool = False) -> tuple[States, list[Drift]]:  # fmt: skip
    """What each of `namespaces` (a plan's) holds, when mounted and ours,
    with the nft table asked for in `tables` and, when told, the lab's
    running services; and the problems met: namespaces missing, marked as
    another lab's, or unreadable. One without a mark is ours (made before
    the marks; `adopt` marks it)."""
    states: States = {}
    problems: list[Drift] = []
    want_tables = set(tables)
    running = frozenset(services.scan(services.marker(f"{lab}/"))) if with_services else None
    for ns in sorted(set(namespaces)):
        if netns.half_made(ns):
            problems.append(Drift(ns, "namespace", ns, HALF_MADE, ("ns", ns)))
            continue
        if not netns.exists(ns):
            problems.append(Drift(ns, "namespace", ns, "missing", ("ns", ns)))
            continue
        try:
            state = inventory.read_ns(ns)
            if ns in want_tables:
                names = nft.tables(ns)
                state.table = nft.TABLE in names
                state.other_tables = tuple(t for t in names if t != nft.TABLE)
        except (OSError, nft.NftError) as exc:
            if netns.mounted(ns):
                problems.append(Drift(ns, "namespace", ns, f"unreadable: {exc}"))
            else:
                problems.append(Drift(ns, "namespace", ns, "missing", ("ns", ns)))
            continue
        if state.mark is not None and state.mark != lab:
            problems.append(Drift(ns, "namespace", ns, FOREIGN))
            continue
        if state.mark is None and adopt:
            marks.adopt(ns)
        state.services = running
        states[ns] = state
    return states, problems


def drift(plan: Plan, lab: str) -> list[Drift]:
    """Every difference between the kernel and the plan: namespaces missing,
    foreign or unexpected, each item as its kind's realiser judges it, and
    what our namespaces hold that the plan does not."""
    wanted = set(plan.namespaces())
    out: list[Drift] = []
    for ns in sorted(set(netns.list_names(f"{lab}-")) - wanted):
        problem = HALF_MADE if netns.half_made(ns) else "unexpected" if marks.owner(ns) == lab else FOREIGN
        out.append(Drift(ns, "namespace", ns, problem))
    states, problems = read_states(lab, wanted, [i.ns for i in plan.of_kind("nft")])
    out += problems
    for item in plan:
        out += realiser_of(item).drift(item, states)
    by_ns = plan.by_namespace()
    for ns, state in sorted(states.items()):
        out += unexpected(ns, by_ns.get(ns, []), state)
    return out


def unexpected(ns: str, items: list[PlanItem], state: NsState) -> list[Drift]:
    """What namespace `ns` holds of the kinds vpclab makes that none of
    `items` (the plan's items living there) accounts for."""
    links = {key[2] for item in items for key in item.provides() if key[0] == "link" and key[1] == ns}
    addrs = {(i.ifname, i.cidr) for i in items if isinstance(i, AddressItem)} | {("lo", "127.0.0.1/8")}
    routes = {(i.table, i.dst) for i in items if isinstance(i, RouteItem) and i.ns == ns}
    rules = {i.priority for i in items if isinstance(i, RuleItem) and i.ns == ns}
    out = [Drift(ns, "link", name, "unexpected") for name, link in sorted(state.links.items())
           if name not in links and link["kind"] in LINK_KINDS]
    out += [Drift(ns, "address", f"{cidr} on {ifname}", "unexpected") for ifname, cidr in sorted(state.addrs - addrs)]
    out += [Drift(ns, "route", dst if table == rtnl.RT_TABLE_MAIN else f"{dst} table {table}", "unexpected")
            for table, dst in sorted(state.routes.keys() - routes)]
    out += [Drift(ns, "rule", state.rules[p].describe(), "unexpected") for p in sorted(state.rules.keys() - rules)]
    out += [Drift(ns, "table", t, "unexpected") for t in state.other_tables]
    return out


def remove_unexpected(plan: Plan, lab: str) -> list[str]:
    """Remove from the plan's namespaces what `unexpected` finds there: our
    kinds of link, addresses, our routes and rules, and other nft tables
    in the namespaces that hold the lab's (routers, instances, edges: the
    fabric's own; a host's tables are its user's business, as `host exec`
    may set them, and are not read). Rules, routes and addresses go before
    links (a link takes its addresses and routes with it). Returns a line
    per object removed."""
    states, _problems = read_states(lab, plan.namespaces(), [i.ns for i in plan.of_kind("nft")])
    by_ns = plan.by_namespace()
    out: list[str] = []
    for ns, state in sorted(states.items()):
        found = {(d.kind, d.name) for d in unexpected(ns, by_ns.get(ns, []), state)}
        if not found:
            continue
        out += _remove_in(ns, state, found)
    return out


def _remove_in(ns: str, state: NsState, found: set[tuple[str, str]]) -> list[str]:
    """Remove the `found` (kind, name) of `unexpected` from namespace `ns`."""
    index = {name: int(facts["index"]) for name, facts in state.links.items()}  # type: ignore[call-overload]
    requests: list[rtnl.Request] = []
    for prio, rule in sorted(state.rules.items()):
        if ("rule", rule.describe()) in found:
            requests.append(rtnl.Request(f"rule {rule.describe()}",
                                         rtnl.rule(False, prio, rule.table, rule.fwmark, rule.fwmask, rule.iif)))
    for (table, dst), r in sorted(state.routes.items()):
        if ("route", dst if table == rtnl.RT_TABLE_MAIN else f"{dst} table {table}") in found:
            msg = rtnl.route(False, dst, None, None, False, r.kind, table)
            msg["scope"] = rtnl.RT_SCOPE_NOWHERE  # any scope: the route may have a gateway or not
            requests.append(rtnl.Request(f"route {dst}" + ("" if table == rtnl.RT_TABLE_MAIN else f" table {table}"), msg))
    for ifname, cidr in sorted(state.addrs):
        if ("address", f"{cidr} on {ifname}") in found and ifname in index:
            address, _, plen = cidr.partition("/")
            requests.append(rtnl.Request(f"address {cidr} on {ifname}", rtnl.addr(False, index[ifname], address, int(plen))))
    for name in sorted(state.links):
        if ("link", name) in found:
            requests.append(rtnl.Request(f"link {name}", rtnl.link_del(index[name])))
    ch = rtnl.Channel(ns)
    try:
        done, _error = ch.execute(requests, ok=frozenset({errno.ENOENT, errno.ESRCH, errno.ENODEV, errno.EADDRNOTAVAIL}))
    finally:
        ch.close()
    out = [f"removed unexpected {tag} in {ns}" for tag in done]
    for stray in state.other_tables:
        if ("table", stray) in found:
            try:
                nft.delete(ns, stray)
                out.append(f"removed unexpected table {stray} in {ns}")
            except nft.NftError:
                pass  # gone meanwhile
    return out


def observed(plans: Sequence[Plan], lab: str, spaces: Iterable[str] | None = None) -> Plan:
    """The kernel's state as a plan: each item of `plans` that the kernel
    holds as that plan has it (the first plan's version first, where the
    kernel cannot tell versions apart: tables, services). With `spaces`,
    only those namespaces are read: the items of the first plan elsewhere
    are taken as they are."""
    keys: dict[Key, list[PlanItem]] = {}
    for plan in plans:
        for key, item in plan.items.items():
            versions = keys.setdefault(key, [])
            if item not in versions:
                versions.append(item)
    universe = {ns for plan in plans for ns in plan.namespaces()}
    read = universe if spaces is None else universe & set(spaces)
    # a commit's look (`spaces`) takes tables and services as believed: a
    # table is reloaded whole whenever it changes, and the commit restarts
    # services that died; a recovery looks at them too
    believed: tuple[type, ...] = (NftItem, ServiceItem) if spaces is not None else ()
    tables = {i.ns for plan in plans for i in plan.of_kind("nft") if i.ns in read} if not believed else set()
    states, _problems = read_states(lab, read, tables, with_services=not believed, adopt=True)
    absent = read - set(states)
    out: dict[Key, PlanItem] = {}
    for key, versions in keys.items():
        first = versions[0]
        if not read.intersection(first.spaces()):
            if key in plans[0].items:
                out[key] = plans[0].items[key]  # not looked at: as the first plan believes
            continue
        if absent.intersection(first.spaces()):
            continue
        if isinstance(first, believed):
            out[key] = first
            continue
        held = next((v for v in versions if realiser_of(v).present(v, states)), None)
        if held is not None:
            out[key] = held
    return Plan(_closed(out) if len(out) < len(plans[0]) else out)


def _closed(items: dict[Key, PlanItem]) -> dict[Key, PlanItem]:
    """`items` without what the kernel cannot hold since something it
    depends on is not there (a link's settings when the link is gone: the
    link comes back new, and its settings must be made again), as each
    kind's `removed_with` says."""
    while True:
        provided = {key for item in items.values() for key in item.provides()}
        gone = [key for key, item in items.items()
                if item.deps() and item.removed_with([dep not in provided for dep in item.deps()])]
        if not gone:
            return items
        for key in gone:
            del items[key]


__all__ = ["FOREIGN", "HALF_MADE", "drift", "observed", "read_states", "remove_unexpected", "unexpected"]
