"""The data folder lock is filelock's (flock on POSIX systems, msvcrt's byte lock on Windows), so the OS lets
go of it when its holder dies, however it dies, and a second manager is refused while the holder lives, with
the holder's pid in the message. The same tests run on every OS, each against its own lock; the one Windows
difference (its lock is mandatory: the locked byte cannot even be read) has a test of its own."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from backend_manager_gui.core.errors import BackendApiError
from backend_manager_gui.core.local import LocalService

from .conftest import FAST

ROOT = Path(__file__).resolve().parents[3]
_HOLD = ("import sys, time; from pathlib import Path; from backend_manager_gui.core.local.store import DataDirLock\n"
         "lock = DataDirLock(Path(sys.argv[1]) / 'backends.lock'); lock.acquire(); print('LOCKED', flush=True); time.sleep(600)")


@asynccontextmanager
async def _holder(data_dir: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """Another process holding the folder's lock."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _HOLD, str(data_dir), cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    try:
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 30)).strip() == b"LOCKED"
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_a_manager_killed_while_holding_the_folder_leaves_no_lock(data_dir: Path) -> None:
    async with _holder(data_dir) as holder:
        with pytest.raises(BackendApiError, match=rf"already managed by another Backend Manager \(pid {holder.pid}\)"):
            await LocalService(data_dir, **FAST).start()
        holder.kill()  # SIGKILL; TerminateProcess on Windows: nothing of its own runs
        await holder.wait()
    async with LocalService(data_dir, **FAST) as svc:
        assert svc.warnings == []


def _first_byte(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(1)


@pytest.mark.skipif(os.name != "nt", reason="only Windows locks are mandatory (POSIX flock is advisory)")
async def test_on_windows_the_locked_byte_is_unreadable_yet_the_holder_is_named(data_dir: Path) -> None:
    async with _holder(data_dir) as holder:
        with pytest.raises(OSError):
            _first_byte(data_dir / "backends.lock")  # the locked byte: another process cannot read it
        with pytest.raises(BackendApiError, match=rf"\(pid {holder.pid}\)"):  # the holder's pid is kept beside the lock file
            await LocalService(data_dir, **FAST).start()
