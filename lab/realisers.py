"""One realiser per kind of plan item: how the lab makes it real, and how it
checks it against what the kernel holds.

engine/plan.py declares the kinds (their keys, order, in-place rule); here
`REALISERS` holds, per kind, how a phase of operations is applied (a phase
is consecutive operations of one action on one kind, lab/realise.py) and
how one item compares with the read-back state (lab/inventory.py). A new
kind of kernel object is one item class in the engine and one realiser
here; a test checks that every declared kind has one.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from engine.diff import Op
from engine.items import (
    AddressItem,
    BridgeItem,
    LinkConfItem,
    NetnsItem,
    NftItem,
    PlanItem,
    RouteItem,
    RuleItem,
    ServiceDataItem,
    ServiceItem,
    VethItem,
    ifindex_of,
)
from engine.ports import Drift
from lab import conntrack, inventory, marks, netns, nft, nftgen, rtnl, services
from lab.inventory import NsState

FaultHook = Callable[[Op], None]
States = dict[str, NsState]  # namespace -> what it holds


class ApplyFailure(Exception):
    """Applying stopped at `op`; `done` took effect, nothing after it did."""

    def __init__(self, op: Op | None, error: BaseException, done: list[Op]):
        super().__init__(f"{op.action if op else ''} {op.item if op else ''}: {error}")
        self.op = op
        self.error = error
        self.done = done


class Run(Protocol):
    """What a realiser needs from the apply it is part of (lab/realise.py)."""

    counters: dict[str, dict[str, list[int]]]

    def channel(self, ns: str) -> rtnl.Channel:
        """The rtnetlink channel of a namespace."""

    def fd(self, ns: str) -> int:
        """An open fd of a namespace."""

    def forget(self, ns: str) -> None:
        """Drop the channel and fd of a namespace that goes away."""

    def close(self) -> None:
        """Close every channel and fd."""

    def check_fault(self, op: Op, done: list[Op]) -> None:
        """Raise ApplyFailure when a test injects a failure at `op`."""


class KindRealiser:
    """How one kind of plan item is applied and checked."""

    KIND: ClassVar[str]

    def apply(self, run: Run, action: str, ops: list[Op], done: list[Op]) -> None:
        """Apply one phase; append each operation that took effect to `done`,
        raise ApplyFailure at the first that did not."""
        raise NotImplementedError

    def drift(self, item: Any, states: States) -> list[Drift]:
        """How the kernel differs from `item` (namespaces that do not exist
        have no state and are reported once, by `drift`)."""
        return []

    def present(self, item: Any, states: States) -> bool:
        """Does the kernel hold `item` as it is (its namespaces read into
        `states`)? For lab/drift.py's observed plans."""
        return not self.drift(item, states)


class NetlinkRealiser(KindRealiser):
    """A kind made by one rtnetlink request per operation. Each namespace
    gets one batch (many requests per sendto, one ack each), so after a
    failure exactly the acknowledged operations count as done."""

    def encode(self, run: Run, item: Any, add: bool) -> Any:
        """The request that adds (or replaces) or removes `item`."""
        raise NotImplementedError

    def apply(self, run: Run, action: str, ops: list[Op], done: list[Op]) -> None:
        by_ns: dict[str, list[rtnl.Request]] = {}
        try:
            for op in ops:
                run.check_fault(op, done)
                by_ns.setdefault(op.item.ns, []).append(rtnl.Request(op, self.encode(run, op.item, action == "add")))
        except ApplyFailure:
            _send_all(run, by_ns, done, action == "remove")  # what was encoded before the fault still happens, as in a real failure
            raise
        _send_all(run, by_ns, done, action == "remove")


# what the kernel answers when asked to remove what is not there: a removal
# of something already gone (drift) has the effect it wanted, so it is done
GONE = frozenset({errno.ENOENT, errno.ESRCH, errno.ENODEV, errno.EADDRNOTAVAIL})


def _send_all(run: Run, by_ns: dict[str, list[rtnl.Request]], done: list[Op], gone_is_done: bool = False) -> None:
    failure: rtnl.NetlinkError | None = None
    for ns, requests in by_ns.items():
        ok, err = run.channel(ns).execute(requests, GONE if gone_is_done else frozenset())
        done.extend(ok)
        failure = failure or err
    if failure is not None:
        raise ApplyFailure(failure.tag, failure, done)


# --- the kinds -----------------------------------------------------------------


