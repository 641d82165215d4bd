"""`show flows` and `clear flows`: one row per connection, in plain columns.

A busy lab has 100,000 connections: the rows go out as plain text columns
that stream (shell/plain.py), not through rich's Table, which measures
every cell before printing the first line.
"""

from __future__ import annotations

from typing import Any

from shell.context import Context
from shell.grammar.registry import Command
from shell.plain import columns
from shell.state import Result

HEADERS = ("segment", "protocol", "src", "sport", "dst", "dport", "application", "state", "nat", "path", "age", "rule",
           "packets out", "bytes out", "packets in", "bytes in")  # fmt: skip


def _endpoint(address: str | None, port: int | None) -> str:
    return f"{address}:{port}" if port is not None else f"{address}"


def _node(hop: dict[str, Any]) -> str:
    """A hop, short: `prod@core` for a segment router, else its node name."""
    words = hop["node"].split()
    if hop["kind"] == "segment-router" and len(words) == 4:
        return f"{words[1]}@{words[3]}"
    return str(hop["node"])


def _cells(r: dict[str, Any]) -> list[str]:
    nat = r["nat"]
    return [
        r["segment"] or "-", r["protocol"], r["src"], str(r["sport"] if r["sport"] is not None else "-"), r["dst"],
        str(r["dport"] if r["dport"] is not None else "-"), r["application"] or "-", r["state"] or "-",
        f"{_endpoint(nat['src'], nat['sport'])} -> {_endpoint(nat['dst'], nat['dport'])}" if nat else "-",
        " > ".join(_node(h) for h in r["path"]) or "-", f"{r['age']:.0f}s" if r["age"] is not None else "-",
        r["rule"] or "-", str(r["packets_out"]), str(r["bytes_out"]), str(r["packets_in"]), str(r["bytes_in"]),
    ]  # fmt: skip


def _flows(ctx: Context, **filters: Any) -> Result:
    """Filters (segment, vpc, host, share, protocol, port, address, sort, top) go to the engine as given."""
    rows = ctx.api.flows(**filters)
    if not rows:
        return Result("No flows.", data=[])
    lines = columns((_cells(r) for r in rows), HEADERS)
    if ctx.live is None:
        return Result("\n".join(lines), data=rows)
    chunk: list[str] = []
    for line in lines:  # straight to the terminal, a thousand lines at a time
        chunk.append(line)
        if len(chunk) == 1000:
            ctx.live("\n".join(chunk) + "\n")
            chunk = []
    ctx.live("".join(f"{line}\n" for line in chunk))
    return Result("", data=rows)


def _clear_flows(ctx: Context) -> Result:
    n = ctx.api.clear_flows()
    return Result(f"Flows cleared in {n} router(s).", data={"routers": n})


def commands() -> list[Command]:
    """The flow commands."""
    return [
        Command("show flows [segment segment=SEGMENT|vpc vpc=VPC|host host=HOST|share share=SHARE"
                "|protocol protocol={tcp|udp|icmp}|port port=PORT|address address=ADDRESS|sort sort={bytes|packets|age}|top top=COUNT]*",
                _flows, ("exec",), {"segment": "Only flows crossing this segment", "vpc": "Only flows of this VPC",
                                    "host": "Only flows of this host", "share": "Only flows through this share",
                                    "address": "Flows with this address (either side, or NAT)",
                                    "protocol": "Only flows of this protocol", "port": "Only flows with this port (either side)",
                                    "sort": "Order of rows", "top": "Only the first N rows", "bytes": "Most bytes first",
                                    "packets": "Most packets first", "age": "Oldest first"}),
        Command("clear flows", _clear_flows, ("exec",), {"flows": "Forget tracked connections"}),
    ]
