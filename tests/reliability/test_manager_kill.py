"""Item 5: the manager SIGKILLed while its workers run: 5 s later (on an idle machine; scaled by the load measured
in the run) no worker (nor a worker's child, nor the orphan watchdog) is alive. A handful of times by default, 50 with --long; every run after the first restarts
the saved backends from the same data folder (the dead manager's lock must not block it)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.core.local.conftest import FAKE_COMFY
from tests.support import load as machine

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2
GONE_WITHIN = 5.0  # on an idle machine


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_manager_sigkilled_leaves_no_worker(tmp_path: Path, long_run: bool, figures) -> None:
    kills = 50 if long_run else 4
    script = tmp_path / "ComfyUI" / "main.py"
    script.parent.mkdir()
    shutil.copy(FAKE_COMFY, script)
    data_dir = tmp_path / "data"
    slowest = 0.0
    processes_killed = 0
    for n in range(kills):
        manager = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.manager_child", str(data_dir), str(script), str(WORKERS)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )
        assert manager.stdout is not None
        try:
            line = manager.stdout.readline()
            assert line, f"run {n}: the manager died before its workers ran"
            info = json.loads(line)
            pids = [*info["all"], *([info["watchdog"]] if info["watchdog"] else [])]  # Windows: a job, no watchdog
            assert len(info["all"]) >= WORKERS + 1  # the workers and the first one's grandchild
            assert all(_alive(p) for p in pids)
            within = machine.measure().bound(GONE_WITHIN, wakeups=5)
            manager.kill()  # SIGKILL; TerminateProcess on Windows
            killed_at = time.monotonic()
            manager.wait(timeout=10)
            while (alive := [p for p in pids if _alive(p)]) and time.monotonic() - killed_at < within:
                time.sleep(0.02)
            assert alive == [], f"run {n}: still alive {within:.1f} s after the manager was killed: {alive}"
            slowest = max(slowest, time.monotonic() - killed_at)
            processes_killed += len(pids)
        finally:
            if manager.poll() is None:
                manager.kill()
                manager.wait()
    figures["manager_kills"] = kills
    figures["workers_per_manager"] = WORKERS
    figures["processes_that_had_to_die"] = processes_killed
    figures["slowest_all_gone_s"] = round(slowest, 2)
    figures["left_alive"] = 0
