"""Probes from hosts: ping, traceroute, assert, host exec (real packets, via LabApi)."""

from __future__ import annotations

import shlex
from typing import Any

from engine.errors import VpclabError
from shell.grammar.registry import Command
from shell.state import Result

ASSERT_TIMEOUT = 1.0


class AssertionFailed(VpclabError):
    """`assert` disagreed with the real probe (a failing batch line)."""


def _ping(sh: Any, v: dict[str, str]) -> Result:
    _status, out = sh.state.api.ping(v["target"], v["host"], count=int(v.get("count", "5")),
                                     timeout=float(v.get("timeout", "1")))
    return Result(out.rstrip())


def _traceroute(sh: Any, v: dict[str, str]) -> Result:
    _status, out = sh.state.api.traceroute(v["target"], v["host"])
    return Result(out.rstrip())


def _assert(sh: Any, v: dict[str, str]) -> Result:
    protocol = v.get("protocol") or ("tcp" if "port" in v else "icmp")
    port = int(v["port"]) if "port" in v else None
    if protocol in ("tcp", "udp") and port is None:
        raise VpclabError(f"assert: protocol {protocol} needs a port")
    if protocol == "icmp" and port is not None:
        raise VpclabError("assert: icmp takes no port")
    want = v["expect"] == "reachable"
    r = sh.state.api.probe(v["target"], v["host"], protocol, port, ASSERT_TIMEOUT)
    what = f"{v['target']} from {v['host']} ({protocol}{f' port {port}' if port else ''})"
    detail = f": {r.detail}" if r.detail else ""
    data = {"expect": v["expect"], "target": v["target"], "from": v["host"], "protocol": protocol, "port": port,
            "reachable": r.reachable, "arrived": r.arrived, "refused": r.refused, "rtt_ms": r.rtt_ms,
            "detail": r.detail, "ok": r.reachable == want}
    if r.reachable != want:
        got = "reachable" if r.reachable else "unreachable"
        raise AssertionFailed(f"assert failed: {what} is {got}, expected {v['expect']}{detail}")
    rtt = f" in {r.rtt_ms:.1f} ms" if r.rtt_ms is not None and r.reachable else ""
    return Result(f"ok: {what} is {v['expect']}{rtt}", data=data)


def _host_exec(sh: Any, v: dict[str, str]) -> Result:
    try:
        argv = shlex.split(v["command"])
    except ValueError as err:
        raise VpclabError(f"host {v['host']} exec: {err}") from None
    status, out = sh.state.api.host_exec(v["host"], argv)
    if status != 0:
        sh.state.emit(out.rstrip())
        raise VpclabError(f"host {v['host']}: {argv[0]} exited with status {status}")
    return Result(out.rstrip(), data={"status": status, "output": out})


def commands() -> list[Command]:
    """The probe commands."""
    return [
        Command("ping target=TARGET from host=HOST [count count=COUNT|timeout timeout=TIMEOUT]*", _ping, ("exec",),
                {"target": "Host name or address to ping", "host": "Host that sends the pings"}),
        Command("traceroute target=TARGET from host=HOST", _traceroute, ("exec",),
                {"target": "Host name or address", "host": "Host that sends the probes"}),
        Command("assert expect={reachable|unreachable} target=TARGET from host=HOST "
                "[protocol protocol={tcp|udp|icmp}|port port=PORT]*", _assert, ("exec",),
                {"target": "Host name or address", "host": "Host that sends the probe",
                 "protocol": "Probe protocol (default icmp; tcp with a port)"}),
        Command("host host=HOST exec command=COMMAND", _host_exec, ("exec",),
                "Run a command in a host's namespace", ),
    ]
