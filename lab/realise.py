"""Apply ordered plan operations to the kernel, batched per namespace.

Operations arrive ordered by kind (engine/diff.py). Consecutive operations
of one action and kind form a phase; inside a phase every namespace gets
one batch of netlink requests on its own socket. Each request is acked on
its own, so when something fails we know exactly which operations took
effect: `ApplyFailure.done` lists them, and the caller undoes just those.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable
from typing import Any

from engine.diff import Op
from engine.plan import (
    AddressItem,
    LinkConfItem,
    NetnsItem,
    NftItem,
    RouteItem,
    VethItem,
    ifindex_of,
)
from lab import netns, nft, rtnl, services

FaultHook = Callable[[Op], None]


class ApplyFailure(Exception):
    """Applying stopped at `op`; `done` took effect, nothing after it did."""

    def __init__(self, op: Op | None, error: BaseException, done: list[Op]):
        super().__init__(f"{op.action if op else ''} {op.item if op else ''}: {error}")
        self.op = op
        self.error = error
        self.done = done


class Realiser:
    """Holds one rtnetlink channel and one fd per namespace for one apply."""

    def __init__(self, fault: FaultHook | None = None, counters: dict[str, dict[str, list[int]]] | None = None):
        self._channels: dict[str, rtnl.Channel] = {}
        self._fds: dict[str, int] = {}
        self._fault = fault
        self._counters = counters or {}  # per namespace: carried into reloaded tables

    def close(self) -> None:
        """Release every socket and fd."""
        for ch in self._channels.values():
            ch.close()
        for fd in self._fds.values():
            os.close(fd)
        self._channels.clear()
        self._fds.clear()

    def channel(self, ns: str) -> rtnl.Channel:
        """The (cached) rtnetlink channel of a namespace."""
        ch = self._channels.get(ns)
        if ch is None:
            ch = self._channels[ns] = rtnl.Channel(ns)
        return ch

    def fd(self, ns: str) -> int:
        """A (cached) fd of a namespace, for placing veth peers into it."""
        fd = self._fds.get(ns)
        if fd is None:
            fd = self._fds[ns] = netns.open_fd(ns)
        return fd

    def _forget(self, ns: str) -> None:
        ch = self._channels.pop(ns, None)
        if ch:
            ch.close()
        fd = self._fds.pop(ns, None)
        if fd is not None:
            os.close(fd)

    # ------------------------------------------------------------------------

    def run(self, ops: list[Op]) -> list[Op]:
        """Apply `ops` in order; raises ApplyFailure with what was done."""
        done: list[Op] = []
        for (action, kind), phase in itertools.groupby(ops, key=lambda o: (o.action, o.kind)):
            batch = list(phase)
            try:
                self._phase(action, kind, batch, done)
            except ApplyFailure:
                raise
            except Exception as exc:  # anything unforeseen still gets the exact undo
                raise ApplyFailure(batch[0], exc, done) from exc
        return done

    def _phase(self, action: str, kind: str, batch: list[Op], done: list[Op]) -> None:
        if kind == "ns":
            self._namespaces(action, batch, done)
        elif kind == "nft":
            self._tables(action, batch, done)
        elif kind == "svc":
            self._services(action, batch, done)
        else:
            self._netlink_phase(batch, done)

    def _check_fault(self, op: Op, done: list[Op]) -> None:
        if self._fault is not None:
            try:
                self._fault(op)
            except Exception as exc:  # an injected failure, for tests
                raise ApplyFailure(op, exc, done) from exc

    def _namespaces(self, action: str, ops: list[Op], done: list[Op]) -> None:
        for op in ops:
            self._check_fault(op, done)
            item = op.item
            assert isinstance(item, NetnsItem)
            try:
                if action == "add":
                    netns.create(item.ns)
                    netns.write_sysctls(item.ns, dict(item.sysctls))
                else:
                    self._forget(item.ns)
                    netns.delete(item.ns)
            except OSError as exc:
                if action == "add" and netns.exists(item.ns):
                    done.append(op)  # created, but its sysctls failed: undo must remove it
                raise ApplyFailure(op, exc, done) from exc
            done.append(op)

    def _tables(self, action: str, ops: list[Op], done: list[Op]) -> None:
        """Each namespace's table in one nft transaction (a reload replaces it).

        libnftables waits on its socket with select(), which aborts the
        process when the fd number is 1024 or more: the netlink channels of
        a big lab are closed first so that its socket gets a low number."""
        self.close()
        for op in ops:
            self._check_fault(op, done)
            item = op.item
            assert isinstance(item, NftItem)
            try:
                if action == "add":
                    nft.load(item.ns, item.ruleset, self._counters.get(item.ns))
                    _count_flows(item.ns)
                elif netns.exists(item.ns):
                    nft.remove(item.ns)
            except (nft.NftError, OSError) as exc:
                raise ApplyFailure(op, exc, done) from exc
            done.append(op)

    def _services(self, action: str, ops: list[Op], done: list[Op]) -> None:
        """Start (or restart) or stop service processes, all of a phase at once."""
        for op in ops:
            self._check_fault(op, done)
        items = [op.item for op in ops]
        try:
            if action == "add":
                services.start(items)  # type: ignore[arg-type]
            else:
                services.stop(items)  # type: ignore[arg-type]
        except OSError as exc:
            # started ones count as done so that undo stops them
            raise ApplyFailure(ops[0], exc, done + ops) from exc
        done.extend(ops)

    def _netlink_phase(self, ops: list[Op], done: list[Op]) -> None:
        by_ns: dict[str, list[rtnl.Request]] = {}
        try:
            for op in ops:
                self._check_fault(op, done)
                by_ns.setdefault(op.item.ns, []).append(rtnl.Request(op, self._encode(op)))
        except ApplyFailure:
            self._send_all(by_ns, done)
            raise
        self._send_all(by_ns, done)

    def _send_all(self, by_ns: dict[str, list[rtnl.Request]], done: list[Op]) -> None:
        failure: rtnl.NetlinkError | None = None
        for ns, requests in by_ns.items():
            ok, err = self.channel(ns).execute(requests)
            done.extend(ok)
            failure = failure or err
        if failure is not None:
            raise ApplyFailure(failure.tag, failure, done)

    def _encode(self, op: Op) -> Any:
        item, add = op.item, op.action == "add"
        if isinstance(item, VethItem):
            if add:
                return rtnl.veth_add(
                    ifindex_of(item.ifname), item.ifname, ifindex_of(item.peer_ifname), item.peer_ifname, self.fd(item.peer_ns)
                )
            return rtnl.link_del(ifindex_of(item.ifname))
        if isinstance(item, LinkConfItem):
            master = ifindex_of(item.master) if item.master else None
            return rtnl.link_set(ifindex_of(item.ifname), item.up and add, item.alias, master)
        if isinstance(item, AddressItem):
            address, _, plen = item.cidr.partition("/")
            return rtnl.addr(add, ifindex_of(item.ifname), address, int(plen))
        if isinstance(item, RouteItem):
            oif = ifindex_of(item.ifname) if item.ifname else None
            return rtnl.route(add, item.dst, item.gateway, oif, item.onlink, item.type)
        # BridgeItem
        if add:
            return rtnl.bridge_add(ifindex_of(item.ifname), item.ifname)  # type: ignore[union-attr]
        return rtnl.link_del(ifindex_of(item.ifname))  # type: ignore[union-attr]


def _count_flows(ns: str) -> None:
    """Conntrack accounting (packets and bytes per flow) for `show flows`.
    The key exists once nf_conntrack is loaded, which loading a table with
    `ct` expressions guarantees; hence here and not with the other sysctls."""
    try:
        netns.write_sysctls(ns, {"net.netfilter.nf_conntrack_acct": "1"})
    except OSError:
        pass


def apply_ops(ops: Iterable[Op], fault: FaultHook | None = None, counters: dict[str, dict[str, list[int]]] | None = None) -> list[Op]:
    """Apply operations with a fresh Realiser; raises ApplyFailure."""
    realiser = Realiser(fault, counters)
    try:
        return realiser.run(list(ops))
    finally:
        realiser.close()
