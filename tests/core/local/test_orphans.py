"""No orphans: when the manager dies, even by SIGKILL, its workers and their children die too."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

from .conftest import alive, wait_gone

HERE = Path(__file__).resolve().parent


async def test_sigkill_of_the_manager_leaves_no_worker(tmp_path: Path, comfy_main: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(HERE.parents[2]))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "manager_proc.py"), str(tmp_path / "data"), str(comfy_main),
        stdout=asyncio.subprocess.PIPE, env=env,
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        info = json.loads(line)
        pids = info["workers"] + info["grandchildren"]
        assert len(pids) == 4 and all(alive(p) for p in pids)
        killed_at = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        await wait_gone(pids + [info["watchdog"]], timeout=5.0)
        print(f"manager SIGKILL -> no workers alive: {time.monotonic() - killed_at:.3f} s")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
