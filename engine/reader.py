"""The read side of a lab, for monitors and views: immutable snapshots of the
running state, and the rows of the views computed from one snapshot.

A monitor polls from worker threads while a shell (maybe another process)
commits. So a reader holds no candidate and changes nothing: `snapshot()`
returns the running configuration, its number and its compiled plan as one
frozen object that any number of threads may share; each view takes the
snapshot it should describe, so the rows of one poll agree with each other
even if a commit lands in between. A snapshot is re-read only when the
lab's running state changed (one stat otherwise).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from engine import edge_views, endpoints, flows, hits, tree, views
from engine.compile import compile_plan
from engine.compile.cache import CompileCache
from engine.compile.topology import fabric_of
from engine.datapath import model_of
from engine.errors import NotFoundError, VpclabError
from engine.flows import FlowView
from engine.inspection import Layout, layout_of
from engine.memo import derived
from engine.model import Config
from engine.origin import SCOPES
from engine.plan import Plan
from engine.ports import Drift, Fabric
from engine.store import LabStore, Version

KNOWN = {**{scope: kind for scope, kind in SCOPES.items() if kind}, "cxp": "cxp", "vpc": "vpc"}  # filter word -> config kind


def require_known(config: Config, scope: str | None, name: str | None) -> None:
    """NotFoundError when a view's filter (`segment NAME`, `share NAME`, ...)
    names an object the configuration lacks."""
    kind = KNOWN.get(scope or "")
    if kind and name and config.get(kind, name) is None:
        raise NotFoundError(f"{kind} {name} does not exist in the running configuration")


@dataclass(frozen=True)
class RunningSnapshot:
    """The running state of a lab at one moment."""

    lab: str
    number: int  # running commit number (0: nothing committed yet)
    config: Config
    plan: Plan
    taken: float  # time.time() when it was read
    version: Version = (0, 0, 0)  # the store's version it was read at (engine/store.py)


class LabReader:
    """The read side of one lab for monitors and views: thread-safe, holds no candidate.

    Its views call the Fabric's read methods from whatever threads call
    them; LinuxFabric's are safe so (each joins a namespace in the calling
    thread under lab/netns.py's lock, and a namespace a commit removes
    meanwhile is left out of the reading)."""

    def __init__(self, name: str, fabric: Fabric, store: LabStore | None = None, cache: CompileCache | None = None):
        self.name = name
        self.fabric = fabric
        self.store = store or LabStore(name)
        self.cache = cache if cache is not None else CompileCache()
        self._lock = threading.Lock()
        self._latest: tuple[Version, RunningSnapshot] | None = None  # (store version, snapshot)

    # snapshots -----------------------------------------------------------------

    def snapshot(self) -> RunningSnapshot:
        """The running state now: the last snapshot when nothing was committed
        since (one stat), else the store read again and compiled (one thread
        does that; the others wait for its result)."""
        version = self.store.version()
        latest = self._latest
        if latest is not None and latest[0] == version:
            return latest[1]
        with self._lock:
            latest = self._latest
            if latest is not None and latest[0] == version:
                return latest[1]
            number, config = self.store.load_running()
            plan = latest[1].plan if latest is not None and latest[1].config == config else compile_plan(self.name, config, self.cache)
            # the version read before the file: a commit in between only costs one more read
            snap = RunningSnapshot(self.name, number, config, plan, time.time(), version)
            self._latest = (version, snap)
            return snap

    def adopt(self, version: Version, number: int, config: Config, plan: Plan) -> None:
        """Take a running state its committer just compiled (a Session in
        this process): the next snapshot needs no read and no compile."""
        with self._lock:
            if self._latest is None or self._latest[0] != version:
                self._latest = (version, RunningSnapshot(self.name, number, config, plan, time.time(), version))

    # views ---------------------------------------------------------------------

    def routes(self, snap: RunningSnapshot, **filters: Any) -> list[dict[str, Any]]:
        """`show ip route` rows (filters: segment, cxp, vpc, prefix), checked against the kernel."""
        for kind in ("segment", "cxp", "vpc"):
            require_known(snap.config, kind, filters.get(kind))
        readings = self.fabric.read_routes(snap.plan, views.route_namespaces(snap.plan))
        return views.route_rows(snap.config, snap.plan, readings, filters.get("segment"), filters.get("cxp"),
                                filters.get("vpc"), filters.get("prefix"))  # fmt: skip

    def flows(self, snap: RunningSnapshot, **filters: Any) -> list[dict[str, Any]]:
        """`show flows` rows: one per connection, stitched across the routers
        it crossed (filters: segment, vpc, share, firewall, host, protocol,
        port, address, sort, top)."""
        return self.flow_view(snap, **filters).rows()

    def flow_view(self, snap: RunningSnapshot, **filters: Any) -> FlowView:
        """The connections of `show flows` before their rows are made: text
        columns for 100,000 of them without building their dicts."""
        for kind in ("segment", "vpc", "share", "firewall"):
            require_known(snap.config, kind, filters.get(kind))
        host = filters.get("host")
        public = next((p.address for i in snap.config.internets for p in i.public_hosts if p.name == host), None)
        if host and public:
            # a public host has no segment of its own: its flows are those with its address on either side
            if filters.get("address") not in (None, public):
                raise VpclabError(f"host {host} is a public host, its flows are those of address {public}: "
                                  f"give 'host {host}' or 'address {filters['address']}', not both")
            filters = {**filters, "host": None, "address": public}
        elif host and not any(h.name == host for _v, h in snap.config.hosts()):
            raise NotFoundError(f"host {host} does not exist in the running configuration (as a tenant host or an internet's public host)")
        model = model_of(self.name, snap.config, snap.plan)
        return flows.FlowView(model, self.fabric.read_flows(flows.flow_namespaces(snap.plan)), time.time(), **filters)

    def endpoints(self, snap: RunningSnapshot) -> list[dict[str, Any]]:
        """`show endpoints`: each endpoint, who reaches it, its connections."""
        spaces = endpoints.router_namespaces(self.name, snap.config)
        return endpoints.endpoint_rows(self.name, snap.config, self.fabric.read_flows(spaces) if spaces else {})

    def policy_hits(self, snap: RunningSnapshot, scope: str | None = None, name: str | None = None, nonzero: bool = False) -> list[dict[str, Any]]:
        """`show policy hits`: counters per entry, summed over every router enforcing it."""
        require_known(snap.config, scope, name)
        counts = self.fabric.read_counters(hits.enforcing(snap.plan, scope, name))
        return hits.rows(snap.config, hits.collect(counts), scope, name, nonzero)

    def health(self, snap: RunningSnapshot) -> views.Health:
        """`show lab health`: the kernel against the plan, and services down.
        A commit that lands while the kernel is read makes the reading
        disagree with `snap` (namespaces it removed look missing), so the
        kernel is then judged again against the new running state (a few
        times at most): health is never drift that is not there."""
        for _ in range(3):
            down = [Drift(key.split("/")[0], "service", key.split("/", 1)[1], "down (the next commit or `repair` restarts it)",
                          ("svc", key.split("/")[0], key.split("/", 1)[1]))
                    for key, pid in self.fabric.service_status(snap.plan).items() if pid is None]  # fmt: skip
            health = views.Health(self.fabric.drift(snap.plan) + down, views.lab_summary(snap.plan))
            if health.ok or snap.version == (0, 0, 0) or self.store.version() == snap.version:
                return health
            snap = self.snapshot()
        return health

    def layout(self, snap: RunningSnapshot) -> Layout:
        """Where the snapshot's firewalls and internet edges sit (computed once per snapshot)."""
        return derived(snap, "_layout", lambda: layout_of(self.name, snap.config, fabric_of(self.name, snap.config)))

    def firewalls(self, snap: RunningSnapshot) -> list[dict[str, Any]]:
        """`show firewalls`."""
        return edge_views.firewall_rows(snap.config, self.layout(snap))

    def firewall(self, snap: RunningSnapshot, name: str) -> dict[str, Any]:
        """`show firewall NAME`, with the connections each instance holds now."""
        require_known(snap.config, "firewall", name)
        layout = self.layout(snap)
        spaces = [i.ns for i in layout.instances.get(name, ())]
        held = {ns: len(rows) for ns, rows in self.fabric.read_flows(spaces).items()}
        return edge_views.firewall_detail(snap.config, layout, snap.config.require("firewall", name), held)  # type: ignore[arg-type]

    def internet(self, snap: RunningSnapshot) -> dict[str, list[dict[str, Any]]]:
        """`show internet`."""
        return edge_views.internet_rows(snap.config, self.layout(snap))

    def services(self, snap: RunningSnapshot) -> list[dict[str, Any]]:
        """`show services`: each service with its state, address and process."""
        return views.service_rows(snap.config, snap.plan, self.fabric.service_status(snap.plan))

    def topology(self, snap: RunningSnapshot) -> list[dict[str, Any]]:
        """The lab as a tree, parents before children: rows {id, parent,
        kind, name, detail} (engine/topology.py)."""
        return tree.tree_rows(self.name, snap.config)
