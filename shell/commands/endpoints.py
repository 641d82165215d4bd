"""`show endpoints`: the interface endpoints of provider services."""

from __future__ import annotations

from shell.context import Context
from shell.grammar.registry import Command
from shell.render import rows_result
from shell.state import Result

COLUMNS = ("service", "endpoint", "vpc", "address", "port", "reached_by", "connections")


def _endpoints(ctx: Context) -> Result:
    return rows_result(ctx.api.endpoints(), COLUMNS, empty="No endpoints configured.")


def commands() -> list[Command]:
    """The endpoint views."""
    return [Command("show endpoints", _endpoints, ("exec",),
                    {"endpoints": "Endpoints of provider services: who reaches them, their connections"})]
