"""Network namespaces without forking: unshare, bind-mount, setns in-thread.

pyroute2's `netns.create()` and `IPRoute(netns=...)` fork a helper per
namespace, which costs ~25 ms each (LINUX-NOTES.md). Network namespaces
belong to a thread, so we switch the calling thread with setns(2), create a
socket or write a sysctl there, and switch back: a socket keeps the
namespace it was created in. Namespaces are bind-mounted under /run/netns
exactly as `ip netns add` does, so iproute2 and other tools see them.

Python 3.11 has no os.unshare/os.setns, hence ctypes on libc.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
MS_REC = 0x4000
MS_BIND = 0x1000
MS_SHARED = 1 << 20
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
_lock = threading.RLock()
_home_fd: int | None = None


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _home() -> int:
    """An fd of the namespace this process started in (the host's). Opened
    on first use, which must come before this module moves any thread: a
    process that created a namespace first used to open it while inside the
    new namespace, and stayed there after every later operation (so that
    destroy, ending the processes in the lab's namespaces, ended it)."""
    global _home_fd
    if _home_fd is None:
        _home_fd = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    return _home_fd


def _ensure_netns_dir() -> None:
    """Make /run/netns a shared mount point, as `ip netns add` does, so the
    namespaces we mount propagate into `ip netns exec` mount namespaces."""
    os.makedirs(NETNS_DIR, exist_ok=True)
    if _libc.mount(b"", NETNS_DIR.encode(), b"none", MS_SHARED | MS_REC, None) == 0:
        return
    if ctypes.get_errno() != errno.EINVAL:
        _check(-1, "mount --make-shared /run/netns")
    _check(_libc.mount(NETNS_DIR.encode(), NETNS_DIR.encode(), b"none", MS_BIND | MS_REC, None), "bind /run/netns")
    _check(_libc.mount(b"", NETNS_DIR.encode(), b"none", MS_SHARED | MS_REC, None), "share /run/netns")


_dir_ready = False


def path(name: str) -> str:
    """Where the namespace `name` is mounted."""
    return f"{NETNS_DIR}/{name}"


def exists(name: str) -> bool:
    """True when a namespace of that name is mounted."""
    return os.path.exists(path(name))


def mounted(name: str) -> bool:
    """True while `name` is a mounted namespace: neither deleted nor half-way
    (unmounted, its file not yet removed). A namespace file is on nsfs, the
    filesystem of /proc/self/ns/net."""
    try:
        return os.stat(path(name)).st_dev == os.stat("/proc/self/ns/net").st_dev
    except FileNotFoundError:
        return False


def half_made(name: str) -> bool:
    """True when `name` has a file under /run/netns but no namespace is
    mounted on it: a creation killed between making the file and mounting
    (or a deletion between its two steps). Such a file holds nothing; it
    only blocks the name (a creation fails with EEXIST)."""
    return os.path.lexists(path(name)) and not mounted(name)


def clear_half_made(names: Iterable[str]) -> list[str]:
    """Remove the files of those of `names` that are half made (above);
    the names removed."""
    out = []
    for name in names:
        if half_made(name):
            try:
                os.unlink(path(name))
            except FileNotFoundError:
                continue
            out.append(name)
    return out


def each_present(names: Iterable[str], read: Callable[[str], T]) -> dict[str, T]:
    """`read(ns)` for each namespace that exists. One that a commit (in
    another thread or process) removes while it is read is left out, as if
    it had gone a moment earlier, instead of failing the whole reading."""
    out: dict[str, T] = {}
    for name in names:
        if not exists(name):
            continue
        try:
            out[name] = read(name)
        except OSError:
            if mounted(name):
                raise
    return out


def list_names(prefix: str = "") -> list[str]:
    """Mounted namespace names starting with `prefix`."""
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []


def create(name: str) -> None:
    """Create and mount a new namespace named `name`, without forking."""
    global _dir_ready
    if not _dir_ready:
        _ensure_netns_dir()
        _dir_ready = True
    target = path(name)
    home = _home()  # before unshare: opened after it, "home" would be the new namespace, for good
    fd = os.open(target, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0)
    os.close(fd)
    with _lock:
        try:
            _check(_libc.unshare(CLONE_NEWNET), "unshare")
            try:
                src = f"/proc/self/task/{threading.get_native_id()}/ns/net".encode()
                _check(_libc.mount(src, target.encode(), None, MS_BIND, None), f"mount {target}")
            finally:
                _check(_libc.setns(home, CLONE_NEWNET), "setns home")
        except BaseException:
            os.unlink(target)
            raise


def delete(name: str) -> None:
    """Unmount and remove a namespace; the kernel frees it when unused."""
    target = path(name)
    _libc.umount2(target.encode(), MNT_DETACH)
    try:
        os.unlink(target)
    except FileNotFoundError:
        pass


def open_fd(name: str) -> int:
    """An fd for the namespace (for IFLA_NET_NS_FD or setns); caller closes."""
    return os.open(path(name), os.O_RDONLY | os.O_CLOEXEC)


@contextmanager
def inside(name: str) -> Iterator[None]:
    """Run the body with this thread in namespace `name`.

    Only sockets and /proc/sys files opened in the body belong to it; keep
    the body short and free of other threads' work.
    """
    home = _home()
    fd = open_fd(name)
    with _lock:
        try:
            _check(_libc.setns(fd, CLONE_NEWNET), f"setns {name}")
            try:
                yield
            finally:
                _check(_libc.setns(home, CLONE_NEWNET), "setns home")
        finally:
            os.close(fd)


def socket_in(name: str, family: int, type_: int, proto: int = 0) -> socket.socket:
    """A socket that lives in namespace `name`."""
    with inside(name):
        return socket.socket(family, type_, proto)


def write_sysctls(name: str, values: dict[str, str]) -> None:
    """Write /proc/sys/net/... keys (dotted) inside namespace `name`."""
    if not values:
        return
    with inside(name):
        for key, value in values.items():
            optional = key.startswith("?")  # only where the key exists
            path = "/proc/sys/" + key.lstrip("?").replace(".", "/")
            if optional and not os.path.exists(path):
                continue
            with open(path, "w") as fh:
                fh.write(value)


def popen_in(name: str, argv: list[str], **kwargs: Any) -> Any:
    """Start a process inside namespace `name`, without `ip netns exec`.

    The calling thread joins the namespace for the fork: a child is born in
    its parent thread's network namespace, so it runs there from its first
    instruction, with no pre-exec hook (unsafe when other threads exist)."""
    import subprocess

    with inside(name):
        return subprocess.Popen(argv, **kwargs)
