"""The narrow interface between the engine and a realisation of plans.

lab/ implements `Fabric` over Linux; the engine never imports lab/. The
program's entry point is the only place that wires a real `Fabric` in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from engine.diff import Op
from engine.items import MAIN_TABLE, RouteItem
from engine.plan import Plan

# receives a command's output as it is produced (decoded text, any chunking)
OutputSink = Callable[[str], None]


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one real probe.

    `reachable` is CLI.md's definition: the probe got through end to end
    (icmp answered, tcp handshake completed, udp delivered to the target).
    `arrived` says whether the packet was seen on the named target host's
    interface (None when the target was a bare address and nothing watched).
    `refused` is set when a TCP RST or ICMP unreachable came back.
    """

    reachable: bool
    arrived: bool | None
    detail: str
    refused: bool = False
    rtt_ms: float | None = None


@dataclass(frozen=True)
class RouteReading:
    """A route of ours as read back from one of a namespace's tables."""

    ns: str
    dst: str
    gateway: str | None
    dev: str | None
    kind: str = "unicast"
    table: int = MAIN_TABLE


@dataclass(frozen=True)
class Drift:
    """One difference between the kernel and the plan."""

    ns: str
    kind: str  # namespace | link | address | route | ...
    name: str
    problem: str  # its first word: missing | different | unexpected (ours, not planned) | foreign (not ours) | unreadable
    key: tuple[str, ...] | None = None  # the plan item it is about (what `repair` puts back)


@dataclass(frozen=True)
class Destroyed:
    """What destroying a lab did: namespaces removed, namespaces with the
    lab's prefix left because vpclab did not make them, and processes
    ended because they were committing to the lab."""

    removed: int
    foreign: tuple[str, ...] = ()
    ended: tuple[int, ...] = ()


@dataclass
class ApplyReport:
    """What applying a plan difference did (counts per kind, and timing)."""

    created: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)  # e.g. services restarted on the way


class Fabric(Protocol):
    """What the engine needs from a realisation."""

    def apply(self, old: Plan, new: Plan, ops: list[Op] | None = None) -> ApplyReport:
        """Make the kernel go from `old` to `new` (by `ops`, their diff, when
        the caller has it already); on failure restore `old` exactly and
        raise CommitError."""

    def read_routes(self, plan: Plan, namespaces: list[str] | None = None) -> dict[str, list[RouteReading]]:
        """Our routes of every namespace of `plan` (or of `namespaces` only), by namespace."""

    def restore(self, plan: Plan, others: list[Plan]) -> list[str]:
        """Make the kernel hold `plan` again, whatever mix of `plan` and
        `others` it holds now (a commit interrupted between the running
        plan and its own); what was done, in words. CommitError when it
        cannot."""

    def drift(self, plan: Plan) -> list[Drift]:
        """Every object of `plan` missing or different in the kernel, and
        unexpected lab namespaces."""

    def destroy(self, known: list[str] | None = None) -> Destroyed:
        """Remove every kernel object of this lab: the namespaces with its
        prefix that carry its mark, or no mark and are `known` (the running
        plan's: made before the marks); others are reported, never touched;
        and its processes."""

    def probe(
        self,
        src_ns: str,
        address: str,
        protocol: str,
        port: int | None,
        timeout: float,
        observe_ns: str | None,
    ) -> ProbeResult:
        """Send one real probe from `src_ns`; watch for it in `observe_ns`."""

    def exec(self, ns: str, argv: list[str], timeout: float, output: OutputSink | None = None) -> tuple[int, str]:
        """Run a command inside a namespace; (exit status, combined output).
        `output` gets the output while it is produced; an interrupt
        (KeyboardInterrupt) ends the command and everything it started."""

    def heal(self, plan: Plan) -> list[str]:
        """Restart the services of `plan` whose process is gone; what was done."""

    def service_status(self, plan: Plan) -> dict[str, int | None]:
        """`ns/name` -> PID of each service of `plan`, None when not running."""

    def read_counters(self, namespaces: list[str]) -> dict[str, dict[str, list[int]]]:
        """Packets and bytes per counter comment (`segment corp 10`), per namespace."""

    def reset_counters(self, plan: Plan, namespaces: list[str], zeroed: Callable[[str], bool]) -> None:
        """Zero the counters whose comment `zeroed` accepts in these
        namespaces, keeping every other counter and all verdicts."""

    def read_flows(self, namespaces: list[str]) -> dict[str, list[Tracked]]:
        """Tracked IPv4 connections per namespace, but those a commit ended by
        marking them refused (they pass nothing; the kernel leaves them out)."""

    def repair(self, plan: Plan) -> list[str]:
        """Put back every object of `plan` that `drift` finds missing or
        different, remove unexpected lab namespaces and restart services
        that are down, touching nothing else; what was done."""

    def clear_flows(self, namespaces: list[str]) -> None:
        """Forget the tracked connections of these namespaces."""

    def end_flows(self, entries: dict[str, list[Tracked]], refuse: bool) -> int:
        """End these tracked connections (entries as `read_flows` gave them),
        per namespace: `refuse` marks them refused (the tables drop their
        packets both ways, and the entries stay so that a later packet is not
        taken for a new connection), else they are deleted; how many entries
        the kernel changed."""

    def link_counters(self, ns: str) -> dict[str, dict[str, int]]:
        """rx/tx packets and bytes of every link of a namespace, by name."""

    def read_log(self, count: int) -> list[str]:
        """The newest `count` lines written by `log` policy entries."""

    def probe_many(self, specs: list[ProbeSpec], timeout: float) -> list[ProbeResult]:
        """Send many probes at once (each judged as `probe` judges one);
        results in the order of `specs`, in about one `timeout`."""

    def trace_probes(self, reqs: list[TraceProbe]) -> list[tuple[ProbeResult, list[Sighting]]]:
        """Send every probe at once (each from its `sport`) and report, for
        each, CLI.md's judgement and every copy of it seen in its watched
        namespaces."""


