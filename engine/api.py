"""The facade that shells, batch runs and the monitor use.

One `LabApi` per (process, lab). It holds the candidate of this process's
configuration session; the running configuration, history and lock live in
the lab's state directory and are shared by every process attached to the
lab. Its views of the running lab go through its `reader` (engine/reader.py,
which monitors use directly), so there is one code path and reading never
touches the candidate. Nothing here knows Linux: the realisation comes in
through the `Fabric` port (engine/ports.py), which the program's entry point
wires to lab/ (or, for pure tests, to a recording fabric).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine import flows, hits, views
from engine.addressing import parse_address
from engine.compile.cache import CompileCache
from engine.errors import NotFoundError, VpclabError
from engine.flows import FlowView
from engine.merge import Merged
from engine.model import Config, Host, PublicHost, Vpc
from engine.ports import Destroyed, Fabric, OutputSink, ProbeResult
from engine.reader import LabReader, require_known
from engine.session import CommitRecord, CommitResult, PlanChanges, Session, Watcher
from engine.store import LabStore, list_lab_names
from engine.validate import validate


@dataclass(frozen=True)
class Target:
    """What a TARGET token of ping/assert/trace resolved to."""

    address: str
    host: Host | None  # set when TARGET named a host
    vpc: Vpc | None
    public: PublicHost | None = None  # set when TARGET named a public host of an internet edge


class LabApi:
    """Everything a user can do to one lab, as Python calls."""

    def __init__(
        self, name: str, fabric: Fabric, store: LabStore | None = None, watcher: Watcher | None = None,
        cache: CompileCache | None = None, pause_gc: bool = True,
    ) -> None:  # fmt: skip
        self.name = name
        self.fabric = fabric
        self.cache = cache if cache is not None else CompileCache()  # the session's and the reader's compiles share memos
        self.session = Session(name, fabric, store or LabStore(name), watcher, self.cache, pause_gc)
        self.reader = LabReader(name, fabric, self.session.store, self.cache)
        self.session.on_running = self.reader.adopt

    # configuration session ---------------------------------------------------

    @property
    def candidate(self) -> Config:
        """This process's candidate configuration."""
        return self.session.candidate

    @property
    def running(self) -> Config:
        """The committed configuration (re-read if another process committed)."""
        return self.session.running

    def set_candidate(self, config: Config) -> None:
        """Replace the candidate (the shell edits by building new Configs)."""
        self.session.candidate = config

    def abort(self) -> None:
        """Drop the candidate's changes."""
        self.session.abort()

    def recover(self) -> list[str]:
        """On attach: bring the lab back after a commit whose process died
        half way, and say so (no lines when there was none)."""
        return self.session.recover()

    def update(self) -> tuple[int, Merged | None]:
        """Merge the running configuration (another session's commit) into
        this candidate's changes: (the commit they started from, the merge),
        or (running, None) when there was nothing to merge."""
        return self.session.update()

    def validate(self, config: Config | None = None) -> list[Any]:
        """Every diagnostic of `config` (default: the candidate)."""
        return validate(config if config is not None else self.candidate, self.running)

    def commit(self, comment: str | None = None, confirmed: int | None = None) -> CommitResult:
        """Validate, diff and apply the candidate; raises VpclabError."""
        return self.session.commit(comment=comment, confirmed=confirmed)

    def commit_check(self) -> PlanChanges:
        """Validate and compute the changes, applying nothing."""
        return self.session.check()

    def rollback(self, n: int = 1) -> CommitResult:
        """Make the configuration of `n` commits ago running, as a new commit."""
        return self.session.rollback(n)

    def rollback_to(self, number: int) -> CommitResult:
        """Make the configuration of commit `number` running, as a new commit."""
        return self.session.rollback_to(number)

    def history(self) -> list[CommitRecord]:
        """Commits, newest first."""
        return self.session.history()

    def pending_confirmation(self) -> tuple[int, float] | None:
        """(number, deadline) of the confirmed commit waiting for its confirmation."""
        return self.session.pending_confirmation()

    def commit_number(self) -> int:
        """The running commit's number (re-read if another process committed)."""
        return self.session.number

    def exists(self) -> bool:
        """True when the lab has state on this host."""
        return self.session.store.dir.is_dir()

    def has_changes(self) -> bool:
        """True when the candidate differs from running."""
        return self.session.candidate != self.session.running

    # views -------------------------------------------------------------------

    def routes(
        self,
        segment: str | None = None,
        cxp: str | None = None,
        vpc: str | None = None,
        prefix: str | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of `show ip route` (CLI.md's JSON fields), checked against the kernel."""
        return self.reader.routes(self.reader.snapshot(), segment=segment, cxp=cxp, vpc=vpc, prefix=prefix)

    def health(self) -> views.Health:
        """Compare the kernel with the running plan (drift report)."""
        return self.reader.health(self.reader.snapshot())

    def policy_hits(self, scope: str | None = None, name: str | None = None, nonzero: bool = False) -> list[dict[str, Any]]:
        """`show policy hits`: counters per entry, summed over where it is enforced."""
        return self.reader.policy_hits(self.reader.snapshot(), scope, name, nonzero)

    def clear_counters(self, scope: str | None = None, name: str | None = None) -> int:
        """Zero policy counters (of one segment or share, or all) and, for shares,
        the link statistics; how many tables. Under the commit lock, so a
        concurrent commit's new table is never replaced by an old one."""
        require_known(self.running, scope, name)
        with self.session.store.lock():
            plan = self.session.running_plan()
            spaces = hits.enforcing(plan, scope, name)
            self.fabric.reset_counters(plan, spaces, hits.in_scope(scope, name))
            if scope in (None, "share"):
                self._set_link_baseline([name] if name else [s.name for s in self.running.shares])
        return len(spaces)

    def flows(self, **filters: Any) -> list[dict[str, Any]]:
        """`show flows`: one row per connection, stitched across the routers it crossed."""
        return self.flow_view(**filters).rows()

    def flow_view(self, **filters: Any) -> FlowView:
        """`show flows` before its rows are made: text columns for 100,000
        connections without building their dicts (engine/flows.py)."""
        return self.reader.flow_view(self.reader.snapshot(), **filters)

    def clear_flows(self) -> int:
        """`clear flows`: forget every tracked connection of the segment routers."""
        spaces = [ns for ns in self.reader.snapshot().plan.namespaces() if flows.router_of(self.name, ns)]
        self.fabric.clear_flows(spaces)
        return len(spaces)

    def firewalls(self) -> list[dict[str, Any]]:
        """`show firewalls`."""
        return self.reader.firewalls(self.reader.snapshot())

    def firewall(self, name: str) -> dict[str, Any]:
        """`show firewall NAME`."""
        return self.reader.firewall(self.reader.snapshot(), name)

    def internet(self) -> dict[str, list[dict[str, Any]]]:
        """`show internet`."""
        return self.reader.internet(self.reader.snapshot())

    def endpoints(self) -> list[dict[str, Any]]:
        """`show endpoints`: each endpoint with who reaches it and its connections."""
        return self.reader.endpoints(self.reader.snapshot())

    def services(self) -> list[dict[str, Any]]:
        """`show services`: each service with state (running/down), address, PID."""
        return self.reader.services(self.reader.snapshot())

    def topology(self) -> list[dict[str, Any]]:
        """The lab as a tree (engine/tree.py)."""
        return self.reader.topology(self.reader.snapshot())

    def groups(self) -> list[dict[str, Any]]:
        """`show groups`."""
        return views.group_rows(self.running)

    def share(self, name: str) -> dict[str, Any]:
        """`show share NAME`."""
        require_known(self.running, "share", name)
        return views.share_detail(self.running, name)

    def _share_link(self, name: str) -> tuple[str, list[str]] | None:
        """(namespace, interfaces) of a share's link at end-a's router: its
        one veth, or the legs of its wire through a firewall's instances."""
        from engine.compile.firewall import share_legs
        from engine.compile.shares import share_if
        from engine.compile.topology import share_link_hub, vpc_hubs

        share = self.running.get("resource-share", name)
        if share is None or not (share.end_a and share.end_b):
            return None
        hub = share_link_hub(self.running, share, vpc_hubs(self.running))
        legs = share_legs(self.reader.layout(self.reader.snapshot())).get(name)
        names = [leg for leg, _gateway in legs[0]] if legs else [share_if(name)]
        return views.segment_router_ns(self.name, share.end_a.segment, hub), names

    def _link_counts(self, name: str) -> dict[str, int]:
        where = self._share_link(name)
        if where is None:
            return {}
        links = self.fabric.link_counters(where[0])
        out: dict[str, int] = {}
        for leg in where[1]:
            for key, value in links.get(leg, {}).items():
                out[key] = out.get(key, 0) + value
        return out

    def _set_link_baseline(self, names: list[str]) -> None:
        """`clear counters` for share links: the kernel's link statistics cannot
        be reset, so the current values become the zero of `show share ... statistics`."""
        marks = self.session.store.marker("share-baseline") or {}
        for name in names:
            marks[name] = self._link_counts(name)
        self.session.store.set_marker("share-baseline", marks)

    def share_statistics(self, name: str) -> list[dict[str, Any]]:
        """`show share NAME statistics`: packets and bytes each way on the share's
        link, read at end-a's router (what it sends goes to end-b), since the
        last `clear counters`, and the refused new connections of a one-way share."""
        require_known(self.running, "share", name)
        share = self.running.require("resource-share", name)
        if self._share_link(name) is None:
            return []
        c = dict(self._link_counts(name))
        base = (self.session.store.marker("share-baseline") or {}).get(name) or {}
        if all(c.get(k, 0) >= v for k, v in base.items()):  # else the link was recreated since
            c = {k: v - base.get(k, 0) for k, v in c.items()}
        refused = next((r for r in self.policy_hits("share", name)), None)
        return [
            {"direction": f"end-a ({share.end_a.segment}) -> end-b ({share.end_b.segment})", "packets": c.get("tx_packets", 0), "bytes": c.get("tx_bytes", 0)},
            {"direction": f"end-b ({share.end_b.segment}) -> end-a ({share.end_a.segment})", "packets": c.get("rx_packets", 0), "bytes": c.get("rx_bytes", 0)},
            *([{"direction": f"refused: {refused['match']}", "packets": refused["packets"], "bytes": refused["bytes"]}] if refused else []),
        ]

    def log(self, count: int = 20) -> list[str]:
        """`show log [N]`: the newest lines written by `log` policy entries."""
        return [line.rstrip("\n") for line in self.fabric.read_log(count)]

    # diagnostics -------------------------------------------------------------

    def resolve_target(self, target: str) -> Target:
        """A host name (a lab host or a public host) or an address, as ping/assert/trace take it."""
        for vpc, host in self.running.hosts():
            if host.name == target:
                return Target(host.address, host, vpc)
        public = views.public_host(self.running, target)
        if public is not None:
            return Target(public.address, None, None, public)
        if target and target[0].isdigit():
            return Target(target, None, None)
        raise NotFoundError(f"host {target} does not exist (use a host name or an address)")

    def host_behind(self, from_host: str, address: str) -> Host | PublicHost | None:
        """The host that `address` means as seen from `from_host`: one of its
        own segment, or, through a share's (translated) import, one of the
        offering segment. With it, a probe to a bare address can confirm
        delivery (UDP) at the right host even behind NAT."""
        from engine.shares import end_of, imports

        config = self.running
        src = next((v for v, h in config.hosts() if h.name == from_host), None)
        addr = parse_address(address)
        if src is None or addr is None:
            return None
        public = views.public_host_at(config, src.segment, address)
        if public is not None:
            return public  # a public host its edge lets this segment reach
        wanted = [(src.segment, address)]
        for imp in imports(config):
            if imp.segment == src.segment and addr in imp.offer.seen:
                original = imp.offer.original.network_address + (int(addr) - int(imp.offer.seen.network_address))
                side = end_of(config.require("resource-share", imp.share), imp.end)
                if side is not None:
                    wanted.append((side.segment, str(original)))
        for segment, target in wanted:
            found = next((h for v, h in config.hosts() if v.segment == segment and h.address == target), None)
            if found is not None:
                return found
        return None

    def host_namespace(self, host: str) -> str:
        """The namespace of a running host (a lab host or a public host), or NotFoundError."""
        for _vpc, h in self.running.hosts():
            if h.name == host:
                return views.host_ns(self.name, host)
        if views.public_host(self.running, host) is not None:
            return views.public_ns(self.name, host)
        raise NotFoundError(f"host {host} does not exist in the running configuration")

    def probe(
        self,
        target: str,
        from_host: str,
        protocol: str = "icmp",
        port: int | None = None,
        timeout: float = 1.0,
    ) -> ProbeResult:
        """One real probe, as CLI.md defines reachable (the named host must receive it)."""
        tgt = self.resolve_target(target)
        src_ns = self.host_namespace(from_host)
        host = tgt.host or tgt.public or self.host_behind(from_host, tgt.address)
        observe_ns = self.host_namespace(host.name) if host else None
        return self.fabric.probe(src_ns, tgt.address, protocol, port, timeout, observe_ns)

    def model(self) -> Any:
        """The data-path model of the running lab (engine/datapath)."""
        from engine.datapath import model_of

        snap = self.reader.snapshot()
        return model_of(self.name, snap.config, snap.plan)

    def trace(self, target: str, from_host: str, protocol: str = "icmp", port: int | None = None) -> Any:
        """`trace`: the model's path of a probe, the real probe observed at every
        hop, and where they part (engine/trace.py TraceResult)."""
        from engine import trace
        from engine.datapath import UnknownRole

        tgt = self.resolve_target(target)
        self.host_namespace(from_host)
        named = tgt.host or tgt.public
        meant = named or self.host_behind(from_host, tgt.address)
        ask = trace.Ask(from_host, tgt.address, protocol, port, named.name if named else None, meant.name if meant else None)
        try:
            return trace.trace(self.model(), self.fabric, ask)
        except UnknownRole as err:
            raise VpclabError(f"trace: {err}") from None

    def verify(self, segment: str | None = None) -> Any:
        """`verify`: intended (model) against observed (real probes) reachability
        of every ordered pair of groups in scope (engine/verify.py)."""
        from engine import verify
        from engine.datapath import UnknownRole

        require_known(self.running, "segment", segment)
        try:
            return verify.verify(self.model(), self.fabric, segment)
        except UnknownRole as err:
            raise VpclabError(f"verify: {err}") from None

    def repair(self) -> list[str]:
        """`repair`: put back what `show lab health` finds drifted, under the
        commit lock (a commit in between would be undone); what was done."""
        with self.session.store.lock():
            return self.fabric.repair(self.reader.snapshot().plan)

    def host_exec(self, host: str, argv: list[str], timeout: float = 30.0, output: OutputSink | None = None) -> tuple[int, str]:
        """Run a command in a host's namespace; returns (exit status, output),
        and passes the output to `output` while it is produced."""
        return self.fabric.exec(self.host_namespace(host), argv, timeout, output)

    def ping(self, target: str, from_host: str, count: int = 5, timeout: float = 1.0,
             output: OutputSink | None = None) -> tuple[int, str]:
        """The real `ping` from a host, its output as text (and streamed to `output`)."""
        addr = self.resolve_target(target).address
        argv = ["ping", "-n", "-c", str(count), "-W", str(timeout), "-i", "0.2", addr]
        return self.host_exec(from_host, argv, count * (timeout + 0.5) + 5, output)

    def traceroute(self, target: str, from_host: str, output: OutputSink | None = None) -> tuple[int, str]:
        """A real traceroute (ICMP probes, numeric) from a host."""
        addr = self.resolve_target(target).address
        return self.host_exec(from_host, ["traceroute", "-n", "-I", "-q", "1", "-w", "1", "-m", "12", addr], 30.0, output)

    def hop_names(self, from_host: str) -> dict[str, str]:
        """What each address of the running lab is, as a probe from
        `from_host` meets it: `vpc web router (hub core)`. Overlapping
        addresses are read in the source's segment first."""
        src = next((v for v, h in self.running.hosts() if h.name == from_host), None)
        owners = views.address_owners(self.name, self.running, self.session.running_plan())
        out = {}
        for address, nodes in owners.items():
            near = [label for segment, label in nodes if src is not None and segment == src.segment]
            out[address] = " or ".join(near or [label for _seg, label in nodes])
        return out

    # lifecycle ---------------------------------------------------------------

    def destroy(self) -> Destroyed:
        """Remove every kernel object and the state of this lab, in one go
        under the lab's lock: a commit in progress is waited for a moment,
        then its process is ended (what it left half-made goes too)."""
        store = self.session.store
        with store.seize() as ended:
            try:  # to recognise namespaces made before the marks; damaged state does not stop destroy
                known = self.session.running_plan().namespaces()
            except Exception:  # noqa: BLE001 - whatever the state holds, destroy goes on
                known = []
            done = self.fabric.destroy(known)
            store.remove()
        return Destroyed(done.removed, done.foreign, ended)


def list_labs() -> list[str]:
    """Names of the labs with state on this host."""
    return list_lab_names()
