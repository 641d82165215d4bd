"""The `vpclab` program: argument handling, wiring of a real lab, exit codes.

This is the one shell module that imports lab/: it wires `LinuxFabric` into
the engine. Exit status, the same for -c, -f, piped stdin and apply: 0 ok;
1 a failing line or a file that is not vpclab input (`FILE:LINE: % ...`);
2 bad arguments, including a FILE that cannot be opened; 3 missing
privilege or system package (with what to do); never a traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from collections.abc import Callable
from typing import Any

from engine.compile.naming import LAB_NAME_RE
from engine.errors import SystemDependencyError, VpclabError
from shell.source import UnreadableFile

DEFAULT_LAB = "vpclab"
DEMO_LAB = "demo"
TOOLS = {"ip": "iproute2", "nft": "nftables", "ping": "iputils-ping", "traceroute": "traceroute",
         "conntrack": "conntrack"}
ACTIONS = ("apply", "demo", "destroy", "list", "monitor")

ApiFactory = Callable[[str], Any]


class Preflight(Exception):
    """Root or a system command is missing (exit 3)."""


def preflight() -> None:
    """Fail early, with what to do, when the lab cannot be built here."""
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        raise Preflight("vpclab builds network namespaces and needs root: run it with sudo "
                        "(for example: sudo .venv/bin/vpclab)")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        packages = " ".join(sorted({TOOLS[t] for t in missing}))
        raise Preflight(f"vpclab needs {', '.join(missing)}: install with 'apt-get install -y {packages}'")


def real_api(lab: str) -> Any:
    """A LabApi wired to the Linux realisation."""
    from engine.api import LabApi
    from lab.fabric import LinuxFabric
    from shell.confirm_watch import spawn

    return LabApi(lab, LinuxFabric(lab), watcher=spawn)


def is_lab_name(name: str) -> bool:
    """A lab name as namespaces need it (the whole string: no trailing newline)."""
    return re.fullmatch(LAB_NAME_RE, name) is not None


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The program's arguments (argparse exits 2 on bad ones)."""
    p = argparse.ArgumentParser(prog="vpclab", description="A multi-tenant cloud network fabric of real "
                                "Linux network namespaces, driven by a Cisco-style shell.")
    p.add_argument("--lab", help=f"lab name ([a-z][a-z0-9_]{{0,11}}; default {DEFAULT_LAB}, {DEMO_LAB} for demo)")
    p.add_argument("-c", dest="commands", action="append", metavar="CMD", help="run a command (repeatable)")
    p.add_argument("-f", dest="file", metavar="FILE", help="run a command script ('-' for stdin)")
    p.add_argument("--json", action="store_true", help="structured output (several commands: one list)")
    p.add_argument("--continue", dest="keep_going", action="store_true", help="run on after a failing line")
    p.add_argument("--replace", action="store_true", help="demo: replace a lab whose configuration is not the demo's")
    p.add_argument("action", nargs="?", choices=ACTIONS, help="apply FILE | demo | destroy | list | monitor")
    p.add_argument("target", nargs="?", help="the FILE of apply")
    args = p.parse_args(argv)
    args.lab = args.lab if args.lab is not None else DEMO_LAB if args.action == "demo" else DEFAULT_LAB
    if not is_lab_name(args.lab):
        p.error(f"bad lab name {args.lab!r}: a lowercase letter, then up to 11 of a-z, 0-9, _")
    if (args.action == "apply") != (args.target is not None):
        p.error("apply takes one FILE; other actions take none")
    if args.action and (args.commands or args.file):
        p.error(f"{args.action} does not combine with -c or -f")
    if args.replace and args.action != "demo":
        p.error("--replace goes with demo only")
    return args


def main(argv: list[str] | None = None, make_api: ApiFactory | None = None) -> int:
    """Entry point; tests pass `make_api` (a recording fabric) to skip root checks."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if make_api is None:
            preflight()
        factory = make_api or real_api
        if args.action == "list":
            from shell import actions

            return actions.list_labs(factory, args.json)
        return _dispatch(args, factory(args.lab))
    except Preflight as err:
        print(f"vpclab: {err}", file=sys.stderr)
        return 3
    except SystemDependencyError as err:
        print("\n".join(err.lines()), file=sys.stderr)
        return 3
    except UnreadableFile as err:
        print(f"vpclab: {err}", file=sys.stderr)
        return 2
    except VpclabError as err:
        print("\n".join(err.lines()), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 1


def _dispatch(args: argparse.Namespace, api: Any) -> int:
    from shell import actions
    from shell.batch import run_script
    from shell.language import interpreter
    from shell.source import numbered_lines, open_input
    from shell.state import ShellState

    state = ShellState(api=api, lab=args.lab, json=args.json, width=200, emit_error=_error_line, live=_stdout_live)
    interp = interpreter(state)
    if args.action == "destroy":
        return actions.destroy(api)
    for line in api.recover():  # a commit killed half way: said once, by the next process to attach
        _error_line(line)
    if args.action == "apply":
        return actions.apply(api, args.target)
    if args.action == "monitor":
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            print("vpclab: the monitor is full-screen and needs a terminal", file=sys.stderr)
            return 2
        if not api.exists():
            _error_line(f"% lab {api.name} does not exist: nothing to monitor ('vpclab list' shows the labs on this host)")
            return 1
        from tui.app import run as run_monitor

        return run_monitor(api)
    if args.commands:
        return run_script(interp, [(f"-c:{i}", c) for i, c in enumerate(args.commands, 1)], args.keep_going,
                          json_list=args.json and len(args.commands) > 1)
    if args.file:
        label = "stdin" if args.file == "-" else args.file
        return run_script(interp, numbered_lines(open_input(args.file), label), args.keep_going, json_list=args.json)
    if args.action == "demo":
        status = actions.demo(api, args.replace)
        if status:
            return status
    if not sys.stdin.isatty():  # `echo 'show vpcs' | vpclab`: a script, as vtysh reads it
        return run_script(interp, numbered_lines(open_input("-"), "stdin"), args.keep_going, json_list=args.json)
    return _interactive(state)


def _error_line(text: str) -> None:
    """Errors go to stderr after what stdout already holds, so a piped run's
    lines stay in order (stdout is block-buffered there, stderr is not)."""
    sys.stdout.flush()
    print(text, file=sys.stderr, flush=True)


def _stdout_live(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _interactive(state: Any) -> int:
    from shell.repl import Repl
    from shell.terminal import own_terminal

    state.emit_error = None
    state.term_length = max(shutil.get_terminal_size().lines - 1, 0)
    state.width = shutil.get_terminal_size().columns
    with own_terminal(sys.stdin.fileno()):
        return Repl(state).run()


if __name__ == "__main__":
    sys.exit(main())
