"""Where local backends are kept: ``<data dir>/backends.json`` (versioned, atomic) and a lock file.

The lock is an OS file lock (flock on POSIX, msvcrt on Windows): the OS drops it when the holder dies,
so a stale lock of a dead manager never blocks. Secret setting values are never in this file.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BackendApiError
from ..fsutil import atomic_write_text

STORE_VERSION = 1
# Windows locks are mandatory: the pid is written past the locked byte so others can still read it
_PID_OFFSET = 16


@dataclass
class BackendRecord:
    """One saved backend. ``uid`` stays when the id moves, so secrets stay attached to it."""

    id: int
    uid: str
    type: str
    title: str = ""
    enabled: bool = True
    modcount: int = 0
    settings: dict[str, Any] = field(default_factory=dict, repr=False)  # no secret values in here
    port: int | None = None  # last port used, reused while free

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "uid": self.uid, "type": self.type, "title": self.title, "enabled": self.enabled,
                "modcount": self.modcount, "settings": self.settings, "port": self.port}

    @classmethod
    def from_json(cls, raw: Any) -> BackendRecord:
        if not isinstance(raw, dict):
            raise ValueError("backend entry is not an object")
        settings = raw.get("settings", {})
        port = raw.get("port")
        if not isinstance(settings, dict) or (port is not None and not isinstance(port, int)):
            raise ValueError("backend entry has bad settings or port")
        rec = cls(id=raw["id"], uid=raw["uid"], type=raw["type"], title=raw.get("title", ""),
                  enabled=raw.get("enabled", True), modcount=raw.get("modcount", 0), settings=settings, port=port)
        if (not isinstance(rec.id, int) or isinstance(rec.id, bool) or rec.id < 0 or not isinstance(rec.uid, str)
                or not isinstance(rec.type, str) or not isinstance(rec.title, str)
                or not isinstance(rec.enabled, bool) or not isinstance(rec.modcount, int)):
            raise ValueError("backend entry has a field of the wrong type")
        return rec


class DataDirLock:
    """An exclusive lock on ``<data dir>/backends.lock`` for this process's lifetime."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock_fd(fd)
        except OSError:
            pid = _read_pid(fd)
            os.close(fd)
            who = f" (pid {pid})" if pid else ""
            raise BackendApiError(
                f"The data folder {self.path.parent} is already managed by another Backend Manager{who}. "
                "Close that one first, or start this one with a different data folder."
            ) from None
        try:
            os.lseek(fd, _PID_OFFSET, os.SEEK_SET)
            data = f"{os.getpid()}\n".encode()
            os.write(fd, data)
            os.ftruncate(fd, _PID_OFFSET + len(data))
        except OSError:
            pass  # the pid is only a courtesy for the refusal message
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            _unlock_fd(fd)
        except OSError:
            pass
        os.close(fd)


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock_fd(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock_fd(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock_fd(fd: int) -> None:
        # flock, not lockf: flock locks belong to the open file, so a second open in this same process
        # conflicts too (POSIX record locks would not), and the kernel drops them when the holder dies
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock_fd(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _read_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, _PID_OFFSET, os.SEEK_SET)
        text = os.read(fd, 32).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


class BackendStore:
    """Reads and writes ``backends.json``; ``load`` moves a corrupt file aside and says so."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / "backends.json"

    def load(self) -> tuple[list[BackendRecord], list[str]]:
        """The saved backends and any warnings for the person (a corrupt file moved aside)."""
        self._remove_stale_temp_files()
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return [], []
        except OSError as exc:
            raise BackendApiError(f"Cannot read {self.path}: {exc.strerror or exc}.") from None
        try:
            raw = json.loads(text)
            if not isinstance(raw, dict) or not isinstance(raw.get("backends"), list):
                raise ValueError("no backend list")
            version = raw.get("version")
            if not isinstance(version, int):
                raise ValueError("no version")
            if version > STORE_VERSION:
                raise BackendApiError(
                    f"{self.path} was written by a newer Backend Manager (format {version}); "
                    "update this app, or use another data folder."
                )
            records = [BackendRecord.from_json(item) for item in raw["backends"]]
            if len({r.id for r in records}) != len(records):
                raise ValueError("duplicate backend ids")
        except BackendApiError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            n = 1
            while aside.exists():
                aside = aside.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
                n += 1
            os.replace(self.path, aside)
            return [], [
                f"The saved backends could not be read ({type(exc).__name__}: {str(exc)[:80]}). "
                f"The file was moved to {aside} and the manager started with no backends."
            ]
        return sorted(records, key=lambda r: r.id), []

    def _remove_stale_temp_files(self) -> None:
        # a manager killed mid-save leaves its temp file (a whole copy of the list) behind; load() runs under
        # the data folder's lock, so no other writer can own one of these
        for stale in self.data_dir.glob(f".{self.path.name}.*.tmp"):
            try:
                stale.unlink()
            except OSError:
                pass

    def save(self, records: list[BackendRecord]) -> None:
        data = {"version": STORE_VERSION, "backends": [r.to_json() for r in sorted(records, key=lambda r: r.id)]}
        atomic_write_text(self.path, json.dumps(data, indent=1) + "\n")
