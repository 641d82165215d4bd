"""The `vpclab` program: argument handling, wiring of a real lab, exit codes.

This is the one shell module that imports lab/: it wires `LinuxFabric` into
the engine. Exit status: 0 ok, 1 a failing line, 2 bad arguments, 3 missing
privilege or system package (with what to do), never a traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from collections.abc import Callable
from typing import Any

from engine.errors import SystemDependencyError, VpclabError

LAB_NAME = re.compile(r"^[a-z][a-z0-9_]{0,11}$")
TOOLS = {"ip": "iproute2", "nft": "nftables", "ping": "iputils-ping", "traceroute": "traceroute",
         "dnsmasq": "dnsmasq-base", "conntrack": "conntrack"}
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


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The program's arguments (argparse exits 2 on bad ones)."""
    p = argparse.ArgumentParser(prog="vpclab", description="A multi-tenant cloud network fabric of real "
                                "Linux network namespaces, driven by a Cisco-style shell.")
    p.add_argument("--lab", default="vpclab", help="lab name ([a-z][a-z0-9_]{0,11}; default vpclab)")
    p.add_argument("-c", dest="commands", action="append", metavar="CMD", help="run a command (repeatable)")
    p.add_argument("-f", dest="file", metavar="FILE", help="run a command script ('-' for stdin)")
    p.add_argument("--json", action="store_true", help="structured output for show commands")
    p.add_argument("--continue", dest="keep_going", action="store_true", help="run on after a failing line")
    p.add_argument("action", nargs="?", choices=ACTIONS, help="apply FILE | demo | destroy | list | monitor")
    p.add_argument("target", nargs="?", help="the FILE of apply")
    args = p.parse_args(argv)
    if not LAB_NAME.match(args.lab):
        p.error(f"bad lab name {args.lab!r}: a lowercase letter, then up to 11 of a-z, 0-9, _")
    if (args.action == "apply") != (args.target is not None):
        p.error("apply takes one FILE; other actions take none")
    if args.action and (args.commands or args.file):
        p.error(f"{args.action} does not combine with -c or -f")
    return args


def main(argv: list[str] | None = None, make_api: ApiFactory | None = None) -> int:
    """Entry point; tests pass `make_api` (a recording fabric) to skip root checks."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.action == "list":
            return _list(args)
        if make_api is None:
            preflight()
        api = (make_api or real_api)(args.lab)
        return _dispatch(args, api)
    except Preflight as err:
        print(f"vpclab: {err}", file=sys.stderr)
        return 3
    except SystemDependencyError as err:
        print("\n".join(err.lines()), file=sys.stderr)
        return 3
    except VpclabError as err:
        print("\n".join(err.lines()), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 1


def _list(args: argparse.Namespace) -> int:
    from engine.api import list_labs

    labs = list_labs()
    if args.json:
        import json

        print(json.dumps(labs))
    else:
        print("\n".join(labs) if labs else "No labs on this host.")
    return 0


def _dispatch(args: argparse.Namespace, api: Any) -> int:
    from shell.batch import numbered, run_script
    from shell.interpreter import Interpreter
    from shell.state import ShellState

    state = ShellState(api=api, lab=args.lab, json=args.json, width=200,
                       emit_error=_error_line)
    interp = Interpreter(state)
    if args.action == "destroy":
        count = api.destroy()
        print(f"Destroyed lab {args.lab}: {count} namespaces removed.")
        return 0
    if args.action == "apply":
        return _apply(api, args.target)
    if args.action == "monitor":
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            print("vpclab: the monitor is full-screen and needs a terminal", file=sys.stderr)
            return 2
        from tui.app import run as run_monitor

        return run_monitor(api)
    if args.commands:
        return run_script(interp, [(f"-c:{i}", c) for i, c in enumerate(args.commands, 1)], args.keep_going)
    if args.file:
        try:
            text = sys.stdin.read() if args.file == "-" else open(args.file, encoding="utf-8").read()
        except OSError as err:
            print(f"vpclab: cannot read {args.file}: {err.strerror}", file=sys.stderr)
            return 2
        return run_script(interp, numbered("-" if args.file == "-" else args.file, text), args.keep_going)
    if args.action == "demo":
        status = _build_demo(api)
        if status:
            return status
    return _interactive(state)


def _apply(api: Any, path: str) -> int:
    """Make FILE the whole candidate and commit it; a second apply changes nothing."""
    from shell.commands.session import counts_text
    from shell.loader import read_config_file

    api.set_candidate(read_config_file(path))
    result = api.commit(comment=f"apply {os.path.basename(path)}")
    if result.number is None or result.changes.empty:
        print(f"No changes: the lab already matches {path}.")
    else:
        print(f"Commit {result.number} done in {result.seconds:.2f} s: {counts_text(result.changes.counts())}.")
    return 0


def _error_line(text: str) -> None:
    """Errors go to stderr after what stdout already holds, so a piped run's
    lines stay in order (stdout is block-buffered there, stderr is not)."""
    sys.stdout.flush()
    print(text, file=sys.stderr, flush=True)


def _build_demo(api: Any) -> int:
    from shell.demo import BANNER, DEMO_CONFIG
    from shell.loader import parse_config

    api.set_candidate(parse_config(DEMO_CONFIG, source="demo"))
    result = api.commit(comment="demo")
    if result.number is not None and not result.changes.empty:
        print(f"Built the demo lab (commit {result.number}, {result.seconds:.2f} s).")
    print(BANNER.replace("LAB.", f"{api.name}."))
    return 0


def _interactive(state: Any) -> int:
    from shell.repl import Repl

    state.emit_error = None
    if sys.stdin.isatty():
        state.term_length = max(shutil.get_terminal_size().lines - 1, 0)
        state.width = shutil.get_terminal_size().columns
    return Repl(state).run()


if __name__ == "__main__":
    sys.exit(main())