class OneByOneRealiser(KindRealiser):
    """A kind applied one operation at a time, each done or failed on its own."""

    ERRORS: ClassVar[tuple[type[Exception], ...]] = (OSError,)

    def apply_one(self, run: Run, add: bool, item: Any) -> None:
        """Add (or replace) or remove one item."""
        raise NotImplementedError

    def half_done(self, add: bool, item: Any, error: Exception) -> bool:
        """After a failure: did the operation take effect all the same (so
        that the undo must revert it)?"""
        return False

    def apply(self, run: Run, action: str, ops: list[Op], done: list[Op]) -> None:
        for op in ops:
            run.check_fault(op, done)
            try:
                self.apply_one(run, action == "add", op.item)
            except self.ERRORS as exc:
                if self.half_done(action == "add", op.item, exc):
                    done.append(op)
                raise ApplyFailure(op, exc, done) from exc
            done.append(op)


class NetnsRealiser(OneByOneRealiser):
    """Namespaces, created without forking, with their sysctls."""

    KIND = NetnsItem.KIND

    def apply_one(self, run: Run, add: bool, item: NetnsItem) -> None:
        if add:
            try:
                netns.create(item.ns)
            except FileExistsError:
                raise FileExistsError(errno.EEXIST, _existing(item.ns)) from None
            _, error = run.channel(item.ns).execute([marks.mark_request(item.ns)])  # lab/marks.py: destroy removes only these
            if error is not None:
                raise error
            netns.write_sysctls(item.ns, dict(item.sysctls))
        else:
            run.forget(item.ns)
            netns.delete(item.ns)

    def present(self, item: NetnsItem, states: States) -> bool:
        """Mounted and marked as the lab's (only those are read into `states`)."""
        return item.ns in states

    def half_done(self, add: bool, item: NetnsItem, error: Exception) -> bool:
        """Created, but marking it or its sysctls failed: the undo must
        remove it. One that existed before is not ours to remove."""
        return add and not isinstance(error, FileExistsError) and netns.exists(item.ns)


def _existing(ns: str) -> str:
    """Why a namespace cannot be created: it exists, ours or not."""
    lab = marks.lab_of(ns)
    if marks.owner(ns) == lab:
        return (f"namespace {ns} exists already (left by an interrupted commit of lab {lab}?): "
                f"'show lab health' lists it, 'vpclab --lab {lab} destroy' removes the lab")
    return f"namespace {ns} exists and was not made by vpclab: remove it ('ip netns del {ns}') or use another lab name"


class LinkRealiser(NetlinkRealiser):
    """Links (bridges, veths), made with their fixed ifindex. One the kernel
    still holds under that index when the plan says it is not there (a
    veth whose other end's namespace was deleted and is still being freed,
    a link of another kind made behind vpclab's back) refuses the new one
    with EEXIST: it is removed and the link made again, once."""

    def ends(self, item: Any) -> list[tuple[str, str]]:
        """(namespace, interface name) of each end of the link."""
        raise NotImplementedError

    def apply(self, run: Run, action: str, ops: list[Op], done: list[Op]) -> None:
        try:
            super().apply(run, action, ops, done)
        except ApplyFailure as failure:
            stale = action == "add" and isinstance(failure.error, rtnl.NetlinkError) and failure.error.errno == errno.EEXIST
            if not stale:
                raise
            left = [op for op in ops if op not in done]
            clear: dict[str, list[rtnl.Request]] = {}
            for op in left:
                for ns, name in self.ends(op.item):
                    if netns.exists(ns):
                        clear.setdefault(ns, []).append(rtnl.Request(op, rtnl.link_del(ifindex_of(name))))
            for ns, requests in clear.items():
                run.channel(ns).execute(requests, GONE)
            super().apply(run, action, left, done)  # a second refusal stands


class BridgeRealiser(LinkRealiser):
    """Bridges, created with their fixed ifindex."""

    KIND = BridgeItem.KIND

    def ends(self, item: BridgeItem) -> list[tuple[str, str]]:
        return [(item.ns, item.ifname)]

    def encode(self, run: Run, item: BridgeItem, add: bool) -> Any:
        return rtnl.bridge_add(ifindex_of(item.ifname), item.ifname) if add else rtnl.link_del(ifindex_of(item.ifname))

    def drift(self, item: BridgeItem, states: States) -> list[Drift]:
        return _link_drift(states, item.ns, item.ifname, "bridge", item.key)


