"""The program's actions on whole labs: apply, demo, destroy, list.

Each returns the program's exit status and prints what it did; errors go
to stderr as `% ` lines. `demo` builds into its own lab (`demo` unless
--lab names another) and will not replace a lab whose configuration is not
the demo's unless given --replace; `destroy` of a lab that does not exist
says so (exit 1) after removing what vpclab left of it; `list` shows every
lab's commit, hubs, VPCs, namespaces and health, as containerlab's
`inspect` does.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.compile.naming import LAB_NAME_RE
from shell.commands.commit import commit_text
from shell.output import render_text
from shell.render import rows_result

if TYPE_CHECKING:
    from engine.api import LabApi

LIST_COLUMNS = ("lab", "commit", "hubs", "vpcs", "namespaces", "health")


def _error(text: str) -> None:
    sys.stdout.flush()
    print(text, file=sys.stderr, flush=True)


def apply(api: LabApi, path: str) -> int:
    """Make FILE the whole candidate and commit it; a second apply changes nothing."""
    from shell.loader import read_config_file

    api.set_candidate(read_config_file(path))
    result = api.commit(comment=f"apply {os.path.basename(path)}")
    if result.number is None:
        healed = [m for m in result.messages if not m.startswith("No configuration changes")]
        print("\n".join([*healed, f"No changes: the lab already matches {path}."]))
    else:
        print(commit_text(result).text)
    return 0


def demo(api: LabApi, replace: bool) -> int:
    """Build the demo into `api`'s lab; 0 when the shell may open on it."""
    from shell.demo import BANNER, DEMO_CONFIG
    from shell.loader import parse_config

    wanted = parse_config(DEMO_CONFIG, source="demo")
    running = api.running
    if running != wanted and not running.is_empty() and not replace:
        lab = api.name
        _error(f"% lab {lab} holds a configuration that is not the demo's (commit {api.commit_number()}); nothing was changed.\n"
               f"% 'vpclab --lab {lab} demo --replace' replaces it with the demo, 'vpclab --lab {lab}' opens it as it is,\n"
               f"% and 'vpclab --lab NAME demo' builds the demo in another lab.")
        return 1
    api.set_candidate(wanted)
    result = api.commit(comment="demo")
    if result.number is not None and not result.changes.empty:
        print(f"Built the demo lab {api.name} (commit {result.number}, {result.seconds:.2f} s).")
    print(BANNER.replace("LAB.", f"{api.name}."))
    return 0


def destroy(api: LabApi) -> int:
    """Remove the lab; a lab that does not exist is an error (after removing
    whatever vpclab left of it under that name). Namespaces with the lab's
    prefix that vpclab did not make are named and left."""
    existed = api.exists()
    done = api.destroy()
    for pid in done.ended:
        _error(f"% ended process {pid}, which was committing to lab {api.name}")
    for ns in done.foreign:
        _error(f"% left namespace {ns}: vpclab did not make it (it has no vpclab mark); 'ip netns del {ns}' removes it")
    if existed:
        print(f"Destroyed lab {api.name}: {done.removed} namespaces removed.")
        return 0
    if done.removed:
        _error(f"% lab {api.name} does not exist; removed {done.removed} namespace(s) left of it.")
    else:
        _error(f"% lab {api.name} does not exist: nothing to destroy ('vpclab list' shows the labs on this host).")
    return 1


def lab_row(api: LabApi) -> dict[str, Any]:
    """One lab as `vpclab list` shows it."""
    config = api.running
    health = api.health()
    spaces = [d for d in health.drift if d.kind == "namespace"]
    present = health.summary.get("namespaces", 0) - sum(d.problem == "missing" for d in spaces) \
        + sum(d.problem == "unexpected" for d in spaces)
    problems = len(health.drift)
    return {"lab": api.name, "commit": api.commit_number(),
            "hubs": sorted({v.cxp for v in config.vpcs} | set(config.names("cxp"))),
            "vpcs": len(config.vpcs), "namespaces": present,
            "health": "ok" if not problems else f"{problems} problem(s): 'vpclab --lab {api.name} -c \"show lab health\"'",
            "problems": problems}


def _row_or_problem(make_api: Callable[[str], LabApi], name: str) -> dict[str, Any]:
    """A lab's row; a lab whose state cannot be read is listed as such, not
    left out, and does not hide the others."""
    try:
        return lab_row(make_api(name))
    except Exception as err:  # noqa: BLE001 - reported in the row
        return {"lab": name, "commit": None, "hubs": [], "vpcs": None, "namespaces": None,
                "health": f"state unreadable: {err}", "problems": None}


def list_labs(make_api: Callable[[str], LabApi], as_json: bool) -> int:
    """`vpclab list`: every lab on this host."""
    from engine.api import list_labs as names

    rows = [_row_or_problem(make_api, name) for name in names() if re.fullmatch(LAB_NAME_RE, name)]
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        print(render_text(rows_result(rows, LIST_COLUMNS, empty="No labs on this host."), 200))
    return 0
