"""A configuration session: candidate, running, commit, confirm, rollback.

The candidate belongs to this process; running, history and the lock are
the lab's (LabStore), so several processes can attach to one lab. A commit
validates everything, compiles both configurations, and hands the two
plans to the Fabric, which applies the difference or restores the old
state. Only after the kernel took the change is it recorded as running.

A Session belongs to one thread (a shell's). Reading never changes the
candidate: without local edits the candidate *is* the running
configuration, re-read when another process commits; with edits it is
those edits. Monitors and views read through engine/reader.py instead.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace

from engine.commits import CommitRecord, CommitResult, PlanChanges, config_changes
from engine.compile import compile_plan
from engine.compile.cache import CompileCache
from engine.diff import Op, plan_diff, summarize
from engine.errors import (
    CommitError,
    DamagedStateError,
    Diagnostic,
    LockedError,
    NotFoundError,
    StaleCandidateError,
    ValidationError,
    VpclabError,
)
from engine.merge import Merged, merge
from engine.model import Config
from engine.plan import Plan
from engine.ports import Fabric
from engine.store import LabStore, Version
from engine.text import text_problem
from engine.validate import validate

Watcher = Callable[[str, int, float], None]  # (lab, commit number, seconds)
Published = Callable[[Version, int, Config, Plan], None]  # (store version, commit number, config, plan) now running


def thread_watcher(session: Session) -> Watcher:
    """A confirmed-commit timer inside this process (for pure tests). The
    rollback runs in the timer's thread on a Session of its own, since a
    Session belongs to one thread: `session` learns of the rollback as of
    any other commit (and its edits, if any, then need `update`)."""

    def start(lab: str, number: int, seconds: float) -> None:
        def expire() -> None:
            for _ in range(50):  # a commit in progress holds the lock for a moment
                try:
                    Session(lab, session.fabric, session.store, start, pause_gc=False).expire_confirmed(number)
                    return
                except LockedError:
                    time.sleep(0.1)

        timer = threading.Timer(seconds, expire)
        timer.daemon = True
        timer.start()

    return start


_gc_lock = threading.Lock()
_gc_holders = 0
_gc_was_enabled = True


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (reference counting goes
    on). The collector is process-wide, so this pauses it for every thread:
    a Session does it only when told (`pause_gc`, the shell's choice). Counted,
    so overlapping blocks in several threads re-enable the collector only
    when the last one ends, and only if it was enabled before the first."""
    global _gc_holders, _gc_was_enabled
    with _gc_lock:
        _gc_holders += 1
        if _gc_holders == 1:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                gc.enable()