class VethRealiser(LinkRealiser):
    """Veth pairs, the peer created straight inside its namespace."""

    KIND = VethItem.KIND

    def ends(self, item: VethItem) -> list[tuple[str, str]]:
        return [(item.ns, item.ifname), (item.peer_ns, item.peer_ifname)]

    def encode(self, run: Run, item: VethItem, add: bool) -> Any:
        if not add:
            return rtnl.link_del(ifindex_of(item.ifname))
        return rtnl.veth_add(ifindex_of(item.ifname), item.ifname, ifindex_of(item.peer_ifname), item.peer_ifname, run.fd(item.peer_ns))

    def drift(self, item: VethItem, states: States) -> list[Drift]:
        return _link_drift(states, item.ns, item.ifname, "veth", item.key) + _link_drift(states, item.peer_ns, item.peer_ifname, "veth", item.key)


class LinkConfRealiser(NetlinkRealiser):
    """A link's state, alias and master, set in one request."""

    KIND = LinkConfItem.KIND

    def encode(self, run: Run, item: LinkConfItem, add: bool) -> Any:
        master = ifindex_of(item.master) if item.master else None
        return rtnl.link_set(ifindex_of(item.ifname), item.up and add, item.alias, master)

    def drift(self, item: LinkConfItem, states: States) -> list[Drift]:
        link = states[item.ns].links.get(item.ifname) if item.ns in states else None
        if link and (link["up"] != item.up or link["master"] != item.master):
            return [Drift(item.ns, "link", item.ifname, "different (state or master)", item.key)]
        return []

    def present(self, item: LinkConfItem, states: States) -> bool:
        """Its link is there (a missing one is the link's drift), as set."""
        return item.ns in states and item.ifname in states[item.ns].links and not self.drift(item, states)


class AddressRealiser(NetlinkRealiser):
    """IPv4 addresses."""

    KIND = AddressItem.KIND

    def encode(self, run: Run, item: AddressItem, add: bool) -> Any:
        address, _, plen = item.cidr.partition("/")
        return rtnl.addr(add, ifindex_of(item.ifname), address, int(plen))

    def drift(self, item: AddressItem, states: States) -> list[Drift]:
        if item.ns in states and (item.ifname, item.cidr) not in states[item.ns].addrs:
            return [Drift(item.ns, "address", f"{item.cidr} on {item.ifname}", "missing", item.key)]
        return []


class RouteRealiser(NetlinkRealiser):
    """Routes in any table, marked with our protocol."""

    KIND = RouteItem.KIND

    def encode(self, run: Run, item: RouteItem, add: bool) -> Any:
        oif = ifindex_of(item.ifname) if item.ifname else None
        return rtnl.route(add, item.dst, item.gateway, oif, item.onlink, item.type, item.table)

    def drift(self, item: RouteItem, states: States) -> list[Drift]:
        if item.ns not in states:
            return []
        reading = states[item.ns].routes.get((item.table, item.dst))
        name = item.dst if item.table == rtnl.RT_TABLE_MAIN else f"{item.dst} table {item.table}"
        if reading is None:
            return [Drift(item.ns, "route", name, "missing", item.key)]
        if not inventory.route_matches(item, reading):
            return [Drift(item.ns, "route", name, f"different (kernel: via {reading.gateway} dev {reading.dev})", item.key)]
        return []


class RuleRealiser(NetlinkRealiser):
    """Policy routing rules (`ip rule`), marked with our protocol."""

    KIND = RuleItem.KIND

    def encode(self, run: Run, item: RuleItem, add: bool) -> Any:
        return rtnl.rule(add, item.priority, item.table, item.fwmark, item.fwmask, item.iif)

    def drift(self, item: RuleItem, states: States) -> list[Drift]:
        if item.ns not in states:
            return []
        reading = states[item.ns].rules.get(item.priority)
        if reading is None:
            return [Drift(item.ns, "rule", item.describe(), "missing", item.key)]
        if not inventory.rule_matches(item, reading):
            return [Drift(item.ns, "rule", item.describe(), f"different (kernel: {reading.describe()})", item.key)]
        return []


