"""Validation: every problem of a Config at once, each naming its object.

Messages follow CLI.md: `vpc api: cidr 10.1.0.0/16 overlaps vpc web
(segment prod)`. One module per kind of object holds its checks; each
returns its diagnostics and never stops at the first. `CHECKS` runs them
in the order their diagnostics are reported. The single-line checks that
the shell also runs when a line is typed are in `lines`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from engine.errors import Diagnostic
from engine.model import Config
from engine.validate import cxp, endpoints, firewall, interfaces, internet, names, prefix_list, segment, share, vpc
from engine.validate.lines import (
    cidr_problem,
    nat_problems,
    policy_entry_problems,
    ports_problems,
    prefix_list_entry_problems,
    prefix_problem,
    public_address_problem,
    zone_name_problem,
)

Check = Callable[[Config, Config], Iterable[Diagnostic]]

# Checks per object kind, in reporting order; `interfaces` comes last: it
# checks the links all the others' objects make.
CHECKS: tuple[Check, ...] = (names.check, cxp.check, vpc.check, prefix_list.check, segment.check, share.check, endpoints.check,
                             firewall.check, internet.check, interfaces.check)


def validate(config: Config, previous: Config | None = None) -> list[Diagnostic]:
    """Every diagnostic of `config`; an empty list means it can be committed.

    With `previous` (the running config), a conflict between an old and a
    new object is reported on the new one, which is what the user just typed.
    """
    before = previous or Config()
    out: list[Diagnostic] = []
    for check in CHECKS:
        out += check(config, before)
    return out


__all__ = ["CHECKS", "validate", "cidr_problem", "nat_problems", "policy_entry_problems", "ports_problems", "prefix_list_entry_problems",
           "prefix_problem", "public_address_problem", "zone_name_problem"]
