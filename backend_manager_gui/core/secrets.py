"""Where secrets live: the OS keyring when one is usable, else a file only the user can read.

Secrets (backend secret settings, server tokens) are never written to plain settings files or logs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

from .fsutil import atomic_write_text

log = logging.getLogger(__name__)

KEYRING_SERVICE = "backend-manager-gui"


def keyring_usable() -> bool:
    """True when the keyring package has a backend that really stores secrets."""
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
    except Exception:  # keyring can raise anything at import on a broken desktop session
        return False
    if isinstance(backend, fail.Keyring):
        return False
    name = type(backend).__module__ + "." + type(backend).__name__
    if "null" in name.lower():
        return False
    try:
        return float(getattr(backend, "priority", 1)) > 0
    except Exception:
        return False


class SecretStore:
    """get/set/delete secrets by key; keyring first, else ``fallback_file`` (0600)."""

    def __init__(self, fallback_file: Path, *, service: str = KEYRING_SERVICE) -> None:
        self.fallback_file = Path(fallback_file)
        self.service = service
        # asked on first use: finding the keyring backend scans every installed package's entry points
        # (a tenth of a second at start-up, for a manager whose backends may have no secret at all)
        self._use_keyring: bool | None = None

    @property
    def use_keyring(self) -> bool:
        if self._use_keyring is None:
            self._use_keyring = keyring_usable()
        return self._use_keyring

    @use_keyring.setter
    def use_keyring(self, value: bool) -> None:
        self._use_keyring = value

    @property
    def where(self) -> str:
        return "the OS keyring" if self.use_keyring else f"{self.fallback_file} (owner-only)"

    def _read_file(self) -> dict[str, str]:
        try:
            data = json.loads(self.fallback_file.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            log.warning("secret file %s is unreadable; starting with no stored secrets", self.fallback_file)
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write_file(self, data: dict[str, str]) -> None:
        atomic_write_text(self.fallback_file, json.dumps(data, indent=1, sort_keys=True), private=True)

    def get(self, key: str) -> str | None:
        if self.use_keyring:
            try:
                import keyring

                return keyring.get_password(self.service, key)
            except Exception as exc:
                log.warning("keyring read failed (%s); using the owner-only file", type(exc).__name__)
                self.use_keyring = False
        return self._read_file().get(key)

    def set(self, key: str, secret: str) -> None:
        if self.use_keyring:
            try:
                import keyring

                keyring.set_password(self.service, key, secret)
                return
            except Exception as exc:
                log.warning("keyring write failed (%s); using the owner-only file", type(exc).__name__)
                self.use_keyring = False
        data = self._read_file()
        data[key] = secret
        self._write_file(data)

    async def aget(self, key: str) -> str | None:
        """``get`` in a worker thread: a keyring call may block for long (a locked keyring asks for its password)."""
        found: list[str | None] = []
        # through a closure: the loop's thread pool (qasync's QThreadExecutor) logs a call's arguments and
        # result at DEBUG, and here they are a secret
        await asyncio.to_thread(lambda: found.append(self.get(key)))
        return found[0]

    async def aset(self, key: str, secret: str) -> None:
        """``set`` in a worker thread (see ``aget``)."""
        await asyncio.to_thread(lambda: self.set(key, secret))

    def delete(self, key: str) -> None:
        if self.use_keyring:
            try:
                import keyring

                keyring.delete_password(self.service, key)
            except Exception:
                pass
        data = self._read_file()
        if key in data:
            del data[key]
            self._write_file(data)


def file_is_private(path: Path) -> bool:
    """True when only the owner may read ``path`` (always True where POSIX modes do not apply)."""
    if os.name != "posix":
        return True
    return (Path(path).stat().st_mode & 0o077) == 0
