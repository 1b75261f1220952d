"""Stopping a worker asks it first, the way its OS asks a program to stop (it may save its state, free the GPU):
SIGTERM to its process group on POSIX systems, CTRL_BREAK to its process group on Windows. A worker that
answers exits by itself before the grace period ends; nothing is killed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend_manager_gui.core.local import LocalService

from .conftest import comfy_settings, log_text, wait_gone, wait_status

WINDOWS = os.name == "nt"


async def _stop_politely(svc: LocalService, comfy_main: Path) -> str:
    await svc.add_backend("comfyui_selfstart")
    await svc.edit_backend(0, "", comfy_settings(comfy_main, "--report-stop"))
    await wait_status(svc, 0, "running")
    pid = svc.details(0).pid
    assert pid
    assert await svc.toggle_backend(0, False)
    await wait_gone([pid], timeout=1)  # toggle returned: it is already gone
    log = log_text(svc, 0)
    assert "still alive" not in log and "killing it" not in log, log  # never came to killing
    return log


@pytest.mark.skipif(WINDOWS, reason="SIGTERM is the POSIX stop signal (Windows gets CTRL_BREAK: the test below)")
async def test_stop_sends_sigterm_and_the_worker_exits_by_itself(svc: LocalService, comfy_main: Path) -> None:
    assert "fake_comfy: stopping on SIGTERM" in await _stop_politely(svc, comfy_main)


@pytest.mark.skipif(not WINDOWS, reason="CTRL_BREAK is Windows' stop signal (POSIX systems get SIGTERM: the test above)")
async def test_on_windows_stop_sends_ctrl_break_and_the_worker_exits_by_itself(svc: LocalService, comfy_main: Path) -> None:
    assert "fake_comfy: stopping on SIGBREAK" in await _stop_politely(svc, comfy_main)
