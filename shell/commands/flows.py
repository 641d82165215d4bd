"""`show flows` and `clear flows`: one row per connection, in plain columns.

A busy lab has 100,000 connections: the rows go out as plain text columns
that stream (shell/plain.py; to the terminal as they are made when nothing
filters them), not through rich's Table, which measures every cell before
printing the first line; the JSON rows are made only when asked for.
"""

from __future__ import annotations

import gc
from itertools import chain, islice
from typing import Any

from engine.flows import TEXT_COLUMNS
from engine.session import gc_paused
from shell.context import Context
from shell.grammar.registry import Command
from shell.plain import heading, widths
from shell.state import Result


def _flows(ctx: Context, **filters: Any) -> Result:
    """Filters (segment, vpc, host, share, protocol, port, address, sort, top)
    go to the engine as given; the rows' dicts are made only for JSON."""
    gc.unfreeze()  # what the last `show flows` froze is collectable again
    with gc_paused():  # hundreds of thousands of young objects, none cyclic: collections only cost
        try:
            return _show(ctx, filters)
        finally:
            # the rows' objects stay alive until the result is printed: frozen, the collector
            # does not walk them all once it is on again (0.3 s for 100,000 connections)
            gc.freeze()


def _show(ctx: Context, filters: dict[str, Any]) -> Result:
    view = ctx.api.flow_view(**filters)
    if not len(view):
        return Result("No flows.", data=[])
    sizes = widths(list(islice(view.cells(), 500)), TEXT_COLUMNS)  # sized on the first rows, as plain.columns does
    lines = chain(heading(TEXT_COLUMNS, sizes), view.lines(sizes))
    if ctx.live is None:
        return Result("\n".join(lines), data=view.rows)
    chunk: list[str] = []
    for line in lines:  # straight to the terminal, a thousand lines at a time
        chunk.append(line)
        if len(chunk) == 1000:
            ctx.live("\n".join(chunk) + "\n")
            chunk = []
    ctx.live("".join(f"{line}\n" for line in chunk))
    return Result("", data=view.rows)


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
