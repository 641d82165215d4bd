"""Start, find, supervise and stop the processes of a lab's services.

A process is started straight into its namespace (lab/netns.popen_in), so
there is no `ip netns exec` and its mount-table copy. Each process carries
a marker on its command line (`vpclab-svc=LAB~VPC~NAME`) as one exact
argument (`--marker=M`), which is how it is found again by any later
process (a commit, `show services`, destroy) without PID files that could
go stale. A service's data (an http page, a dns server's views) lives in
a file beside it, `RUN_DIR/LAB/M.data`; a dns server reads its file again
when it changes, so new views need no restart (`write_data`).

Only processes that are provably ours are ever signalled: owned by our
user, running `python -m lab.servers`, with the exact marker argument; the signal goes through a pidfd opened before that check, so a
PID reused in between cannot be hit. A process keeps its namespace alive
after the namespace's name is gone, so destroy stops every process of the
lab first, by marker and by the namespaces it runs in.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import IO

from engine.items import ServiceItem
from lab import netns

RUN_ROOT = os.environ.get("VPCLAB_RUN_DIR", "/run/vpclab-run")
START_TIMEOUT = 5.0
MARK = "vpclab-svc="

# children started by this process: polled so that none stays a zombie
_children: list[subprocess.Popen[bytes]] = []


def run_dir(lab: str) -> str:
    """Runtime files of a lab: services' data, their stderr, the policy log.

    Another lab's destroy removes RUN_ROOT when it is empty (stop_lab), so
    it can vanish between makedirs' mkdir of RUN_ROOT and of the lab's
    directory (ENOENT): made again then. Once the lab's directory exists
    RUN_ROOT is not empty and stays."""
    path = os.path.join(RUN_ROOT, lab)
    for _ in range(20):
        try:
            os.makedirs(path, exist_ok=True)
            return path
        except FileNotFoundError:
            continue
    os.makedirs(path, exist_ok=True)
    return path


def marker(tag: str) -> str:
    """The command-line marker of a service."""
    return MARK + tag.replace("/", "~")


def lab_of(tag: str) -> str:
    return tag.split("/", 1)[0]


def log_path(lab: str) -> str:
    """Where `log` policy entries are written (reading it makes no directory:
    an empty one would outlive the lab)."""
    return os.path.join(RUN_ROOT, lab, "policy.log")


def _reap() -> None:
    _children[:] = [p for p in _children if p.poll() is None]


def _marker_of(args: list[bytes]) -> str | None:
    """The marker of a command line that is one of our services, else None."""
    text = [a.decode(errors="replace") for a in args if a]
    for arg in text:
        if arg.startswith("--marker=" + MARK) and "lab.servers" in text[:3]:
            return arg[len("--marker=") :]
    return None


def scan(prefix: str) -> dict[str, list[int]]:
    """Markers starting with `prefix` -> PIDs of our processes carrying them."""
    _reap()
    out: dict[str, list[int]] = {}
    uid = os.getuid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                mark = _marker_of(fh.read().split(b"\0"))
        except OSError:
            continue
        if mark is not None and mark.startswith(prefix):
            out.setdefault(mark, []).append(int(entry))
    return out


def data_path(tag: str) -> str:
    """The file of a service's data (page, views)."""
    return os.path.join(run_dir(lab_of(tag)), marker(tag) + ".data")


def write_data(tag: str, text: str) -> None:
    """Replace a service's data at once (a reader sees the old or the new
    file, never half of one)."""
    path = data_path(tag)
    with open(path + ".new", "w") as fh:
        fh.write(text)
    os.replace(path + ".new", path)


def read_data(tag: str) -> str | None:
    """A service's data as the lab holds it (None when there is no file)."""
    try:
        with open(data_path(tag)) as fh:
            return fh.read()
    except OSError:
        return None


def remove_data(tag: str) -> None:
    """Forget a service's data (missing is fine)."""
    try:
        os.unlink(data_path(tag))
    except FileNotFoundError:
        pass


def _argv(item: ServiceItem, ready: int) -> list[str]:
    argv = [sys.executable, "-m", "lab.servers", item.kind, f"--marker={marker(item.tag)}", f"--ready-fd={ready}"]
    if item.kind == "policy-log":
        return argv + [f"--out={log_path(lab_of(item.tag))}", f"--where={item.ns}", f"--group={item.port}"]
    argv += [f"--port={item.port}", f"--data={data_path(item.tag)}"]
    return argv + ([f"--address={item.address}"] if item.kind == "dns" and item.address else [])


