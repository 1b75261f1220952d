"""No orphans: when the manager dies, even by SIGKILL, its workers and their children die too."""

from __future__ import annotations

import asyncio
import json
import os
import signal
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
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        return info
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize("mode", ["normal", "frozen"])
async def test_sigkill_of_the_manager_leaves_no_worker(tmp_path: Path, comfy_main: Path, mode: str) -> None:
    info = await _run_and_kill(tmp_path, comfy_main, mode)
    assert len(info["grandchildren"]) == 2
    await wait_gone(info["workers"] + info["grandchildren"] + [info["watchdog"]], timeout=5.0)
    print(f"[{mode}] manager SIGKILL -> no workers alive: {time.monotonic() - info['killed_at']:.3f} s")


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
