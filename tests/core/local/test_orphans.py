"""No orphans: when the manager dies, even by SIGKILL, its workers and their children die too.

Each OS has its own guard, and each is tested where it exists: the parent-death signal (Linux), the watchdog
process (every POSIX system; the only guard on macOS), the job object that kills its processes when the
manager's handle to it closes (Windows). The manager is killed the hard way everywhere (SIGKILL, or
TerminateProcess on Windows), so nothing of its own shutdown runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from .conftest import alive, wait_gone

HERE = Path(__file__).resolve().parent


async def _run_and_kill(tmp_path: Path, comfy_main: Path, mode: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(HERE.parents[2]))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "manager_proc.py"), str(tmp_path / "data"), str(comfy_main), mode,
        stdout=asyncio.subprocess.PIPE, env=env,
    )
    try:
        info = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
        pids = info["workers"] + info["grandchildren"]
        assert len(info["workers"]) == 2 and all(alive(p) for p in pids)
        info["killed_at"] = time.monotonic()
        proc.kill()  # SIGKILL; TerminateProcess on Windows
        await proc.wait()
        return info
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


WINDOWS = os.name == "nt"


@pytest.mark.parametrize("mode", [
    "normal",
    pytest.param("frozen", marks=pytest.mark.skipif(WINDOWS, reason="the forked watchdog of a bundle is POSIX's "
                                                                    "(Windows bundles use the same job object)")),
])
async def test_sigkill_of_the_manager_leaves_no_worker(tmp_path: Path, comfy_main: Path, mode: str) -> None:
    info = await _run_and_kill(tmp_path, comfy_main, mode)
    assert len(info["grandchildren"]) == 2
    guards = [info["watchdog"]] if info["watchdog"] else []
    await wait_gone(info["workers"] + info["grandchildren"] + guards, timeout=5.0)
    print(f"[{mode}] manager SIGKILL -> no workers alive: {time.monotonic() - info['killed_at']:.3f} s")


@pytest.mark.skipif(WINDOWS, reason="Windows has no watchdog process: its job object is tested below")
async def test_the_watchdog_alone_kills_the_workers_and_their_children(tmp_path: Path, comfy_main: Path) -> None:
    """What guards the workers on macOS, tested on every POSIX system: no parent-death signal, only the watchdog."""
    info = await _run_and_kill(tmp_path, comfy_main, "watchdog-only")
    assert info["watchdog"]
    await wait_gone(info["workers"] + info["grandchildren"] + [info["watchdog"]], timeout=5.0)


@pytest.mark.skipif(sys.platform != "darwin", reason="macOS only: there the watchdog is the one guard")
async def test_on_macos_the_watchdog_is_what_guards_the_workers(tmp_path: Path, comfy_main: Path) -> None:
    from backend_manager_gui.core.local.process import OrphanGuard

    assert "preexec_fn" not in OrphanGuard().popen_kwargs()  # no parent-death signal to set up
    info = await _run_and_kill(tmp_path, comfy_main, "normal")
    assert info["watchdog"]
    await wait_gone(info["workers"] + info["grandchildren"] + [info["watchdog"]], timeout=5.0)


@pytest.mark.skipif(not WINDOWS, reason="the job object is Windows' guard (POSIX systems use the watchdog)")
async def test_on_windows_the_job_object_kills_the_workers_and_their_children(tmp_path: Path, comfy_main: Path) -> None:
    info = await _run_and_kill(tmp_path, comfy_main, "normal")
    assert info["watchdog"] is None  # no watchdog process on Windows: the job alone
    await wait_gone(info["workers"] + info["grandchildren"], timeout=5.0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
async def test_parent_death_signal_alone_kills_the_workers(tmp_path: Path, comfy_main: Path) -> None:
    info = await _run_and_kill(tmp_path, comfy_main, "pdeathsig-only")
    try:
        await wait_gone(info["workers"], timeout=5.0)
    finally:
        for pid in info["grandchildren"]:  # without the watchdog nothing else guards them
            try:
                psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                pass