def _pkg_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start(items: list[ServiceItem]) -> None:
    """Start services (restarting any already running), and wait until each
    listens; raises OSError naming the first that did not come up."""
    if not items:
        return
    running = scan(MARK)
    stop([i for i in items if marker(i.tag) in running], running)
    pending = [_spawn(item) for item in items]
    deadline = time.monotonic() + START_TIMEOUT
    failure: OSError | None = None
    for item, proc, ready, err in pending:
        try:
            if failure is None:
                _wait_ready(item, proc, ready, err, deadline)
        except OSError as exc:
            failure = exc
        finally:
            os.close(ready)
    if failure is not None:
        raise failure


def _spawn(item: ServiceItem) -> tuple[ServiceItem, subprocess.Popen[bytes], int, str]:
    if item.data:  # a dns server's views are written by their own item, before it starts
        write_data(item.tag, item.data)
    read_fd, write_fd = os.pipe()
    env = dict(os.environ, PYTHONPATH=_pkg_root() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    err_path = os.path.join(run_dir(lab_of(item.tag)), marker(item.tag) + ".err")
    errors: IO[bytes] = open(err_path, "wb")
    try:
        proc = netns.popen_in(
            item.ns, _argv(item, write_fd), pass_fds=(write_fd,),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
            start_new_session=True, env=env, cwd="/",
        )  # fmt: skip
    except OSError:
        os.close(read_fd)
        raise
    finally:
        errors.close()
        os.close(write_fd)
    _children.append(proc)
    return item, proc, read_fd, err_path


def _wait_ready(item: ServiceItem, proc: subprocess.Popen[bytes], ready: int, err: str, deadline: float) -> None:
    os.set_blocking(ready, False)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            with open(err, "rb") as fh:
                text = fh.read().decode(errors="replace").strip()
            raise OSError(f"service {item.name} ({item.kind}) in {item.ns} exited at start: {text[-300:]}")
        try:
            if os.read(ready, 1):
                return
        except BlockingIOError:
            pass
        time.sleep(0.005)
    _signal_all([proc.pid], signal.SIGKILL)
    raise OSError(f"service {item.name} ({item.kind}) in {item.ns} did not start within {START_TIMEOUT:.0f} s")


def stop(items: list[ServiceItem], running: dict[str, list[int]] | None = None) -> None:
    """Stop services by their marker (missing ones are fine)."""
    running = scan(MARK) if running is None else running
    kill([pid for m in (marker(i.tag) for i in items) for pid in running.get(m, ())])


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        fd = _pidfd(pid)
        if fd is None:
            continue
        try:
            signal.pidfd_send_signal(fd, sig)
        except OSError:
            pass
        finally:
            os.close(fd)


def kill(pids: list[int], grace: float = 1.0) -> None:
    """SIGTERM, SIGKILL after `grace` seconds, then wait until they are gone
    (a restart must not find the old one still holding its port)."""
    fds = {pid: fd for pid in pids if (fd := _pidfd(pid)) is not None}
    try:
        for fd in fds.values():
            try:
                signal.pidfd_send_signal(fd, signal.SIGTERM)
            except OSError:
                pass
        if not _wait_gone(list(fds), grace):
            for pid, fd in fds.items():
                if _alive(pid):
                    try:
                        signal.pidfd_send_signal(fd, signal.SIGKILL)
                    except OSError:
                        pass
            _wait_gone(list(fds), grace)
    finally:
        for fd in fds.values():
            os.close(fd)
    _reap()


def _wait_gone(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    alive = list(pids)
    while alive:
        _reap()
        alive = [p for p in alive if _alive(p)]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    return not alive


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] not in "ZX"
    except (OSError, IndexError):
        return False


def status(items: list[ServiceItem]) -> dict[str, int | None]:
    """Service key (ns/name) -> PID, or None when its process is gone."""
    running = scan(MARK)
    return {f"{i.ns}/{i.name}": min(running[marker(i.tag)]) if marker(i.tag) in running else None for i in items}


def processes_in(namespaces: list[str]) -> list[int]:
    """PIDs of every process inside these namespaces (all of them ours: the
    namespaces are the lab's and only the lab starts processes in them)."""
    ids = set()
    for name in namespaces:
        try:
            st = os.stat(netns.path(name))
        except OSError:
            continue
        ids.add((st.st_dev, st.st_ino))
    me = os.getpid()
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != me:
            try:
                st = os.stat(f"/proc/{entry}/ns/net")
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in ids:
                out.append(int(entry))
    return out


def stop_lab(lab: str, namespaces: list[str]) -> None:
    """Stop every process of a lab: by marker, and anything left in its namespaces."""
    pids = {p for found in scan(marker(f"{lab}/")).values() for p in found} | set(processes_in(namespaces))
    kill(sorted(pids))
    path = os.path.join(RUN_ROOT, lab)
    if os.path.isdir(path):
        for name in os.listdir(path):
            os.unlink(os.path.join(path, name))
        os.rmdir(path)
    try:
        os.rmdir(RUN_ROOT)  # the last lab's: no empty directory is left behind
    except OSError:
        pass
