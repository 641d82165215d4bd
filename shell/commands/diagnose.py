"""Probes from hosts: ping, traceroute, assert, host exec (real packets, via LabApi).

`ping` and `traceroute` read the real tools' output as it streams (`raw`
shows it as the tools print it); `host X exec` streams its command's output
to the terminal while it runs, and Ctrl-C ends the command with everything
it started (lab/execns.py kills its process group).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable

from engine.errors import VpclabError
from engine.ports import OutputSink
from shell.context import Context
from shell.grammar.registry import Command
from shell.probe_report import PingReport, Report, TraceReport
from shell.state import Result

ASSERT_TIMEOUT = 1.0


class AssertionFailed(VpclabError):
    """`assert` disagreed with the real probe (a failing batch line)."""


def _target_text(ctx: Context, target: str) -> str:
    resolved = ctx.api.resolve_target(target)
    return f"{resolved.address} ({resolved.host.name})" if resolved.host and resolved.address != target else resolved.address


def _ping(ctx: Context, target: str, host: str, count: int = 5, timeout: int = 1, raw: bool = False) -> Result:
    head = f"Sending {count} ICMP echos to {_target_text(ctx, target)} from {host}, timeout is {timeout} s:"
    return _report(ctx, PingReport(count), head, raw, target, host,
                   lambda sink: ctx.api.ping(target, host, count=count, timeout=timeout, output=sink))


def _traceroute(ctx: Context, target: str, host: str, raw: bool = False) -> Result:
    head = f"Tracing the route to {_target_text(ctx, target)} from {host}"
    return _report(ctx, TraceReport(ctx.api.hop_names(host)), head, raw, target, host,
                   lambda sink: ctx.api.traceroute(target, host, output=sink))


def _report(ctx: Context, report: Report, head: str, raw: bool, target: str, host: str,
            run: Callable[[OutputSink], tuple[int, str]]) -> Result:
    """Run a probe tool, showing its report while the output streams (or its
    raw output with `raw`), and give the report's facts as data."""
    live = ctx.live

    def show(chunk: str) -> None:
        shown = report.feed(chunk)
        if live is not None:
            live(chunk if raw else shown)

    if live is not None and not raw:
        live(head + "\n")
    _status, out = run(show)
    tail = report.finish()
    data = {"target": target, "from": host, **report.data()}
    if raw:
        return Result("" if live is not None else out.rstrip(), data={**data, "output": out})
    if live is not None:
        live(tail)
        return Result(report.closing(), data=data)
    return Result(f"{head}\n{report.body()}", data=data)


def _assert(ctx: Context, expect: str, target: str, host: str, protocol: str | None = None, port: int | None = None) -> Result:
    protocol = protocol or ("tcp" if port is not None else "icmp")
    if protocol in ("tcp", "udp") and port is None:
        raise VpclabError(f"assert: protocol {protocol} needs a port")
    if protocol == "icmp" and port is not None:
        raise VpclabError("assert: icmp takes no port")
    want = expect == "reachable"
    r = ctx.api.probe(target, host, protocol, port, ASSERT_TIMEOUT)
    what = f"{target} from {host} ({protocol}{f' port {port}' if port else ''})"
    detail = f": {r.detail}" if r.detail else ""
    data = {"expect": expect, "target": target, "from": host, "protocol": protocol, "port": port,
            "reachable": r.reachable, "arrived": r.arrived, "refused": r.refused, "rtt_ms": r.rtt_ms,
            "detail": r.detail, "ok": r.reachable == want}
    if r.reachable != want:
        got = "reachable" if r.reachable else "unreachable"
        raise AssertionFailed(f"assert failed: {what} is {got}, expected {expect}{detail}")
    rtt = f" in {r.rtt_ms:.1f} ms" if r.rtt_ms is not None and r.reachable else ""
    return Result(f"ok: {what} is {expect}{rtt}", data=data)


def _host_exec(ctx: Context, name: str, command: str) -> Result:
    host = name
    try:
        argv = shlex.split(command)
    except ValueError as err:
        raise VpclabError(f"host {host} exec: {err}") from None
    live = ctx.live
    status, out = ctx.api.host_exec(host, argv, output=live)
    shown = live is not None
    if live is not None and out and not out.endswith("\n"):
        live("\n")  # the prompt starts on a line of its own
    if status != 0:
        if not shown:
            ctx.emit(out.rstrip())
        raise VpclabError(f"host {host}: {argv[0]} exited with status {status}")
    return Result("" if shown else out.rstrip(), data={"status": status, "output": out})


def commands() -> list[Command]:
    """The probe commands."""
    return [
        Command("ping target=TARGET from host=HOST [count count=COUNT|timeout timeout=TIMEOUT|raw=raw]*", _ping, ("exec",),
                {"target": "Host name or address to ping", "host": "Host that sends the echos",
                 "count": "Number of echos to send (default 5)", "timeout": "Seconds to wait for each answer (default 1)",
                 "raw": "Show ping's own output instead of !!!!!"}),
        Command("traceroute target=TARGET from host=HOST [raw=raw]", _traceroute, ("exec",),
                {"target": "Host name or address", "host": "Host that sends the probes",
                 "raw": "Show traceroute's own output instead of named hops"}),
        Command("assert expect={reachable|unreachable} target=TARGET from host=HOST "
                "[protocol protocol={tcp|udp|icmp}|port port=PORT]*", _assert, ("exec",),
                {"target": "Host name or address", "host": "Host that sends the probe",
                 "protocol": "Probe protocol (default icmp; tcp with a port)", "port": "Destination port"}),
        Command("host name=HOST exec command=COMMAND", _host_exec, ("exec",),
                {"host": "Run a command in a host's namespace", "name": "Host name",
                 "command": "Command and its arguments (its output streams; Ctrl-C ends it)"}),
    ]
