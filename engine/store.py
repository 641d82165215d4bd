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
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import LockedError
from engine.model import Config
from engine.serial import from_data, to_data

DEFAULT_ROOT = "/run/vpclab"
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
        try:
            return json.loads((self.dir / name).read_text())
        except FileNotFoundError:
            return None

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
        except FileNotFoundError:
            return (0, 0, 0)
        return (st.st_mtime_ns, st.st_ino, st.st_size)

    # running and history -----------------------------------------------------

    def load_running(self) -> tuple[int, Config]:
        """(commit number, config) of the running configuration."""
        data = self._read("running.json")
        if data is None:
            return 0, Config()
        return int(data["number"]), from_data(data["config"])

    def save_commit(self, config: Config, comment: str | None, counts: dict[str, int], number: int,
                    changes: list[str] | None = None, expired: int | None = None) -> int:
        """Record commit `number` (the caller holds the lock) and make it running;
        `changes` names what changed in the configuration, `expired` the
        confirmed commit this one rolled back."""
        entry = {
            "number": number,
            "time": time.time(),
            "comment": comment,
            "user": os.environ.get("SUDO_USER") or os.environ.get("USER") or "root",
            "counts": counts,
            "changes": changes or [],
            "expired": expired,
            "config": to_data(config),
        }
        config_json = json.dumps(entry.pop("config"), separators=(",", ":"))
        head = json.dumps(entry, separators=(",", ":"))[:-1]
        self._write_text(f"history/{number:06d}.json", f'{head},"config":{config_json}}}')
        self._write_text("running.json", f'{{"number":{number},"config":{config_json}}}')
        return number

    def history(self) -> list[StoredCommit]:
        """Every commit, newest first."""
        folder = self.dir / "history"
        if not folder.is_dir():
            return []
        out = []
        for path in sorted(folder.glob("*.json"), reverse=True):
            d = json.loads(path.read_text())
            out.append(StoredCommit(d["number"], d["time"], d["comment"], d["user"], d["counts"], from_data(d["config"]),
                                    tuple(d.get("changes", ())), d.get("expired")))
        return out

    def commit_config(self, number: int) -> Config | None:
        """The configuration that commit `number` made running (0: empty)."""
        if number == 0:
            return Config()
        d = self._read(f"history/{number:06d}.json")
        return from_data(d["config"]) if d else None

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

    def marker(self, name: str) -> dict[str, Any] | None:
        """A marker's content, or None."""
        return self._read(f"{name}.json")  # type: ignore[no-any-return]

    # lock and removal ----------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the lab's commit lock; LockedError if another process has it.

        Released with LOCK_UN before the fd is closed: a flock belongs to the
        open file, which a child forked meanwhile by another thread (a
        monitor's conntrack read) shares until it execs, so closing our fd
        alone would leave the lab locked for a moment after the commit."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = (self.dir / "lock.pid").read_text().strip() if (self.dir / "lock.pid").exists() else "?"
                raise LockedError(f"lab {self.lab} is locked: process {holder} is committing; try again") from None
            try:
                (self.dir / "lock.pid").write_text(str(os.getpid()))
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def remove(self) -> None:
        """Delete the whole state directory."""
        shutil.rmtree(self.dir, ignore_errors=True)
