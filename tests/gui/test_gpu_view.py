"""The GPUs dock: this computer's GPUs (none here), a server's (not available), and how a report is shown."""

from __future__ import annotations

import gc

import pytest
from PySide6.QtWidgets import QMainWindow

from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.local.gpus import GpuInfo, GpuReport
from backend_manager_gui.core.models import Backend, BackendStatus
from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.gui.gpu_view import NO_GPU, REMOTE_TEXT, GpuDock
from tests.gui.conftest import run
from tests.gui.window_helpers import until


@pytest.fixture(autouse=True)
def _collect_garbage_on_the_gui_thread() -> None:
    """Earlier tests' Qt objects die here, on the GUI thread, not in a worker thread (DNS, NVML) mid-test."""
    gc.collect()


def _dock(qtbot) -> GpuDock:
    window = QMainWindow()
    qtbot.addWidget(window)
    dock = GpuDock(window)
    window.setCentralWidget(dock)
    dock.keep_alive = window  # the window owns the dock; keep it referenced for the test
    return dock


def test_embedded_manager_without_an_nvidia_gpu_says_so(loop, qtbot, tmp_path) -> None:
    dock = _dock(qtbot)
    service = LocalService(tmp_path / "data")
    run(loop, service.start())
    try:
        report = run(loop, service.gpus())
        dock.set_service(service)
        dock.window().show()
        until(loop, lambda: dock.headline.text() != "Reading GPUs…", timeout=10, what="first refresh")
        if report.gpus:  # a machine with an NVIDIA GPU: one row per GPU with its memory
            assert len(dock.rows()) == len(report.gpus)
            assert dock.rows()[0].memory_bar.format().endswith(" GiB")
        else:
            assert dock.headline.text() == NO_GPU
            assert dock.detail.isVisible() and dock.detail.text()  # the reason, in words
            assert dock.rows() == []
    finally:
        run(loop, service.aclose())


def test_remote_server_gets_an_explanation_not_an_empty_dock(loop, qtbot) -> None:
    dock = _dock(qtbot)
    service = RemoteService("http://127.0.0.1:9")
    try:
        dock.set_service(service)
        dock.window().show()
        run(loop, dock.refresh())
        assert dock.headline.text() == REMOTE_TEXT and dock.rows() == []
    finally:
        run(loop, service.aclose())


def test_report_rows_show_memory_load_and_the_backends_on_each_gpu(loop, qtbot) -> None:
    dock = _dock(qtbot)
    gib = 1024**3
    report = GpuReport(gpus=(
        GpuInfo(0, "NVIDIA RTX 4090", int(7.1 * gib), 24 * gib, 35, {0: int(6.2 * gib)}),
        GpuInfo(1, "NVIDIA RTX 3090", 0, 24 * gib, None, {}),
    ))
    backends = {
        0: Backend(0, "comfyui_selfstart", BackendStatus.RUNNING, {"GPU_ID": "0"}, title="Main"),
        1: Backend(1, "comfyui_selfstart", BackendStatus.IDLE, {"GPU_ID": "1"}, title="Second"),
    }
    dock.show_report(report, backends)
    first, second = dock.rows()
    assert first.name_label.text() == "GPU 0 · NVIDIA RTX 4090"
    assert first.memory_bar.format() == "7.1 / 24.0 GiB" and first.memory_bar.value() == 295
    assert first.util_label.text() == "35 %"
    assert first.users_label.text() == "#0 Main (6.2 GiB)"
    assert second.util_label.text() == "not reported"
    assert second.users_label.text() == "#1 Second (set to this GPU, idle)"
    dock.show_report(GpuReport((), "No NVIDIA GPU detected (NVML: Driver Not Loaded)"), {})
    assert dock.headline.text() == NO_GPU and dock.detail.text() == "NVML: Driver Not Loaded"
