"""The monitor's one door to the engine: snapshots of the running lab and its views.

Every other tui module takes its data from a `Source`, so the screens can
be driven by a real lab (`LabSource`, wired in by the program's entry
point) or by a fixed data set (the snapshot tests and the benchmark).
`LabSource` prefers the engine's thread-safe `LabReader` (`LabApi.reader`)
and, where the engine has no reader yet, adapts `LabApi`'s own views under
one lock (a `Session` re-reads the running state lazily and is not meant
for two threads at once).
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

Row = dict[str, Any]


def paused_gc() -> AbstractContextManager[None]:
    """The engine's counted pause of the cyclic garbage collector, for a
    poll's worker: a poll builds 100,000 row dicts and tuples, and every
    full collection would walk all of them (it doubled the time of a Flows
    refresh). Reference counting still frees each reading."""
    from engine.session import gc_paused

    return gc_paused()


@dataclass(frozen=True)
class Snapshot:
    """The running state a poll reads against: commit `number` of `lab`.

    `config` is the engine's running Config (None for sources without one);
    `state` is whatever the source needs to answer views for exactly this
    commit (the engine's RunningSnapshot when it has a reader)."""

    lab: str
    number: int
    taken: float
    config: Any = None
    state: Any = field(default=None, compare=False, repr=False)


class Source(Protocol):
    """What the screens read. All calls run in worker threads."""

    lab: str

    def snapshot(self) -> Snapshot:
        """The running commit now; cheap when nothing was committed since."""

    def flows(self, snap: Snapshot, **filters: Any) -> list[Row]:
        """`show flows` rows (CLI.md's fields), filtered as `show flows` filters."""

    def routes(self, snap: Snapshot, **filters: Any) -> list[Row]:
        """`show ip route` rows."""

    def policy_hits(self, snap: Snapshot, scope: str | None = None, name: str | None = None) -> list[Row]:
        """`show policy hits` rows."""

    def topology(self, snap: Snapshot) -> list[Row]:
        """Tree rows `{id, parent, kind, name, detail}`, parents before children."""

    def groups(self, snap: Snapshot) -> list[Row]:
        """`show groups` rows: `{group, segment, prefixes, ...}`."""

    def share_traffic(self, snap: Snapshot) -> list[Row]:
        """Per share: `{share, a_to_b, b_to_a}` bytes on its link since the last clear."""

    def clear_counters(self, scope: str | None = None, name: str | None = None) -> int:
        """`clear counters [scope name]`; how many tables were reset."""

    def trace(self, snap: Snapshot, flow: Row) -> Row | None:
        """The model's trace of a flow's 5-tuple (CLI.md's shape), None when the
        engine has no `trace` yet."""


class LabSource:
    """A `Source` over a real lab's `LabApi` (engine.api)."""

    def __init__(self, api: Any):
        self.api = api
        self.lab: str = api.name
        self._lock = threading.RLock()
        self._reader = getattr(api, "reader", None)

    # snapshots -------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The running commit, through the reader when the engine has one."""
        if self._reader is not None:
            snap = self._reader.snapshot()
            return Snapshot(snap.lab, snap.number, snap.taken, snap.config, snap)
        with self._lock:
            return Snapshot(self.lab, self.api.session.number, time.time(), self.api.running)

    # views -------------------------------------------------------------------------

    def flows(self, snap: Snapshot, **filters: Any) -> list[Row]:
        """`show flows` rows."""
        if self._reader is not None:
            return list(self._reader.flows(snap.state, **filters))
        with self._lock:
            return list(self.api.flows(**filters))

    def routes(self, snap: Snapshot, **filters: Any) -> list[Row]:
        """`show ip route` rows."""
        if self._reader is not None:
            return list(self._reader.routes(snap.state, **filters))
        with self._lock:
            return list(self.api.routes(**filters))

    def policy_hits(self, snap: Snapshot, scope: str | None = None, name: str | None = None) -> list[Row]:
        """`show policy hits` rows."""
        if self._reader is not None:
            return list(self._reader.policy_hits(snap.state, scope=scope, name=name))
        with self._lock:
            return list(self.api.policy_hits(scope, name))

    def topology(self, snap: Snapshot) -> list[Row]:
        """The lab as a tree (the reader's, else built here from the running config)."""
        if self._reader is not None and hasattr(self._reader, "topology"):
            return list(self._reader.topology(snap.state))
        return topology_rows(snap.config)

    def groups(self, snap: Snapshot) -> list[Row]:
        """`show groups` rows of this commit."""
        from engine.views import group_rows

        return group_rows(snap.config) if snap.config is not None else []

    def share_traffic(self, snap: Snapshot) -> list[Row]:
        """Bytes each way on every share's link (`show share NAME statistics`)."""
        out = []
        with self._lock:
            for share in snap.config.shares if snap.config is not None else ():
                try:
                    stats = self.api.share_statistics(share.name)
                except Exception:  # noqa: BLE001 - removed by a commit since the snapshot
                    continue
                if len(stats) >= 2:
                    out.append({"share": share.name, "a_to_b": stats[0]["bytes"], "b_to_a": stats[1]["bytes"],
                                "end_a": share.end_a.segment if share.end_a else None,
                                "end_b": share.end_b.segment if share.end_b else None})
        return out

    def clear_counters(self, scope: str | None = None, name: str | None = None) -> int:
        """`clear counters`, under the engine's commit lock."""
        with self._lock:
            return int(self.api.clear_counters(scope, name))

    def trace(self, snap: Snapshot, flow: Row) -> Row | None:
        """The engine's `trace` of this flow's 5-tuple, when the engine has one."""
        tracer = getattr(self._reader, "trace", None) or getattr(self.api, "trace", None)
        host = host_of(snap.config, flow.get("segment"), flow.get("src"))
        if tracer is None or host is None:
            return None
        with self._lock:
            result = tracer(flow["dst"], host, protocol=flow.get("protocol"), port=flow.get("dport"))
        return result if isinstance(result, dict) else getattr(result, "__dict__", None)

    @property
    def has_trace(self) -> bool:
        """True when the engine can trace (issue 11)."""
        return hasattr(self._reader, "trace") or hasattr(self.api, "trace")


def host_of(config: Any, segment: str | None, address: str | None) -> str | None:
    """The host holding `address` in `segment` (addresses overlap across tenants)."""
    if config is None:
        return None
    return next((h.name for v, h in config.hosts() if v.segment == segment and h.address == address), None)


def topology_rows(config: Any) -> list[Row]:
    """Tree rows of a running Config: hubs, then on each hub its segments,
    VPCs, subnets and hosts, shares, firewalls, internet edges and endpoint
    services. Used until the engine's reader gives `topology` itself."""
    if config is None:
        return []
    return list(_tree(config))


def _tree(config: Any) -> Iterator[Row]:
    def row(id: str, parent: str | None, kind: str, name: str, detail: str = "") -> Row:
        return {"id": id, "parent": parent, "kind": kind, "name": name, "detail": detail}

    for cxp in config.objects("cxp"):
        yield row(f"cxp {cxp.name}", None, "cxp", cxp.name, " ".join(x for x in (cxp.cloud, cxp.region) if x))
    placed = {(v.segment, v.cxp) for v in config.vpcs if v.segment}
    for seg in config.segments:
        hubs = sorted(c for s, c in placed if s == seg.name) or ["core"]
        for cxp in hubs:
            detail = f"{len(seg.policies)} policy entries, default {seg.default_action}" if seg.policies else ""
            yield row(f"segment {seg.name}@{cxp}", f"cxp {cxp}", "segment", seg.name, detail)
    for vpc in config.vpcs:
        parent = f"segment {vpc.segment}@{vpc.cxp}" if vpc.segment else f"cxp {vpc.cxp}"
        yield row(f"vpc {vpc.name}", parent, "vpc", vpc.name, " ".join(vpc.cidrs))
        for sn in vpc.subnets:
            yield row(f"subnet {vpc.name}/{sn.name}", f"vpc {vpc.name}", "subnet", sn.name, sn.prefix)
        for host in vpc.hosts:
            yield row(f"host {host.name}", f"subnet {vpc.name}/{_subnet_of(vpc, host)}", "host", host.name, host.address)
    for share in config.shares:
        a, b = (share.end_a.segment if share.end_a else "?"), (share.end_b.segment if share.end_b else "?")
        hub = next((c for s, c in sorted(placed) if s == a), "core")
        yield row(f"share {share.name}", f"cxp {hub}", "share", share.name, f"{a} <-> {b} ({share.direction})")
    for fw in config.firewalls:
        yield row(f"firewall {fw.name}", f"cxp {fw.cxp}", "firewall", fw.name, f"{fw.instances} instance(s)")
    for edge in config.internets:
        yield row(f"internet {edge.name}", f"cxp {edge.cxp}", "internet", edge.name, edge.snat_address or "")
    for svc in config.endpoint_services:
        yield row(f"endpoint {svc.name}", f"cxp {svc.cxp}", "endpoint-service", svc.name, svc.kind)


def _subnet_of(vpc: Any, host: Any) -> str:
    if host.subnet:
        return str(host.subnet)
    addr = ipaddress.ip_address(host.address)
    return next((sn.name for sn in vpc.subnets if addr in ipaddress.ip_network(sn.prefix)), vpc.subnets[0].name if vpc.subnets else "")
