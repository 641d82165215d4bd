"""`show firewalls`, `show firewall NAME`, `show internet`: the firewalls and
internet edges of the running lab (engine/edge_views.py makes the rows)."""

from __future__ import annotations

from shell.context import Context
from shell.grammar.registry import Command
from shell.render import detail_result, rows_result
from shell.state import Result

FIREWALL_COLUMNS = ("name", "cxp", "instances", "zones", "rules", "default_action", "inspects")


def _firewalls(ctx: Context) -> Result:
    return rows_result(ctx.api.firewalls(), FIREWALL_COLUMNS, empty="No firewalls configured.")


def _firewall(ctx: Context, name: str) -> Result:
    d = ctx.api.firewall(name)
    head = {k: d[k] for k in ("name", "cxp", "instances", "default_action", "inspects")}
    sections = [("Instances", d["instance_list"]), ("Zones", d["zones"]), ("Legs (in every instance)", d["legs"]), ("Rules", d["rules"])]
    return detail_result(head, sections, d)


def _internet(ctx: Context) -> Result:
    d = ctx.api.internet()
    if not d["edges"]:
        return Result("No internet edges configured.", data=d)
    return detail_result({}, [("Internet edges", d["edges"]), ("Public hosts", d["public_hosts"]),
                              ("Load balancers", d["load_balancers"])], d)


def commands() -> list[Command]:
    """The firewall and internet show commands."""
    return [
        Command("show firewalls", _firewalls, ("exec",), {"firewalls": "Firewalls: instances, zones, what they inspect"}),
        Command("show firewall name=FIREWALL", _firewall, ("exec",),
                {"firewall": "Details of one firewall: instances and their connections, zones, legs, rules"}),
        Command("show internet", _internet, ("exec",), {"internet": "Internet edges, public hosts and load balancers"}),
    ]