class Tracked(NamedTuple):
    """One tracked connection of a namespace, both tuples as conntrack keeps
    them: the original (as the first packet arrived) and the reply (as the
    answer arrives, so the first packet left as its reverse, after NAT).

    Flat, with addresses as 4 raw bytes in network order: the lab builds
    100,000s of these per poll with one C-level `_make`, and the engine
    joins them as dict keys before converting the few it shows to text."""

    proto: int  # IP protocol number
    state: int | None  # tcp state number (TCP_STATES), None for other protocols
    mark: int | None
    zone: int | None  # conntrack zone (of both directions, or of the original direction only)
    start_ns: int | None  # CLOCK_REALTIME ns when tracking began (nf_conntrack_timestamp)
    o_src: bytes
    o_dst: bytes
    o_sport: int | None
    o_dport: int | None
    o_packets: int | None
    o_bytes: int | None
    r_src: bytes
    r_dst: bytes
    r_sport: int | None
    r_dport: int | None
    r_packets: int | None
    r_bytes: int | None
    o_type: int | None  # icmp type, code and id, each way
    o_code: int | None
    o_id: int | None
    r_type: int | None
    r_code: int | None
    r_id: int | None


TCP_STATES = {0: "NONE", 1: "SYN_SENT", 2: "SYN_RECV", 3: "ESTABLISHED", 4: "FIN_WAIT", 5: "CLOSE_WAIT",
              6: "LAST_ACK", 7: "TIME_WAIT", 8: "CLOSE", 9: "SYN_SENT2"}  # fmt: skip
PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 132: "sctp", 136: "udplite", 33: "dccp", 47: "gre"}


@dataclass(frozen=True)
class Sighting:
    """A probe seen by an observer in one namespace (trace): on which
    interface, which way, its place in the order that namespace's observer
    captured copies in (kernel timestamps cannot order them: lab/tracing.py),
    and its addresses there."""

    ns: str
    ifname: str
    outgoing: bool
    order: int
    src: str
    dst: str
    sport: int | None
    dport: int | None


@dataclass(frozen=True)
class TraceProbe:
    """What `trace` asks the lab to send and where to watch for it."""

    src_ns: str
    address: str
    protocol: str
    port: int | None
    sport: int | None  # the source port the model predicted with (tcp, udp)
    watch: tuple[str, ...]  # namespaces with an observer
    observe_ns: str | None  # the target host: delivery there is what `reachable` checks
    timeout: float


@dataclass(frozen=True)
class ProbeSpec:
    """One probe of a batch (`verify`): from a namespace to an address,
    watched for at the target host's namespace when there is one."""

    src_ns: str
    address: str
    protocol: str
    port: int | None
    sport: int | None
    observe_ns: str | None
    observe_src: str | None = None  # seen there only from this source (an endpoint's link address)


__all__ = ["ApplyReport", "Destroyed", "Drift", "Fabric", "OutputSink", "ProbeResult", "ProbeSpec", "RouteItem", "RouteReading", "Sighting", "TraceProbe", "Tracked"]
