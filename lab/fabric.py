"""LinuxFabric: the engine's Fabric port realised with namespaces and netlink.

`apply` is transactional: when an operation fails, the operations that took
effect are simulated on the old plan, and the difference from that partial
state back to the old plan is applied, which restores the kernel exactly.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable

from engine.compile.naming import lab_prefix
from engine.diff import Op, plan_diff, reloaded_tables, repair_ops, simulate, summarize
from engine.errors import CommitError, NotFoundError
from engine.items import REFUSED_MARK, NetnsItem, NftItem, ServiceItem, kind_label
from engine.plan import Plan
from engine.ports import ApplyReport, Destroyed, Drift, OutputSink, ProbeResult, ProbeSpec, RouteReading, Sighting, TraceProbe, Tracked
from lab import ctnetlink, drift, inventory, marks, netns, nft, services
from lab.realise import ApplyFailure, FaultHook, apply_ops


def _raise_fd_limit() -> None:
    """A big lab keeps a socket and an fd open per namespace during a commit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class LinuxFabric:
    """One lab's kernel objects, all named with the lab's prefix."""

    def __init__(self, lab: str, fault: FaultHook | None = None):
        self.lab = lab
        self.prefix = lab_prefix(lab)
        self.fault = fault  # tests inject failures here
        self.tables = ctnetlink.Tables()  # conntrack sockets, one per namespace, kept for the next poll
        _raise_fd_limit()

    def apply(self, old: Plan, new: Plan, ops: list[Op] | None = None) -> ApplyReport:
        """Go from `old` to `new` (by `ops` when given: their diff), or
        restore `old` and raise CommitError. The namespaces the change
        touches are read first: what went missing behind vpclab's back is
        not removed again (it is gone) and is made again where `new` wants
        it, so drift never blocks an edit."""
        start = time.perf_counter()
        ops = ops if ops is not None else plan_diff(old, new)
        found = self._as_found(old, ops)
        remade: list[str] = []
        if found is not old:
            remade = [f"made again what had gone from the lab: {kind_label(k[0])} {' '.join(k[1:])}"
                      for k in old.items.keys() - found.items.keys() if k in new.items and new.items[k] == old.items[k]]
            old, ops = found, plan_diff(found, new)
        carry = self._carried_counters(old, ops)
        made = [op.item.ns for op in ops if op.action == "add" and isinstance(op.item, NetnsItem)]
        cleared = _half_made_removed(made, " and made it again")  # else creating them fails with EEXIST
        try:
            apply_ops(ops, self.fault, carry)
        except ApplyFailure as failure:
            self._undo(old, failure)
        healed = cleared + sorted(remade) + self.heal(new)
        counts = summarize(ops)
        report = ApplyReport(
            created={k[1:]: v for k, v in counts.items() if k[0] == "+"},
            removed={k[1:]: v for k, v in counts.items() if k[0] == "-"},
        )
        report.seconds = time.perf_counter() - start
        report.messages = healed
        return report

    def _as_found(self, old: Plan, ops: list[Op]) -> Plan:
        """`old` as the kernel holds it in the namespaces `ops` touch and
        keep (`old` itself when nothing is missing there)."""
        leaving = {op.item.ns for op in ops if op.action == "remove" and isinstance(op.item, NetnsItem)}
        spaces = {ns for op in ops for ns in op.item.spaces()} - leaving
        if not spaces.intersection(old.namespaces()):
            return old
        found = drift.observed([old], self.lab, spaces)
        return old if len(found) == len(old) else found

    def restore(self, plan: Plan, others: list[Plan]) -> list[str]:
        """Make the kernel hold `plan` again, from whatever mix of `plan` and
        `others` it holds (a commit killed between the running plan and its
        own): what the kernel holds is read back as a plan (lab/drift.py)
        and the difference applied; namespaces of the lab that no plan
        names are removed with their processes. What was done, in words."""
        found = drift.observed([*others, plan], self.lab)
        ops = plan_diff(found, plan)
        known = {ns for p in (plan, *others) for ns in p.namespaces()}
        # under the lock: every half-made namespace of the lab is a dead commit's (the one being undone)
        cleared = _half_made_removed(netns.list_names(self.prefix), "")
        extra, _foreign = marks.partition([n for n in netns.list_names(self.prefix) if n not in known], self.lab)
        try:
            apply_ops(ops)
        except ApplyFailure as failure:
            raise CommitError(f"bringing the lab back failed at {failure.op.action if failure.op else ''} "
                              f"{failure.op.item.key if failure.op else ''}: {failure.error}; 'show lab health' lists "
                              f"what differs, 'vpclab --lab {self.lab} destroy' removes the lab") from failure
        if extra:
            services.kill(services.processes_in(extra))
            for ns in extra:
                netns.delete(ns)
        counts = summarize(ops)
        counts.update({"-ns": counts.get("-ns", 0) + len(extra)} if extra else {})
        return cleared + [", ".join(f"{k[0]}{v} {kind_label(k[1:])}" for k, v in sorted(counts.items())) or "nothing to change"]

    def _carried_counters(self, old: Plan, ops: list[Op]) -> dict[str, dict[str, list[int]]]:
        """Counters that survive a table reload: those whose rules and elements
        did not change (a policy edit keeps the other entries' hits)."""
        out = {}
        for item, before in reloaded_tables(old, ops):
            if before is None:
                continue
            same = {c for c, d in item.counted if dict(before.counted).get(c) == d}
            if same and netns.exists(item.ns):
                out[item.ns] = {c: v for c, v in nft.read_counters(item.ns).items() if c in same}
        return out

    def _undo(self, old: Plan, failure: ApplyFailure) -> None:
        partial = simulate(old, failure.done)
        what = f"{failure.op.action} {failure.op.item.key}" if failure.op else "apply"
        try:
            apply_ops(plan_diff(partial, old))
        except ApplyFailure as second:
            raise CommitError(
                f"commit failed at {what}: {failure.error}; restoring the previous state also failed "
                f"({second.error}): run 'show lab health' and 'vpclab destroy' if needed", restored=False
            ) from failure
        raise CommitError(f"commit failed at {what}: {failure.error}; the lab was restored to the running state")

    def read_routes(self, plan: Plan, namespaces: list[str] | None = None) -> dict[str, list[RouteReading]]:
        """Our routes in every namespace of the plan (or of `namespaces`)."""
        return inventory.read_routes(plan.namespaces() if namespaces is None else namespaces)

    def drift(self, plan: Plan) -> list[Drift]:
        """Differences between the kernel and the plan (lab/drift.py)."""
        return drift.drift(plan, self.lab)

    def repair(self, plan: Plan) -> list[str]:
        """Put back what drifted (engine.diff.repair_ops: only the drifted
        items and what their re-creation needs), remove lab namespaces the
        plan does not know and what the plan's namespaces hold that it does
        not (lab/drift.py remove_unexpected: first, as removing a veth end
        takes its peer), restart services that are down."""
        out = drift.remove_unexpected(plan, self.lab)
        found = self.drift(plan)
        for d in found:
            if d.kind == "namespace" and d.problem == drift.HALF_MADE and netns.clear_half_made([d.ns]):
                out.append(f"removed half-made namespace {d.ns} (a file in /run/netns with no namespace mounted on it)")
            if d.kind == "namespace" and d.problem == "unexpected":
                # its processes only: stop_lab would end every service of the lab and empty its run directory
                services.kill(services.processes_in([d.ns]))
                netns.delete(d.ns)
                out.append(f"removed namespace {d.ns} (not in the running configuration)")
        missing = {d.key for d in found if d.key is not None and d.problem in ("missing", drift.HALF_MADE)}
        different = {d.key for d in found if d.key is not None} - missing
        ops = repair_ops(plan, missing, different)
        if ops:
            carry = {op.item.ns: nft.read_counters(op.item.ns) for op in ops  # a reloaded table keeps its counts
                     if isinstance(op.item, NftItem) and op.action == "add" and netns.mounted(op.item.ns)}
            try:
                apply_ops(ops, self.fault, carry)
            except ApplyFailure as failure:
                what = f"{failure.op.action} {failure.op.item.key}" if failure.op else "apply"
                raise CommitError(f"repair failed at {what}: {failure.error}; 'show lab health' says what is still wrong") from failure
            counts = summarize(ops)
            out.append("put back " + ", ".join(f"{n} {kind[1:]}" if kind[0] == "+" else f"{n} {kind[1:]} (replaced)"
                                               for kind, n in sorted(counts.items())))  # fmt: skip
            out += [f"  {d.ns}: {d.kind} {d.name} ({d.problem})" for d in found if d.key is not None]
        return out + self.heal(plan)

    def heal(self, plan: Plan) -> list[str]:
        """Restart the services of `plan` whose process is gone."""
        items = [i for i in plan.of_kind("svc") if isinstance(i, ServiceItem)]
        state = services.status(items)
        out = []
        for item in (i for i in items if state[f"{i.ns}/{i.name}"] is None):
            for attempt in (1, 2):
                try:
                    services.start([item])
                    out.append(f"restarted service {item.name} ({item.kind}) in {item.ns}")
                    break
                except OSError as exc:
                    # a process that just died may still hold its port for a moment
                    if attempt == 2:
                        out.append(f"% service {item.name} could not be restarted: {exc}")
                    else:
                        time.sleep(0.3)
        return out

    def service_status(self, plan: Plan) -> dict[str, int | None]:
        """ns/name -> PID of every service of `plan` (None: not running)."""
        return services.status([i for i in plan.of_kind("svc") if isinstance(i, ServiceItem)])

    def read_counters(self, namespaces: list[str]) -> dict[str, dict[str, list[int]]]:
        """Packets and bytes per counter comment, per namespace."""
        return netns.each_present(namespaces, nft.read_counters)

    def reset_counters(self, plan: Plan, namespaces: list[str], zeroed: Callable[[str], bool]) -> None:
        """Zero the counters whose comment `zeroed` accepts by reloading
        the tables with every other counter carried over (conntrack and
        verdicts stay; nft 1.0.6 has no reset for map elements)."""
        for item in plan.of_kind("nft"):
            if isinstance(item, NftItem) and item.ns in namespaces and netns.exists(item.ns):
                keep = {c: v for c, v in nft.read_counters(item.ns).items() if not zeroed(c)}
                nft.load(item.ns, item.ruleset, keep)

    def read_flows(self, namespaces: list[str]) -> dict[str, list[Tracked]]:
        """Conntrack entries per namespace, through one netlink socket per
        namespace kept open between polls (lab/ctnetlink.py); the kernel
        leaves out those marked refused."""
        return self.tables.read(namespaces, 0, REFUSED_MARK)

    def clear_flows(self, namespaces: list[str]) -> None:
        """Forget tracked connections (established ones are re-tracked
        mid-stream), but those a commit refused: forgotten, they would be
        re-tracked too, judged in whichever direction their next packet goes."""
        self.tables.forget(namespaces)

    def link_counters(self, ns: str) -> dict[str, dict[str, int]]:
        """rx/tx packets and bytes of every link of a namespace."""
        return netns.each_present([ns], inventory.link_counters).get(ns, {})

    def end_flows(self, entries: dict[str, list[Tracked]], refuse: bool) -> int:
        """Mark tracked connections refused (every forward chain drops them
        in both directions, engine/compile/nft.py) or delete them, each by
        its original tuple and zone (lab/ctnetlink.py)."""
        return self.tables.change(entries, refuse)

    def read_log(self, count: int) -> list[str]:
        """The last `count` lines of the policy log."""
        try:
            with open(services.log_path(self.lab)) as fh:
                return fh.readlines()[-count:] if count > 0 else []
        except OSError:
            return []

    def destroy(self, known: list[str] | None = None) -> Destroyed:
        """Stop the lab's processes, then remove every namespace with its
        prefix that carries its mark (veths go with them); namespaces that
        vpclab did not make are left, and reported (lab/marks.py)."""
        half = netns.clear_half_made(netns.list_names(self.prefix))  # files that hold no namespace: nothing to leave
        ours, foreign = marks.partition(netns.list_names(self.prefix), self.lab, known or ())
        services.stop_lab(self.lab, ours)
        self.tables.close()  # an open socket would keep its namespace alive
        for name in ours:
            netns.delete(name)
        return Destroyed(len(ours) + len(half), tuple(foreign))

    def probe_many(self, specs: list[ProbeSpec], timeout: float) -> list[ProbeResult]:
        """Many probes at once (lab/probeset.py)."""
        from lab import probeset

        self._require(*{ns for s in specs for ns in (s.src_ns, s.observe_ns) if ns})
        return probeset.probe_many(specs, timeout)

    def trace_probes(self, reqs: list[TraceProbe]) -> list[tuple[ProbeResult, list[Sighting]]]:
        """Probes sent at once and watched in many namespaces (lab/tracing.py)."""
        from lab import tracing

        self._require(*{ns for r in reqs for ns in (r.src_ns, r.observe_ns, *r.watch) if ns})
        return tracing.trace_probes(reqs)

    def probe(
        self, src_ns: str, address: str, protocol: str, port: int | None, timeout: float, observe_ns: str | None
    ) -> ProbeResult:
        """One real probe (lab/probes.py)."""
        from lab import probes

        self._require(src_ns, *([observe_ns] if observe_ns else []))
        return probes.probe(src_ns, address, protocol, port, timeout, observe_ns)

    def exec(self, ns: str, argv: list[str], timeout: float, output: OutputSink | None = None) -> tuple[int, str]:
        """Run a command in a namespace, its output streamed to `output`."""
        from lab import execns

        self._require(ns)
        return execns.exec_in(ns, argv, timeout, output)

    def _require(self, *namespaces: str) -> None:
        """NotFoundError naming a namespace that is gone (deleted behind
        vpclab's back), with where to see the rest."""
        for ns in sorted(namespaces):
            if not netns.mounted(ns):
                tag, _, name = ns.partition("-")[2].partition("-")
                what = f"{ROLES[tag]} {name}" if tag in ROLES else ns
                raise NotFoundError(f"the namespace of {what} ({ns}) is missing from the lab (deleted outside vpclab?): "
                                    f"'show lab health' lists what else is missing, 'repair' makes it again")


def _half_made_removed(names: list[str], then: str) -> list[str]:
    """Remove the files of those of `names` that a killed commit left
    unmounted (lab/netns.py half_made); a line for each, ending in `then`."""
    return [f"removed half-made namespace {ns} (its file in /run/netns held no namespace: left by an interrupted commit)"
            f"{then}" for ns in netns.clear_half_made(names)]


# what a namespace's tag (engine/compile/naming.py) names, for messages
ROLES = {"h": "host", "v": "vpc router", "s": "segment router", "f": "firewall instance", "i": "internet edge",
         "p": "public host", "e": "endpoint service"}