class Session:
    """One process's view of a lab: its candidate and the shared running state.

    `cache` holds the compiler's memos (engine/compile/cache.py); `pause_gc`
    pauses the process-wide garbage collector during commits (compiling a
    big policy allocates many short-lived objects, and each full collection
    would walk every memoised plan item: it doubled the time of a
    10,000-entry commit); `on_running` is told each running state this
    session applies (a reader adopts it instead of compiling it again)."""

    def __init__(
        self, lab: str, fabric: Fabric, store: LabStore, watcher: Watcher | None = None,
        cache: CompileCache | None = None, pause_gc: bool = True,
    ) -> None:  # fmt: skip
        self.lab = lab
        self.fabric = fabric
        self.store = store
        self.watcher = watcher or thread_watcher(self)
        self.cache = cache if cache is not None else CompileCache()
        self.pause_gc = pause_gc
        self.on_running: Published | None = None
        self._version: Version | None = None
        self._running = Config()
        self._number = 0
        self._edited: Config | None = None  # None: no local edits, the candidate is the running config
        self._base: tuple[int, Config] | None = None  # (number, config) of the running config the edits start from
        self._plan_cache: tuple[Config, Plan] | None = None
        try:
            self._refresh()
            self.expire_if_overdue()
        except DamagedStateError:
            pass  # said by the first command that reads the state; destroy needs none

    # running state ------------------------------------------------------------

    def _refresh(self) -> None:
        """Re-read the running configuration when another process committed
        (one stat when nothing changed)."""
        version = self.store.version()
        if version != self._version:
            self._number, self._running = self.store.load_running()
            self._version = version

    @property
    def candidate(self) -> Config:
        """This process's candidate: its edits, or without edits the running
        configuration (which follows other processes' commits)."""
        return self._edited if self._edited is not None else self.running

    @candidate.setter
    def candidate(self, config: Config) -> None:
        if self._edited is None:
            self._refresh()
        if config is self._running or config == self._running:
            self._edited, self._base = None, None
            return
        if self._edited is None:  # the first edit: remember what it starts from
            self._base = (self._number, self._running)
        self._edited = config

    def _replace_candidate(self, config: Config) -> None:
        """A candidate made from the running configuration as it is now
        (rollback): the edits before it are dropped with their base."""
        self._edited, self._base = None, None
        self.candidate = config

    def update(self) -> tuple[int, Merged | None]:
        """Rebase this session's edits onto the running configuration that
        another session's commit made (engine/merge.py): (the commit they
        started from, the merge), or (running, None) when they already
        start from it or there are none."""
        self._refresh()
        if self._edited is None or self._base is None or self._base[0] == self._number:
            return self._number, None
        start, base = self._base
        merged = merge(base, self._edited, self._running)
        self._edited, self._base = None, None
        self.candidate = merged.config
        return start, merged

    def _stale(self) -> None:
        """Refuse to commit edits made from a running configuration that
        another session has replaced since (called under the lock, fresh)."""
        if self._edited is None or self._base is None or self._base[0] == self._number:
            return
        last = next((c for c in self.store.history() if c.number == self._number), None)
        by = f"commit {self._number}" + (f" by {last.user}" + (f" ({last.comment})" if last.comment else "") if last else "")
        raise StaleCandidateError(self._base[0], self._number, f"{by} changed the running configuration")

    @property
    def running(self) -> Config:
        """The lab's running configuration, re-read when another process committed."""
        self._refresh()
        return self._running

    @property
    def number(self) -> int:
        """The running commit's number."""
        self._refresh()
        return self._number

    def plan_of(self, config: Config) -> Plan:
        """The compiled plan of a configuration (cached for the running one)."""
        if self._plan_cache and self._plan_cache[0] is config:
            return self._plan_cache[1]
        plan = compile_plan(self.lab, config, self.cache)
        self._plan_cache = (config, plan)
        return plan

    def running_plan(self) -> Plan:
        """The plan of the running configuration."""
        return self.plan_of(self.running)

    # editing --------------------------------------------------------------------

    def abort(self) -> None:
        """Drop every uncommitted change."""
        self._replace_candidate(self.running)

    def check(self) -> PlanChanges:
        """Validate the candidate and compute its changes; apply nothing."""
        self._validate(self.candidate)
        return PlanChanges(tuple(plan_diff(self.running_plan(), compile_plan(self.lab, self.candidate, self.cache))))

    def _validate(self, config: Config) -> None:
        diagnostics = validate(config, self._running)
        if diagnostics:
            raise ValidationError(diagnostics)

    # commit -----------------------------------------------------------------------

    def commit(self, comment: str | None = None, confirmed: int | None = None) -> CommitResult:
        """Apply the candidate; success whole, or the lab as it was and an
        error (the garbage collector paused meanwhile when `pause_gc`)."""
        paused: AbstractContextManager[None] = gc_paused() if self.pause_gc else nullcontext()
        with paused:
            return self._commit(comment, confirmed)

    def _commit(self, comment: str | None, confirmed: int | None) -> CommitResult:
        if comment is not None and (problem := text_problem(comment)):
            raise ValidationError([Diagnostic("commit comment", problem)])
        self._refresh()
        if self.candidate != self._running:
            self._validate(self.candidate)
        with self.store.lock():
            self._refresh()
            recovered = tuple(self._recover())  # a dead commit's leftovers first
            self._stale()
            result = self._commit_locked(comment, confirmed)
            return replace(result, messages=recovered + result.messages) if recovered else result

    def _commit_locked(self, comment: str | None, confirmed: int | None) -> CommitResult:
        pending = self.store.marker("confirm")
        if self.candidate == self._running:
            if pending and confirmed is None:
                self.store.set_marker("confirm", None)
                return CommitResult(self._number, PlanChanges(), messages=(f"commit {self._number} confirmed",))
            healed = tuple(self.fabric.heal(self.running_plan()))
            return CommitResult(None, PlanChanges(), messages=healed or ("No configuration changes to commit.",))
        result = self._apply(self.candidate, comment)
        if confirmed is not None:
            deadline = time.time() + confirmed
            self.store.set_marker("confirm", {"number": result.number, "previous": result.number - 1 if result.number else 0, "deadline": deadline})
            self.watcher(self.lab, result.number or 0, float(confirmed))
            return replace(result, confirmed_until=deadline)
        if pending:
            self.store.set_marker("confirm", None)
        return result

    def _apply(self, config: Config, comment: str | None, expired: int | None = None) -> CommitResult:
        start = time.perf_counter()
        old_plan = self.plan_of(self._running)
        new_plan = compile_plan(self.lab, config, self.cache)
        ops = tuple(plan_diff(old_plan, new_plan))
        held = self._instances_held(old_plan, new_plan)
        old_config = self._running
        config_json = self.store.begin_commit(config, self._number + 1)
        started = time.time()
        try:
            report = self.fabric.apply(old_plan, new_plan, list(ops))
        except CommitError as err:
            if err.restored:  # else the marker stays: the next attach brings the lab back
                self.store.set_marker("inflight", None)
            raise
        changes = config_changes(self._running, config)
        number = self.store.save_commit(config, comment, summarize(list(ops)), self._number + 1, changes, expired, config_json)
        self.store.set_marker("inflight", None)
        self._running, self._number, self._version = config, number, self.store.version()
        self._edited, self._base = None, None
        self._plan_cache = (self._running, new_plan)
        if self.on_running is not None:
            self.on_running(self._version, number, config, new_plan)
        cut = self._end_connections(old_config, config, old_plan, new_plan, ops, started)  # after saving: the lab is the new one already
        from engine.firewall_notes import notes

        was = set(notes(old_config))
        fresh = tuple(f"note: {n}" for n in notes(config) if n not in was)
        messages = tuple(getattr(report, "messages", ()) or ()) + held + cut + fresh
        return CommitResult(number, PlanChanges(ops), time.perf_counter() - start, messages=messages, config_changes=tuple(changes))

    def _instances_held(self, old_plan: Plan, new_plan: Plan) -> tuple[str, ...]:
        """How many connections each firewall instance the commit removes
        holds now (read before they go); reported, never raised."""
        from engine.fwflows import held_messages, removed_instances

        removed = removed_instances(old_plan, new_plan)
        if not removed:
            return ()
        try:
            return held_messages(removed, self.fabric.read_flows([i.ns for i in removed]))
        except Exception as exc:  # noqa: BLE001 - the commit goes on; the count is information
            return (f"% could not count the connections of the removed firewall instances: {exc}",)

    def _end_connections(self, old_config: Config, config: Config, old_plan: Plan, new_plan: Plan,
                         ops: tuple[Op, ...], started: float) -> tuple[str, ...]:  # fmt: skip
        """End the tracked connections whose path the commit removed (deleted)
        and those its policy or firewall rules now refuse (marked): conntrack
        would otherwise keep them, and the policy and firewalls see only new
        connections (engine/ending.py). Connections it still admits are
        untouched. A failure here is reported, never raised: the commit is
        applied and saved."""
        from engine import ending
        from engine.datapath import Model, model_of
        from engine.flows import flow_namespaces

        if not ending.may_end(old_plan, ops):
            return ()
        try:
            old, new = Model(self.lab, old_config, old_plan), model_of(self.lab, config, new_plan)
            change = ending.change_of(old, new, ops, started)
            if not change:
                return ()
            tracking = set(flow_namespaces(old_plan)) | set(flow_namespaces(new_plan))
            first = ending.first_spaces(change, old, new, tracking)
            found = ending.concerned(change, old, new, self.fabric.read_flows(first), tracking) if first else None
            if not found:
                return ()
            ended = ending.whole(old, self.fabric.read_flows(sorted(tracking)), found)
            self.fabric.end_flows(ended.delete, refuse=False)
            self.fabric.end_flows(ended.refuse, refuse=True)
        except Exception as exc:  # noqa: BLE001 - reported to the user, the commit stands
            return (f"% the commit is applied, but ending the connections it removed or refuses failed: {exc}",)
        return ended.messages()

    def expire_confirmed(self, number: int) -> bool:
        """Roll back commit `number` if it is still pending confirmation."""
        with self.store.lock():
            self._refresh()
            self._recover()  # a dead commit's leftovers first: its marker is about to be reused
            pending = self.store.marker("confirm")
            if not pending or pending["number"] != number or self._number != number:
                return False
            previous = self.store.commit_config(int(pending["previous"]))
            if previous is None:
                return False
            keep = (self._edited, self._base)
            self._apply(previous, f"rollback: commit {number} was not confirmed", expired=number)
            self.store.set_marker("confirm", None)
            if keep[0] is not None and keep[0] != self._running:
                self._edited, self._base = keep  # still from the rolled-back commit: committing them needs 'update'
            return True

    def expire_if_overdue(self) -> None:
        """On attach: a confirmed commit whose time ran out is rolled back now."""
        pending = self.store.marker("confirm")
        if pending and time.time() > float(pending["deadline"]):
            try:
                self.expire_confirmed(int(pending["number"]))
            except VpclabError:
                pass

    def rollback(self, n: int = 1) -> CommitResult:
        """Make the configuration of `n` commits ago running, as a new commit."""
        target = self.number - n
        config = self.store.commit_config(target) if target >= 0 else None
        if config is None:
            raise NotFoundError(f"rollback {n}: there is no commit {n} before the running one (running is commit {self.number})")
        self._replace_candidate(config)
        return self.commit(comment=f"rollback {n} (to commit {target})")

    def rollback_to(self, number: int) -> CommitResult:
        """Make the configuration of commit `number` running, as a new commit
        (0: the empty configuration before the first commit)."""
        config = self.store.commit_config(number)
        if config is None:
            raise NotFoundError(f"rollback to {number}: there is no commit {number} "
                                f"(commits are 1 to {self.number}; 'show commit history' lists them)")
        self._replace_candidate(config)
        return self.commit(comment=f"rollback to commit {number}")

    def pending_confirmation(self) -> tuple[int, float] | None:
        """(commit number, deadline) of a confirmed commit not yet confirmed."""
        pending = self.store.marker("confirm")
        return (int(pending["number"]), float(pending["deadline"])) if pending else None

    def history(self) -> list[CommitRecord]:
        """Commits, newest first."""
        return [CommitRecord(c.number, c.time, c.comment, c.user, c.counts, c.config_changes, c.expired)
                for c in self.store.history()]

    # an interrupted commit ---------------------------------------------------------

    def recover(self) -> list[str]:
        """On attach: bring the lab back after a commit whose process died
        half way (kill -9), and say so; nothing while a commit is in
        progress (its marker is its own)."""
        if not self.store.has_marker("inflight"):
            return []  # the common case, one stat (and no lock file made for a lab that does not exist)
        try:
            with self.store.lock(wait=0):
                return self._recover()
        except LockedError:
            return []

    def _recover(self) -> list[str]:
        """Under the lock, an `inflight.json` is always a dead commit's: the
        kernel is somewhere between the running plan and that commit's
        (recorded in the marker), so it is read back against both and
        made the running plan again (Fabric.restore)."""
        try:
            marker = self.store.marker("inflight")
        except DamagedStateError:
            marker = {}  # cut short: what it was making is unknown, the running plan is not
        if marker is None:
            return []
        self._refresh()
        target = self.store.inflight_config(marker)
        others = [compile_plan(self.lab, target, self.cache)] if target is not None else []
        done = self.fabric.restore(self.running_plan(), others)
        self.store.set_marker("inflight", None)
        which = f"commit {marker['to']}" if isinstance(marker.get("to"), int) else "a commit"
        who = f" (process {marker['pid']})" if isinstance(marker.get("pid"), int) else ""
        return [f"% {which}{who} did not finish: the lab was brought back to the running configuration, "
                f"commit {self._number} ({'; '.join(done)})"]

