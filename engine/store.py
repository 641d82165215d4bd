"""Persistence of a lab's state under /run/vpclab/LAB/, shared by processes.

Files: `running.json` (the committed config and its number),
`history/NNNNNN.json` (every commit with its config, time, comment and
change counts), `confirm.json` (a pending confirmed commit), `inflight.json`
(written before a commit touches the kernel, removed after: if it is left,
a process died mid-commit) and `lock` (flock, held while committing).
Every write goes to a temporary file renamed into place, so a reader never
sees half a file.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import DamagedStateError, LockedError
from engine.model import Config
from engine.serial import DataError, from_data, to_data
from engine.validate import names, validate

DEFAULT_ROOT = "/run/vpclab"
# the fields a marker must hold, and what removing a damaged one loses
MARKER_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "confirm": {"number": int, "previous": int, "deadline": (int, float)},
    "inflight": {"pid": int, "from": int, "to": int},
}
MARKER_LOSS = {
    "confirm": "the confirmed commit then stays, without its automatic rollback",
    "inflight": "the next commit then starts from the lab as it is; 'show lab health' lists any leftovers",
    "share-baseline": "'show share NAME statistics' then counts from the links' creation",
}
Version = tuple[int, int, int]  # what LabStore.version returns


def state_root() -> Path:
    """Where labs keep their state (VPCLAB_STATE_DIR overrides, for tests)."""
    return Path(os.environ.get("VPCLAB_STATE_DIR", DEFAULT_ROOT))


def list_lab_names(root: Path | None = None) -> list[str]:
    """Labs that have a state directory."""
    base = root or state_root()
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir())


@dataclass(frozen=True)
class StoredCommit:
    """One entry of the commit history."""

    number: int
    time: float
    comment: str | None
    user: str
    counts: dict[str, int]
    config: Config
    config_changes: tuple[str, ...] = ()
    expired: int | None = None


class LabStore:
    """The state directory of one lab."""

    def __init__(self, lab: str, root: Path | str | None = None):
        self.lab = lab
        self.lock_wait = 3.0  # seconds `lock` waits for another process's commit (as destroy does)
        self.dir = Path(root) / lab if root is not None else state_root() / lab

    # low level ----------------------------------------------------------------

    def _write(self, name: str, data: Any) -> None:
        self._write_text(name, json.dumps(data, separators=(",", ":")))

    def _write_text(self, name: str, text: str) -> None:
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)

    def _read(self, name: str) -> Any | None:
        """A state file's JSON, None when it does not exist, DamagedStateError
        when it cannot be read (a directory, not UTF-8, truncated, not JSON)."""
        path = self.dir / name
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise self._damaged(name, _reason(err)) from None

    def _damaged(self, name: str, problem: str) -> DamagedStateError:
        """The error for a damaged file, with the way out that fits it."""
        path = self.dir / name
        destroy = f"'vpclab --lab {self.lab} destroy' removes the lab"
        if name == "running.json":
            good = self._newest_good_commit()
            restore = (f"'cp {self.dir}/history/{good:06d}.json {path}' restores commit {good}, the newest in the history, "
                       f"or {destroy}") if good else destroy
            return DamagedStateError(str(path), problem, restore)
        if name.startswith("history/"):
            return DamagedStateError(str(path), problem, f"that commit cannot be shown or rolled back to; 'rm {path}' leaves it out")
        what = MARKER_LOSS.get(name.removesuffix(".json"), "vpclab forgets what it held")
        return DamagedStateError(str(path), problem, f"'rm {path}' removes it ({what})")

    def _newest_good_commit(self) -> int | None:
        """The number of the newest history entry that reads back whole."""
        folder = self.dir / "history"
        for path in sorted(folder.glob("*.json"), reverse=True) if folder.is_dir() else ():
            try:
                self._entry(json.loads(path.read_text(encoding="utf-8")), f"history/{path.name}", whole=True)
                return int(path.stem)
            except (OSError, ValueError, DamagedStateError):
                continue
        return None

    def _entry(self, data: Any, name: str, whole: bool = False) -> tuple[int, Config]:
        """(number, config) of running.json or a history entry, checked: the
        types, and the text that no configuration may hold; `whole`: all
        that a commit checks too (engine/validate: values in range, objects
        that agree), since a plan compiled from a configuration no commit
        would accept leaves objects out without a word, and a repair would
        then tear them down (15 ms for 300 VPCs)."""
        if not isinstance(data, dict) or not isinstance(data.get("number"), int) or isinstance(data["number"], bool) \
                or data["number"] < 0:  # fmt: skip
            raise self._damaged(name, "no commit number")
        try:
            config = from_data(data.get("config"))
        except DataError as err:
            raise self._damaged(name, str(err)) from None
        refused = list(names.check(config, Config()))
        if refused:
            raise self._damaged(name, f"text no configuration may hold: {refused[0]}")
        invalid = validate(config) if whole else []
        if invalid:
            more = f" (and {len(invalid) - 1} more)" if len(invalid) > 1 else ""
            raise self._damaged(name, f"a configuration no commit would accept: {invalid[0]}{more}")
        return data["number"], config

    def exists(self) -> bool:
        """True when the lab has state on this host."""
        return (self.dir / "running.json").exists()

    def version(self) -> Version:
        """A cheap token (one stat) that changes whenever running.json is
        replaced. The inode is part of it: every save renames a new file into
        place, while file times can be as coarse as a kernel timer tick
        (filesystems without fine-grained timestamps, kernels before 6.13),
        so two commits inside one tick could share a time."""
        try:
            st = (self.dir / "running.json").stat()
        except (FileNotFoundError, NotADirectoryError):  # the second: reading it says what is wrong
            return (0, 0, 0)
        return (st.st_mtime_ns, st.st_ino, st.st_size)

    # running and history -----------------------------------------------------

    def load_running(self) -> tuple[int, Config]:
        """(commit number, config) of the running configuration."""
        data = self._read("running.json")
        if data is None:
            return 0, Config()
        return self._entry(data, "running.json", whole=True)

    def begin_commit(self, config: Config, number: int) -> str:
        """Mark commit `number` in flight (the caller holds the lock), with
        the configuration it makes running, so that if this process dies
        before `save_commit` the next one can bring the lab back
        (`inflight.json`); the configuration's JSON, for `save_commit`."""
        config_json = json.dumps(to_data(config), separators=(",", ":"))
        head = json.dumps({"pid": os.getpid(), "from": number - 1, "to": number, "time": time.time()}, separators=(",", ":"))
        self._write_text("inflight.json", f'{head[:-1]},"config":{config_json}}}')
        return config_json

    def inflight_config(self, marker: dict[str, Any]) -> Config | None:
        """The configuration an interrupted commit was making running (None
        when the marker does not hold a whole one)."""
        try:
            return from_data(marker.get("config"))
        except DataError:
            return None

    def save_commit(self, config: Config, comment: str | None, counts: dict[str, int], number: int,
                    changes: list[str] | None = None, expired: int | None = None, config_json: str | None = None) -> int:
        """Record commit `number` (the caller holds the lock) and make it running;
        `changes` names what changed in the configuration, `expired` the
        confirmed commit this one rolled back, `config_json` the config as
        `begin_commit` wrote it."""
        entry = {
            "number": number,
            "time": time.time(),
            "comment": comment,
            "user": os.environ.get("SUDO_USER") or os.environ.get("USER") or "root",
            "counts": counts,
            "changes": changes or [],
            "expired": expired,
        }
        config_json = config_json or json.dumps(to_data(config), separators=(",", ":"))
        head = json.dumps(entry, separators=(",", ":"))[:-1]
        self._write_text(f"history/{number:06d}.json", f'{head},"config":{config_json}}}')
        self._write_text("running.json", f'{{"number":{number},"config":{config_json}}}')
        return number

    def history(self) -> list[StoredCommit]:
        """Every commit, newest first."""
        folder = self.dir / "history"
        if not folder.is_dir():
            return []
        return [self._stored(f"history/{path.name}") for path in sorted(folder.glob("*.json"), reverse=True)]

    def _stored(self, name: str) -> StoredCommit:
        d: Any = self._read(name)
        number, config = self._entry(d, name)
        try:
            return StoredCommit(number, float(d["time"]), _opt_str(d.get("comment")), str(d["user"]),
                                {str(k): int(v) for k, v in d["counts"].items()}, config,
                                tuple(str(c) for c in d.get("changes", ())), _opt_int(d.get("expired")))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise self._damaged(name, f"a field is missing or of the wrong type ({err})") from None

    def commit_config(self, number: int) -> Config | None:
        """The configuration that commit `number` made running (0: empty)."""
        if number == 0:
            return Config()
        name = f"history/{number:06d}.json"
        d = self._read(name)
        return self._entry(d, name)[1] if d is not None else None

    # markers -------------------------------------------------------------------

    def set_marker(self, name: str, data: dict[str, Any] | None) -> None:
        """Write (or, with None, remove) a marker file such as inflight or confirm."""
        if data is None:
            try:
                (self.dir / f"{name}.json").unlink()
            except FileNotFoundError:
                pass
        else:
            self._write(f"{name}.json", data)

    def has_marker(self, name: str) -> bool:
        """Is there a marker file (whatever it holds)?"""
        return (self.dir / f"{name}.json").exists()

    def marker(self, name: str) -> dict[str, Any] | None:
        """A marker's content, or None; DamagedStateError when it is not the
        object it should be (the fields MARKER_FIELDS names, of their types)."""
        data = self._read(f"{name}.json")
        if data is None:
            return None
        if not isinstance(data, dict):
            raise self._damaged(f"{name}.json", "not an object")
        fields = MARKER_FIELDS.get(name, {})
        wrong = [k for k, kinds in fields.items() if not isinstance(data.get(k), kinds) or isinstance(data.get(k), bool)]
        if wrong:
            raise self._damaged(f"{name}.json", f"field {', '.join(wrong)} missing or of the wrong type")
        return data

    # lock and removal ----------------------------------------------------------

    @contextmanager
    def lock(self, wait: float | None = None) -> Iterator[None]:
        """Hold the lab's commit lock, waiting up to `wait` seconds (default
        `lock_wait`) for another process's commit to end; then LockedError,
        naming the holder. The holder is read from /proc/locks, not from a
        PID file written after the lock is taken, which a second session
        starting at the same moment read empty ('process  is committing').

        Released with LOCK_UN before the fd is closed: a flock belongs to the
        open file, which a child forked meanwhile by another thread (a
        monitor's conntrack read) shares until it execs, so closing our fd
        alone would leave the lab locked for a moment after the commit."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + (self.lock_wait if wait is None else wait)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        holder = lock_holder(self.dir / "lock")
                        who = f"process {holder}" if holder is not None else "another process"
                        raise LockedError(f"lab {self.lab} is locked: {who} is committing; try again") from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @contextmanager
    def seize(self, wait: float = 3.0, grace: float = 1.0) -> Iterator[tuple[int, ...]]:
        """Hold the lab's lock for destroy, whoever has it: wait up to `wait`
        seconds for a commit in progress, then end the process holding the
        lock (SIGTERM, SIGKILL after `grace` seconds) and take it; yields the
        PIDs ended. A commit of this very process (another thread) is waited
        for only: LockedError if it does not end."""
        deadline = time.monotonic() + wait
        ended: list[int] = []
        if self.dir.is_symlink() or (self.dir.exists() and not self.dir.is_dir()):
            self.dir.unlink()  # not a state directory: nothing to wait for, and in the way of the lock
        with ExitStack() as held:
            while True:
                try:
                    held.enter_context(self.lock(wait=0))
                    break
                except LockedError:
                    holder = lock_holder(self.dir / "lock")
                    if time.monotonic() < deadline or holder is None or holder == os.getpid():
                        if time.monotonic() > deadline + grace * 3:
                            raise
                        time.sleep(0.05)
                        continue
                    end_process(holder, grace)
                    ended.append(holder)
            yield tuple(ended)

    def remove(self) -> None:
        """Delete the whole state directory (or whatever took its place), and
        the state root too when this was its last lab."""
        if self.dir.is_symlink() or self.dir.is_file():
            self.dir.unlink()
        shutil.rmtree(self.dir, ignore_errors=True)
        remove_if_empty(self.dir.parent)


def _reason(err: Exception) -> str:
    """What is wrong with a file, in a few words."""
    if isinstance(err, IsADirectoryError):
        return "a directory, not a file"
    if isinstance(err, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(err, json.JSONDecodeError):
        return "empty" if not err.doc.strip() else f"not JSON, or cut short: {err.msg} at line {err.lineno} column {err.colno}"
    return getattr(err, "strerror", None) or str(err)


def _opt_str(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError("comment is not a string")
    return value


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def remove_if_empty(path: Path) -> None:
    """Remove a directory that holds nothing (a lab's last trace)."""
    try:
        path.rmdir()
    except OSError:
        pass


def lock_holder(path: Path) -> int | None:
    """The process holding the flock on `path`, from /proc/locks (by inode:
    authoritative, unlike a PID file written after the lock is taken)."""
    try:
        st = path.stat()
        with open("/proc/locks") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    want = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in lines:
        fields = line.replace("->", "").split()  # `1: -> FLOCK ...` is a waiter, not the holder
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == want and "->" not in line:
            return int(fields[4])
    return None


def end_process(pid: int, grace: float) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds, through a pidfd (a PID
    reused meanwhile cannot be hit); returns when the process is gone."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                signal.pidfd_send_signal(fd, sig)
            except OSError:
                return
            if select.select([fd], [], [], wait)[0]:  # readable when the process has exited
                return
    finally:
        os.close(fd)
