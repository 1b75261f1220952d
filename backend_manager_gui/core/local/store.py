"""Where local backends are kept: ``<data dir>/backends.json`` (versioned, atomic) and a lock file.

The lock is ``filelock``'s OS file lock (flock on POSIX, msvcrt on Windows): the OS drops it when the holder
dies, so a stale lock of a dead manager never blocks. Secret setting values are never in this file.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock

from ..errors import BackendApiError
from ..fsutil import atomic_write_text

if TYPE_CHECKING:
    from filelock import BaseFileLock

STORE_VERSION = 1


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
    """An exclusive lock on ``<data dir>/backends.lock`` for this process's lifetime.

    The lock is ``filelock``'s (flock on POSIX, msvcrt on Windows): the OS drops it when the holder dies, even by
    SIGKILL. The holder's pid goes in a sibling file (``backends.lock.pid``) after the lock is taken, for the
    refusal message only: a pid file left by a killed manager is overwritten by the next holder.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.pid_path = self.path.with_name(f"{self.path.name}.pid")
        self._lock: BaseFileLock | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # not thread-local: the manager may be closed from another thread than the one that opened it
        lock = filelock.FileLock(self.path, timeout=0, thread_local=False)
        try:
            lock.acquire()
        except filelock.Timeout:
            pid = self.holder_pid()
            who = f" (pid {pid})" if pid else ""
            raise BackendApiError(
                f"The data folder {self.path.parent} is already managed by another Backend Manager{who}. "
                "Close that one first, or start this one with a different data folder."
            ) from None
        try:
            self.pid_path.write_text(f"{os.getpid()}\n", encoding="ascii")
        except OSError:
            pass  # the pid is only a courtesy for the refusal message
        self._lock = lock

    def holder_pid(self) -> int | None:
        """The pid the last holder wrote, if any (only meaningful while the lock is held by someone)."""
        try:
            text = self.pid_path.read_text(encoding="ascii", errors="replace").strip()
            return int(text) if text else None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is None:
            return
        # the pid file goes first: once the lock is let go, the next holder writes its own
        with contextlib.suppress(OSError):
            self.pid_path.unlink()
        with contextlib.suppress(OSError):
            lock.release()


class BackendStore:
    """Reads and writes ``backends.json``; ``load`` moves a corrupt file aside and says so."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / "backends.json"

    def load(self) -> tuple[list[BackendRecord], list[str]]:
        """The saved backends and any warnings for the person (a corrupt file moved aside)."""
        self._remove_stale_temp_files()
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return [], []
        except OSError as exc:
            raise BackendApiError(f"Cannot read {self.path}: {exc.strerror or exc}.") from None
        try:
            raw = json.loads(data.decode("utf-8"))  # not UTF-8 (a damaged file): moved aside like any other damage
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
