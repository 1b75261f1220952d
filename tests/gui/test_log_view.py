"""The Log dock: a real worker's live log under the embedded manager, the app's own log for a server."""

from __future__ import annotations

import asyncio
import gc
import logging
import shutil
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMainWindow

from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.models import BackendStatus
from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.gui.dialogs import EditBackendDialog, edit_backend_dialog
from backend_manager_gui.gui.log_view import LogDock
from tests.gui.conftest import run
from tests.gui.window_helpers import until
from tests.support.fake_swarm import FakeSwarm

FAKE_COMFY = Path(__file__).resolve().parents[1] / "support" / "fake_comfy.py"
FAST = dict(stop_grace=2.0, backoff_base=0.1, probe_interval=0.1, probe_timeout=1.0, queue_interval=0.2,
            api_probe_interval=0.2, alive_ready_s=0.5)


@pytest.fixture(autouse=True)
def _collect_garbage_on_the_gui_thread() -> None:
    """Earlier tests' Qt objects die here, on the GUI thread, not in a worker thread (DNS, NVML) mid-test."""
    gc.collect()


def _dock(qtbot) -> tuple[QMainWindow, LogDock]:
    window = QMainWindow()
    qtbot.addWidget(window)
    dock = LogDock(window)
    window.setCentralWidget(dock)
    window.resize(700, 300)
    window.show()
    return window, dock


def test_live_tail_of_a_real_workers_log_appends_only_new_lines(loop, qtbot, tmp_path) -> None:
    gc.collect()
    folder = tmp_path / "ComfyUI"
    folder.mkdir()
    shutil.copy(FAKE_COMFY, folder / "main.py")
    service = LocalService(tmp_path / "data", **FAST)
    run(loop, service.start())
    try:
        b = run(loop, service.add_backend("comfyui_selfstart"))
        run(loop, service.edit_backend(b.id, "Worker", {
            "StartScript": str(folder / "main.py"), "Python": sys.executable, "ExtraArgs": "", "GPU_ID": "",
            "Port": 0, "AutoRestart": True, "StartTimeout": 30}))
        _window, dock = _dock(qtbot)
        dock.set_service(service)
        assert "select a backend" in dock.source_label.text()
        dock.show_backend(b.id)
        assert dock.is_live and dock.open_button.isEnabled()
        assert str(service.log_path(b.id)) in dock.source_label.text()
        until(loop, lambda: "fake_comfy pid=" in dock.text.toPlainText(), timeout=30, what="worker's first line")
        run(loop, _wait_running(service, b.id), timeout=30)
        before = dock.text.toPlainText()
        run(loop, service.free_memory(backend=b.id))
        until(loop, lambda: "free requested" in dock.text.toPlainText(), timeout=10, what="new line")
        after = dock.text.toPlainText()
        assert after.startswith(before) and after.count("fake_comfy pid=") == 1  # appended, not reloaded
        bar = dock.text.verticalScrollBar()
        assert bar.value() == bar.maximum()  # Follow keeps the newest line in view
        dock.show_backend(None)
        assert not dock.is_live and not dock.open_button.isEnabled()
    finally:
        run(loop, service.aclose())


async def _wait_running(service: LocalService, backend_id: int) -> None:
    while (await service.list_backends())[backend_id].status != BackendStatus.RUNNING:
        await asyncio.sleep(0.05)


def test_remote_service_shows_the_apps_own_log_of_errors(loop, qtbot) -> None:
    window, dock = _dock(qtbot)

    async def scenario() -> None:
        async with FakeSwarm(locked=True) as fake:
            bid = fake.add("comfyui_api")
            service = RemoteService(fake.url)
            try:
                dock.set_service(service)
                assert not dock.is_live and not dock.open_button.isVisible()
                assert fake.url in dock.source_label.text()
                # an empty log says what will appear there, so it does not look broken
                assert "Nothing logged yet" in dock.text.placeholderText()
                btype = {t.id: t for t in await service.list_backend_types()}["comfyui_api"]
                backend = (await service.list_backends())[bid]
                task = asyncio.ensure_future(edit_backend_dialog(window, service, backend, btype))
                while not window.findChildren(EditBackendDialog):
                    await asyncio.sleep(0.02)
                dialog = window.findChildren(EditBackendDialog)[0]
                dialog.save_button.click()
                while "Settings are locked." not in dock.text.toPlainText():
                    await asyncio.sleep(0.02)
                dialog.reject()
                assert await task is None
            finally:
                await service.aclose()

    run(loop, scenario())
    assert "Edit of backend 0 refused: Settings are locked." in dock.text.toPlainText()
    # records from another thread arrive too (through the Qt signal, on the GUI thread)
    worker = threading.Thread(target=lambda: logging.getLogger("backend_manager_gui.test").warning("from a thread"))
    worker.start()
    worker.join()
    # (the dock's look, issue 12 item 4: time, the level when Warning or worse, a short source)
    until(loop, lambda: "[Warning] test: from a thread" in dock.text.toPlainText())


def test_the_log_reads_from_its_left_edge_with_short_sources(loop, qtbot) -> None:
    """Issue 12 item 4: the dock opened scrolled sideways (lines starting mid-word) and named internal loggers
    ("gui.gui.poller", "mote:"). Long lines wrap and each says where it came from in a word."""
    _window, dock = _dock(qtbot)
    qtbot.waitExposed(_window)
    long_tail = " ".join(f"word{n}" for n in range(120))
    logging.getLogger("backend_manager_gui.gui.poller").info("poll of http://box:7801 failed (3 in a row): %s", long_tail)
    logging.getLogger("backend_manager_gui.remote").info("POST http://box:7801/API/ListBackends -> HTTP 200 in 4 ms")
    logging.getLogger("backend_manager_gui.core.local.process").warning("worker 2 exited with code 3")
    until(loop, lambda: "worker 2 exited" in dock.text.toPlainText())
    text = dock.text.toPlainText()
    assert "backend_manager_gui" not in text and "gui.poller" not in text
    lines = text.splitlines()
    assert lines[-3].endswith(long_tail) and " refresh: poll of http://box:7801 failed" in lines[-3]
    assert " server: POST http://box:7801/API/ListBackends" in lines[-2]
    assert " [Warning] manager: worker 2 exited with code 3" in lines[-1]
    # nothing to scroll sideways: every line starts at the left edge
    bar = dock.text.horizontalScrollBar()
    assert bar.maximum() == 0 and bar.value() == 0