class NftRealiser(OneByOneRealiser):
    """Each namespace's table in one nft transaction (a reload replaces it)."""

    KIND = NftItem.KIND
    ERRORS = (nft.NftError, OSError)

    def apply(self, run: Run, action: str, ops: list[Op], done: list[Op]) -> None:
        """libnftables waits on its socket with select(), which aborts the
        process when the fd number is 1024 or more: the netlink channels of
        a big lab are closed first so that its socket gets a low number."""
        run.close()
        super().apply(run, action, ops, done)

    def apply_one(self, run: Run, add: bool, item: NftItem) -> None:
        if add:
            nft.load(item.ns, item.ruleset, run.counters.get(item.ns))
            _count_flows(item.ns)
        elif netns.exists(item.ns):
            nft.remove(item.ns)
            # nothing of ours tracks connections here any more; entries that
            # NAT translated would make the next NAT chains loaded here wait
            # for the kernel to clean them (100 ms to 1 s; 1 ms without them)
            conntrack.flush(item.ns)

    def drift(self, item: NftItem, states: States) -> list[Drift]:
        """The table gone, or changed since vpclab's last load: the
        namespace's ruleset generation is not the one vpclab recorded
        (lab/nftgen.py: one netlink request, where reading the table costs
        a listing). Without a record (a lab loaded before the records), its
        counted entries not those of the plan (the comments name every
        entry), which misses a rule added beside them."""
        state = states.get(item.ns)
        if state is None:
            return []
        if not (state.table if state.table is not None else nft.exists(item.ns)):
            return [Drift(item.ns, "table", nft.TABLE, "missing", item.key)]
        changed = nftgen.changed(item.ns)
        if changed:
            return [Drift(item.ns, "table", nft.TABLE, "different (changed behind vpclab's back)", item.key)]
        if changed is None and not set(nft.read_counters(item.ns)) >= {c for c, _digest in item.counted}:
            return [Drift(item.ns, "table", nft.TABLE, "different (entries missing)", item.key)]
        return []

    def present(self, item: NftItem, states: States) -> bool:
        """The table is there; which version of it cannot be told, so an
        observed plan holds its first plan's version (lab/drift.py)."""
        return item.ns in states and states[item.ns].table is True


def _count_flows(ns: str) -> None:
    """Conntrack accounting (packets and bytes per flow) and timestamps (a
    flow's age) for `show flows`. The keys exist once nf_conntrack is
    loaded, which loading a table with `ct` expressions guarantees; hence
    here and not with the other sysctls."""
    try:
        netns.write_sysctls(ns, {"net.netfilter.nf_conntrack_acct": "1", "net.netfilter.nf_conntrack_timestamp": "1"})
    except OSError:
        pass


class ServiceDataRealiser(OneByOneRealiser):
    """A service's data file, replaced at once (its server reads it again)."""

    KIND = ServiceDataItem.KIND

    def apply_one(self, run: Run, add: bool, item: ServiceDataItem) -> None:
        if add:
            services.write_data(item.tag, item.data)
        else:
            services.remove_data(item.tag)

    def drift(self, item: ServiceDataItem, states: States) -> list[Drift]:
        held = services.read_data(item.tag)
        if held == item.data:
            return []
        return [Drift(item.ns, "service data", item.name, "missing" if held is None else "different", item.key)]


class ServiceRealiser(KindRealiser):
    """Service processes, all of a phase started (or stopped) at once; a
    service that is down is reported by the engine's health view."""

    KIND = ServiceItem.KIND

    def present(self, item: ServiceItem, states: States) -> bool:
        """Its process runs (`states` carries the lab's running markers)."""
        state = states.get(item.ns)
        return state is not None and state.services is not None and services.marker(item.tag) in state.services

    def apply(self, run: Run, action: str, ops: list[Op], done: list[Op]) -> None:
        for op in ops:
            run.check_fault(op, done)
        items = [op.item for op in ops if isinstance(op.item, ServiceItem)]
        try:
            if action == "add":
                services.start(items)
            else:
                services.stop(items)
        except OSError as exc:
            # started ones count as done so that undo stops them
            raise ApplyFailure(ops[0], exc, done + ops) from exc
        done.extend(ops)


REALISERS: dict[str, KindRealiser] = {
    r.KIND: r
    for r in (
        NetnsRealiser(), BridgeRealiser(), VethRealiser(), LinkConfRealiser(), AddressRealiser(),
        RouteRealiser(), RuleRealiser(), NftRealiser(), ServiceDataRealiser(), ServiceRealiser(),
    )
}  # fmt: skip


def realiser_of(item: PlanItem) -> KindRealiser:
    """The realiser of an item's kind."""
    return REALISERS[item.KIND]


def _link_drift(states: States, ns: str, ifname: str, kind: str, key: tuple[str, ...]) -> list[Drift]:
    st = states.get(ns)
    if st is None:
        return []
    link = st.links.get(ifname)
    if link is None:
        return [Drift(ns, "link", ifname, "missing", key)]
    if link["kind"] != kind:
        return [Drift(ns, "link", ifname, f"different (kind {link['kind']}, want {kind})", key)]
    return []
