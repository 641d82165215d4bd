"""Start, find, supervise and stop the processes of a lab's services.

A process is started straight into its namespace: the forked child joins
the namespace (setns) before exec, so there is no `ip netns exec` and its
mount-table copy. Each process carries a marker on its command line
(`vpclab-svc=LAB~VPC~NAME`), which is how it is found again by any later
process (a commit, `show services`, destroy) without PID files that could
go stale: a scan of /proc/*/cmdline costs about a millisecond.

A process keeps its namespace alive after the namespace's name is gone,
so destroy stops every process of the lab first, by marker and by the
namespaces it runs in.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from engine.plan import ServiceItem
from lab import netns

RUN_ROOT = os.environ.get("VPCLAB_RUN_DIR", "/run/vpclab-run")
CLONE_NEWNET = 0x40000000
START_TIMEOUT = 5.0


def run_dir(lab: str) -> str:
    """Runtime files of a lab: hosts files, pages, the policy log."""
    path = os.path.join(RUN_ROOT, lab)
    os.makedirs(path, exist_ok=True)
    return path


def marker(tag: str) -> str:
    """The command-line marker of a service."""
    return "vpclab-svc=" + tag.replace("/", "~")


def lab_of(tag: str) -> str:
    return tag.split("/", 1)[0]


def log_path(lab: str) -> str:
    """Where `log` policy entries are written."""
    return os.path.join(run_dir(lab), "policy.log")


@dataclass(frozen=True)
class Running:
    """A found service process."""

    pid: int
    marker: str


def scan(prefix: str) -> dict[str, int]:
    """Markers starting with `prefix` -> PID, from /proc."""
    out: dict[str, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                args = fh.read().split(b"\0")
        except OSError:
            continue
        for arg in args:
            text = arg.decode(errors="replace")
            at = text.find(prefix)
            if at >= 0:
                mark = text[at:].split(".hosts")[0]
                out.setdefault(mark, int(entry))
                break
    return out


def _argv(item: ServiceItem, data_file: str, ready: int | None) -> list[str]:
    mark = marker(item.tag)
    if item.kind == "dns":
        return [
            "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll",
            f"--addn-hosts={data_file}", f"--port={item.port}", "--bind-interfaces", f"--listen-address={item.address}",
            f"--local=/{lab_of(item.tag)}/", "--user=root", "--group=root", "--pid-file=", "--log-facility=/dev/null",
        ]  # fmt: skip
    argv = [sys.executable, "-m", "lab.servers", item.kind, f"--marker={mark}", f"--ready-fd={ready}"]
    if item.kind == "policy-log":
        return argv + [f"--out={log_path(lab_of(item.tag))}", f"--where={item.ns}"]
    return argv + [f"--port={item.port}", f"--data={data_file}"]


def _pkg_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start(items: list[ServiceItem]) -> None:
    """Start services (restarting any already running), and wait until each
    listens; raises OSError naming the first that did not come up."""
    if not items:
        return
    running = scan("vpclab-svc=")
    stop([i for i in items if marker(i.tag) in running], running)
    pending: list[tuple[ServiceItem, subprocess.Popen[bytes], int | None]] = []
    for item in items:
        pending.append(_spawn(item))
    deadline = time.monotonic() + START_TIMEOUT
    for item, proc, ready in pending:
        _wait_ready(item, proc, ready, deadline)


def _spawn(item: ServiceItem) -> tuple[ServiceItem, subprocess.Popen[bytes], int | None]:
    lab = lab_of(item.tag)
    data_file = os.path.join(run_dir(lab), marker(item.tag) + (".hosts" if item.kind == "dns" else ".data"))
    with open(data_file, "w") as fh:
        fh.write(item.data)
    read_fd, write_fd = (None, None) if item.kind == "dns" else os.pipe()
    fd = netns.open_fd(item.ns)

    def enter() -> None:  # runs in the child, before exec
        if netns._libc.setns(fd, CLONE_NEWNET) != 0:
            os._exit(111)

    env = dict(os.environ, PYTHONPATH=_pkg_root() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        proc = subprocess.Popen(
            _argv(item, data_file, write_fd),
            preexec_fn=enter,
            pass_fds=(write_fd,) if write_fd is not None else (),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True, env=env, cwd="/",
        )  # fmt: skip
    finally:
        os.close(fd)
        if write_fd is not None:
            os.close(write_fd)
    return item, proc, read_fd


def _wait_ready(item: ServiceItem, proc: subprocess.Popen[bytes], ready: int | None, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = (proc.stderr.read() if proc.stderr else b"").decode(errors="replace").strip()
            raise OSError(f"service {item.name} ({item.kind}) in {item.ns} exited at start: {err[-300:]}")
        if ready is not None:
            os.set_blocking(ready, False)
            try:
                if os.read(ready, 1):
                    os.close(ready)
                    _detach(proc)
                    return
            except BlockingIOError:
                pass
        elif _listening(proc.pid, item.port or 0):
            _detach(proc)
            return
        time.sleep(0.005)
    proc.kill()
    raise OSError(f"service {item.name} ({item.kind}) in {item.ns} did not start within {START_TIMEOUT:.0f} s")


def _detach(proc: subprocess.Popen[bytes]) -> None:
    """The service outlives this process: stop reading its stderr."""
    if proc.stderr:
        proc.stderr.close()
    proc.returncode = 0  # never waited for here; the kernel reparents it on our exit


def _listening(pid: int, port: int) -> bool:
    """Is a UDP socket bound to `port` in the namespace of `pid`?"""
    want = f":{port:04X} "
    try:
        with open(f"/proc/{pid}/net/udp") as fh:
            return any(want in line.split("00000000:0000")[0] for line in fh.readlines()[1:])
    except OSError:
        return False


def stop(items: list[ServiceItem], running: dict[str, int] | None = None) -> None:
    """Stop services by their marker (missing ones are fine)."""
    running = scan("vpclab-svc=") if running is None else running
    kill([running[m] for m in (marker(i.tag) for i in items) if m in running])


def kill(pids: list[int], grace: float = 1.0) -> None:
    """SIGTERM, then SIGKILL what is still there after `grace` seconds."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _alive(p)]
        if alive:
            time.sleep(0.01)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def status(items: list[ServiceItem]) -> dict[str, int | None]:
    """Service key (ns/name) -> PID, or None when its process is gone."""
    running = scan("vpclab-svc=")
    return {f"{i.ns}/{i.name}": running.get(marker(i.tag)) for i in items}


def processes_in(namespaces: list[str]) -> list[int]:
    """PIDs of every process inside these namespaces (all of them ours)."""
    inodes = set()
    for name in namespaces:
        try:
            inodes.add(os.stat(netns.path(name)).st_ino)
        except OSError:
            continue
    me = os.getpid()
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != me:
            try:
                if os.stat(f"/proc/{entry}/ns/net").st_ino in inodes:
                    out.append(int(entry))
            except OSError:
                continue
    return out


def stop_lab(lab: str, namespaces: list[str]) -> None:
    """Stop every process of a lab: by marker, and anything left in its namespaces."""
    pids = set(scan(marker(f"{lab}/")).values()) | set(processes_in(namespaces))
    kill(sorted(pids))
    path = os.path.join(RUN_ROOT, lab)
    if os.path.isdir(path):
        for name in os.listdir(path):
            os.unlink(os.path.join(path, name))
        os.rmdir(path)
