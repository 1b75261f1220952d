"""Fixtures for the local manager tests: a fake ComfyUI folder, fast timings, a started LocalService."""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psutil
import pytest

from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.models import Backend

FAKE_COMFY = Path(__file__).resolve().parents[2] / "support" / "fake_comfy.py"

#: product defaults are seconds to minutes; tests shrink them so the set stays fast
FAST = dict(stop_grace=2.0, backoff_base=0.1, probe_interval=0.1, probe_timeout=1.0, queue_interval=0.2,
            api_probe_interval=0.2, alive_ready_s=0.5)


@pytest.fixture
def comfy_main(tmp_path: Path) -> Path:
    """The fake worker copied as <tmp>/ComfyUI/main.py, usable as a StartScript."""
    folder = tmp_path / "ComfyUI"
    folder.mkdir()
    target = folder / "main.py"
    shutil.copy(FAKE_COMFY, target)
    return target


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def svc(data_dir: Path) -> AsyncIterator[LocalService]:
    service = LocalService(data_dir, **FAST)
    await service.start()
    try:
        yield service
    finally:
        await service.aclose()


def comfy_settings(main: Path, extra: str = "", **more: object) -> dict[str, object]:
    settings: dict[str, object] = {"StartScript": str(main), "Python": sys.executable, "ExtraArgs": extra,
                                   "GPU_ID": "", "Port": 0, "AutoRestart": True, "StartTimeout": 30}
    settings.update(more)
    return settings


async def wait_for(svc: LocalService, backend_id: int, check: Callable[[Backend], bool], timeout: float = 15.0,
                   what: str = "") -> Backend:
    """Poll list_backends until ``check`` holds; fail with the last status and message."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = (await svc.list_backends()).get(backend_id)
        if last is not None and check(last):
            return last
        await asyncio.sleep(0.05)
    pytest.fail(f"backend {backend_id} never {what or 'reached the state'}: last {last!r} "
                f"message={last.status_message if last else None!r}")


async def wait_status(svc: LocalService, backend_id: int, status: str, timeout: float = 15.0) -> Backend:
    return await wait_for(svc, backend_id, lambda b: b.status.value == status, timeout, f"became {status}")


async def wait_gone(pids: list[int], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if _alive(p)]
        if not alive:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"processes still alive after {timeout} s: {alive}")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def alive(pid: int) -> bool:
    return _alive(pid)


def log_text(svc: LocalService, backend_id: int) -> str:
    return svc.log_path(backend_id).read_text("utf-8")
