"""Model against packets: `trace`, `verify`, `repair`.

`trace` prints the path the data-path model predicts, then what the real
probe did at each namespace, and `agree` or where they part; `verify` does
that for every ordered pair of groups at once, as a matrix; `repair` puts
back what `show lab health` finds drifted. A disagreement fails the line
(exit status 1 in a batch) after its output is printed.
"""

from __future__ import annotations

from typing import Any

from engine.errors import VpclabError
from shell.context import Context
from shell.grammar.registry import Command
from shell.plain import columns
from shell.state import Result


def probe_args(protocol: str | None, port: int | None, what: str) -> str:
    """The protocol of a probe command: icmp by default, tcp when only a
    port is given; a port is required by tcp and udp and refused by icmp."""
    protocol = protocol or ("tcp" if port is not None else "icmp")
    if protocol in ("tcp", "udp") and port is None:
        raise VpclabError(f"{what}: protocol {protocol} needs a port (add 'port N')")
    if protocol == "icmp" and port is not None:
        raise VpclabError(f"{what}: icmp takes no port")
    return protocol


def _end(address: str, port: int | None) -> str:
    return f"{address}:{port}" if port is not None else address


def _notes(prev: Any, hop: Any, links: Any) -> str:
    """What happened at a hop, for people: NAT, the link it left by, the rule."""
    out = []
    if prev is not None and hop.egress is not None:
        if prev.src != hop.src:
            out.append(f"snat {prev.src} -> {hop.src}")
        if prev.dst != hop.dst:
            out.append(f"dnat {prev.dst} -> {hop.dst}")
    meaning = links(hop.ns, hop.egress)
    if meaning and hop.egress and not hop.egress.startswith(("eth", "b.", "h.")):
        out.append(meaning)
    if hop.rule:
        out.append(("dropped: " if hop.egress is None else "") + hop.rule)
    return "; ".join(out)


def hop_lines(hops: list[Any], links: Any) -> list[str]:
    """Numbered hop rows in plain columns."""
    rows = []
    prev = None
    for i, h in enumerate(hops, 1):
        via = f"{h.ingress or '-'} -> {h.egress or '-'}"
        rows.append([f"{i:>2}", h.node, via, f"{_end(h.src, h.sport)} > {_end(h.dst, h.dport)}", _notes(prev, h, links)])
        prev = h
    return list(columns(rows, indent=2))


def _trace(ctx: Context, target: str, host: str, protocol: str | None = None, port: int | None = None) -> Result:
    protocol = probe_args(protocol, port, "trace")
    api = ctx.api
    r = api.trace(target, host, protocol, port)
    links = api.model().graph.describe_link
    first = r.walk.hops[0] if r.walk.hops else None
    what = f"{protocol}{f' port {port}' if port else ''}" + (f", source port {first.sport}" if first and first.sport else "")
    lines = [f"trace {target} from {host} ({what})", "Predicted:"]
    lines += hop_lines(list(r.walk.hops), links)
    lines.append(f"  verdict: {r.walk.outcome.verdict} ({r.walk.outcome.reason})")
    lines.append("Observed:")
    lines += hop_lines(list(r.observed), links)
    lines.append(f"  probe: {'reachable' if r.probe.reachable else 'unreachable'} ({r.probe.detail})")
    lines.append("agree" if r.agree else r.difference.sentence())
    return Result("\n".join(lines), data=r.as_dict(), failure=None if r.agree else f"trace: {r.difference.sentence()}")


MARKS = {(True, True): "Y", (False, False): ".", (True, False): "X", (False, True): "+"}
LEGEND = ("Y reachable, . unreachable, as intended;  X intended reachable but not observed;  "
          "+ observed reachable but not intended.  A cell is one mark per probe: icmp, then the target's services; "
          "an endpoint's, its service's port.")


def _verify(ctx: Context, segment: str | None = None) -> Result:
    scope, checks = ctx.api.verify(segment)
    index = {u: i for i, u in enumerate(scope, 1)}
    cells: dict[tuple[Any, Any], str] = {}
    probes: dict[Any, list[str]] = {}
    for c in checks:
        cells[(c.src, c.dst)] = cells.get((c.src, c.dst), "") + MARKS[(c.intended, bool(c.observed))]
        what = "icmp" if c.protocol == "icmp" else f"{c.protocol} {c.port} {c.dst_host}"
        probes.setdefault(c.dst, [])
        if what not in probes[c.dst]:
            probes[c.dst].append(what)
    bad = [c for c in checks if not c.agree]
    rows = [["", "", *[str(i) for i in index.values()]]]
    rows += [[str(index[u]), u.name if u.name.startswith("host ") else f"{u.name} ({u.rep})", *[cells.get((u, d), "-") for d in scope]]
             for u in scope if u.hosts]  # an endpoint is a column only: it never probes
    lines = [f"verify{' segment ' + segment if segment else ''}: {len(scope)} units, "
             f"{len(checks)} probes, {len(checks) - len(bad)} as intended, {len(bad)} not", *columns(rows), LEGEND]
    lines += [f"{index[u]:>3}  {u.name}: " + ", ".join(probes.get(u, ["icmp"])) for u in scope]
    if bad:
        lines.append("Disagreements:")
        lines += [f"  {c.src_host} -> {c.dst_host} ({c.address}) {c.protocol}{f' {c.port}' if c.port else ''}: intended "
                  f"{'reachable' if c.intended else 'unreachable'} ({c.reason}); observed {c.detail}" for c in bad]
    data = {"units": [{"index": index[u], "name": u.name, "segment": u.segment, "hosts": list(u.hosts)} for u in scope],
            "checks": [c.as_dict() for c in checks], "agree": not bad, "disagreements": len(bad)}
    return Result("\n".join(lines), data=data, failure=f"verify: {len(bad)} of {len(checks)} probes disagree" if bad else None)


def _repair(ctx: Context) -> Result:
    done = ctx.api.repair()
    return Result("\n".join(done) if done else "Nothing to repair: the lab matches the running configuration.", data=done)


def commands() -> list[Command]:
    """The model-against-packets commands."""
    return [
        Command("trace target=TARGET from host=HOST [protocol protocol={tcp|udp|icmp}|port port=PORT]*", _trace, ("exec",),
                {"trace": "Predicted path of a probe, checked by a real one",
                 "target": "Host name or address", "host": "Host that sends the probe",
                 "protocol": "Probe protocol (default icmp; tcp with a port)", "port": "Destination port"}),
        Command("repair", _repair, ("exec",), {"repair": "Put back what 'show lab health' finds drifted"}),
        Command("verify [segment segment=SEGMENT]", _verify, ("exec",),
                {"verify": "Intended against observed reachability of every pair of groups",
                 "segment": "Only this segment and the segments it shares with"}),
    ]
