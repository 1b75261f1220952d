"""The window with GPUs present (issue 17.2): Backends → One backend per GPU, Duplicate (Ctrl+D) onto the next free
GPU, and each backend's VRAM in the GPUs dock — a real window on a real LocalService running real fake-ComfyUI
worker processes, over GPUs simulated at the hardware boundary (tests/support/fake_gpus.py), where a worker's VRAM
lands on the GPU its process's own environment makes CUDA pick. And the real NVML code, where NVML finds a GPU.

The table has no VRAM column and Details carries only ``status_message``: per-backend VRAM is the dock's
"Used by" lines (``gpu_view.users_of``) and its memory bars.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.local.gpus import GpuSource
from backend_manager_gui.gui.backends_model import Column
from backend_manager_gui.gui.main_window import MainWindow
from tests.gui.conftest import run
from tests.gui.test_comfy_workers_window import _edit_dialog, _gpu_combo, gpu_window
from tests.gui.window_helpers import row_text, until
from tests.support.fake_gpus import GIB, SimulatedGpus, four_gpus


@contextmanager
def window_on(loop, qtbot, tmp_path: Path, gpus: GpuSource | None, workers: list[str]
              ) -> Iterator[tuple[MainWindow, LocalService]]:
    """A window on a LocalService over ``gpus`` (None: the real NVML), running one fake ComfyUI per GPU_ID given,
    titled "Worker <n>"."""
    with gpu_window(loop, qtbot, tmp_path, gpus, [(gpu, "") for gpu in workers]) as pair:
        yield pair


def _dock(window: MainWindow) -> list[tuple[str, str, str]]:
    """What the GPUs dock shows of each GPU: (name line, memory bar text, "Used by" text)."""
    return [(r.name_label.text(), r.memory_bar.format(), r.users_label.text()) for r in window.gpu_dock.rows()]


# -- 1. Backends → One backend per GPU --------------------------------------------------------------------------

def test_one_backend_per_gpu_adds_a_worker_for_each_gpu_without_one_then_nothing(loop, qtbot, tmp_path) -> None:
    with window_on(loop, qtbot, tmp_path, four_gpus(), ["1"]) as (window, service):
        assert window.act_per_gpu in window.backends_menu.actions()
        assert window.act_per_gpu.isVisible() and window.act_per_gpu.isEnabled()
        window.act_per_gpu.trigger()
        until(loop, lambda: window.backends_model.rowCount() == 4, what="three backends added")
        # what a person sees: a title naming each GPU, the GPU column naming the card, the new rows selected
        until(loop, lambda: row_text(window, 3, Column.GPU) == "3: T400", what="the GPU column named")
        assert [(row_text(window, i, Column.TITLE), row_text(window, i, Column.GPU)) for i in range(4)] == [
            ("Worker 0", "1: RTX 4090"),
            ("GPU 0 (NVIDIA RTX A4000)", "0: RTX A4000"),
            ("GPU 2 (NVIDIA GeForce RTX 3090)", "2: RTX 3090"),
            ("GPU 3 (NVIDIA T400)", "3: T400")]
        assert window.statusBar().currentMessage() == "Added 3 backends, one per GPU."
        assert [b.id for b in window.selected_backends()] == [1, 2, 3]
        listed = run(loop, service.list_backends())
        assert [listed[i].settings["GPU_ID"] for i in range(4)] == ["1", "0", "2", "3"]
        assert len({listed[i].settings["StartScript"] for i in range(4)}) == 1  # the first worker's ComfyUI
        assert {listed[i].type for i in range(4)} == {"comfyui_selfstart"}

        # each new worker runs, and holds its VRAM on the GPU it is named after
        until(loop, lambda: all(row_text(window, i, Column.STATUS) == "Running" for i in range(4)), timeout=20,
              what="the new workers running")
        window.gpu_dock.show()
        until(loop, lambda: [u for _n, _m, u in _dock(window)] == [
            "#1 GPU 0 (NVIDIA RTX A4000) (2.0 GiB)", "#0 Worker 0 (2.0 GiB)",
            "#2 GPU 2 (NVIDIA GeForce RTX 3090) (2.0 GiB)", "#3 GPU 3 (NVIDIA T400) (2.0 GiB)"],
            what="each GPU used by its own worker")

        # again: every GPU has one; the action says so and adds nothing
        assert window.message_bar.text() == ""
        window.act_per_gpu.trigger()
        until(loop, lambda: window.message_bar.text() != "", what="the action's answer")
        assert window.message_bar.text() == "Every GPU already has a ComfyUI (self-starting) backend."
        assert window.backends_model.rowCount() == 4 and len(run(loop, service.list_backends())) == 4


# -- 2. Duplicate (Ctrl+D) ----------------------------------------------------------------------------------------

def _duplicate_with_ctrl_d(loop, qtbot, window: MainWindow, backend_id: int, rows: int) -> None:
    window.select_backends([backend_id])
    until(loop, lambda: window.act_duplicate.isEnabled(), what="Duplicate enabled")
    # after a dialog closes, a desktop's window manager gives the main window back the focus; offscreen has none
    window.activateWindow()
    until(loop, window.isActiveWindow, what="the window active")
    qtbot.keyClick(window.table, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    until(loop, lambda: window.backends_model.rowCount() == rows, what="the copy in the table")


def test_duplicate_goes_on_the_lowest_free_gpu_then_stays_on_the_same_one(loop, qtbot, tmp_path) -> None:
    gpus = SimulatedGpus(four_gpus().gpus[:3])  # A4000, 4090, 3090
    with window_on(loop, qtbot, tmp_path, gpus, ["0", "2"]) as (window, service):
        until(loop, lambda: row_text(window, 1, Column.GPU) == "2: RTX 3090", what="GPU names known")
        _duplicate_with_ctrl_d(loop, qtbot, window, 0, 3)
        # GPU 1 is the only one no backend uses: the copy goes there (not after its source's, not past the highest)
        until(loop, lambda: row_text(window, 2, Column.GPU) == "1: RTX 4090", what="the copy on GPU 1")
        assert row_text(window, 2, Column.TITLE) == "Worker 0 (copy)"
        assert window.statusBar().currentMessage() == "Duplicated: #2 from #0 on GPU 1"
        assert run(loop, service.list_backends())[2].settings["GPU_ID"] == "1"
        # the single copy opens for review, on the GPU it was put on
        until(loop, lambda: _edit_dialog(window) is not None, what="the copy's edit dialog")
        dialog = _edit_dialog(window)
        assert dialog is not None and dialog.backend.id == 2
        combo = _gpu_combo(dialog)
        until(loop, lambda: combo.count() == 3, what="the GPUs offered")
        assert combo.currentText() == "1: NVIDIA GeForce RTX 4090 (24 GiB) · GPU-4090-0002"
        dialog.cancel_button.click()
        until(loop, lambda: _edit_dialog(window) is None, what="the dialog closed")

        # every GPU now has a backend: the next copy keeps its source's GPU, and the status bar says why
        _duplicate_with_ctrl_d(loop, qtbot, window, 0, 4)
        until(loop, lambda: row_text(window, 3, Column.GPU) == "0: RTX A4000", what="the copy on GPU 0")
        assert window.statusBar().currentMessage() == (
            "Duplicated: #3 from #0 on the same GPU (every GPU already has a backend)")
        assert run(loop, service.list_backends())[3].settings["GPU_ID"] == "0"
        until(loop, lambda: _edit_dialog(window) is not None, what="the second copy's edit dialog")
        dialog = _edit_dialog(window)
        assert dialog is not None
        dialog.cancel_button.click()
        until(loop, lambda: _edit_dialog(window) is None, what="the dialog closed")


# -- 3. Each backend's VRAM ---------------------------------------------------------------------------------------

def test_the_gpus_dock_shows_each_backends_vram_and_each_gpus_total(loop, qtbot, tmp_path) -> None:
    gpus = four_gpus()
    # what each worker holds on every GPU it sees: #0 sees GPUs 0 and 1, #1 shares GPU 1, #2 is on GPU 2
    gpus.holds = {0: 3 * GIB, 1: 3 * GIB // 2, 2: 5 * GIB}
    with window_on(loop, qtbot, tmp_path, gpus, ["0,1", "1", "2"]) as (window, _service):
        # Worker 2 is switched off: GPU 2 is still set for it, but nothing is held there any more
        window.select_backends([2])
        until(loop, lambda: window.act_toggle.isEnabled(), what="Disable enabled")
        window.act_toggle.trigger()
        until(loop, lambda: row_text(window, 2, Column.STATUS) == "Disabled", what="Worker 2 disabled")
        window.gpu_dock.show()
        until(loop, lambda: len(_dock(window)) == 4 and "disabled" in _dock(window)[2][2], what="the dock's rows")
        assert window.gpu_dock.headline.text() == "4 NVIDIA GPUs"
        # 300 MiB of desktop on each card, plus what the workers hold; users by VRAM, most first
        assert _dock(window) == [
            ("GPU 0 · NVIDIA RTX A4000", "3.3 / 16.0 GiB", "#0 Worker 0 (3.0 GiB)"),
            ("GPU 1 · NVIDIA GeForce RTX 4090", "4.8 / 24.0 GiB", "#0 Worker 0 (3.0 GiB)\n#1 Worker 1 (1.5 GiB)"),
            ("GPU 2 · NVIDIA GeForce RTX 3090", "0.3 / 24.0 GiB", "#2 Worker 2 (set to this GPU, disabled)"),
            ("GPU 3 · NVIDIA T400", "0.3 / 2.0 GiB", "no backend")]
        rows = window.gpu_dock.rows()
        assert rows[1].memory_bar.toolTip() == f"{300 * 2**20 + 9 * GIB // 2:,} of {24 * GIB:,} bytes in use"
        assert rows[1].memory_bar.value() == 199  # of 1000: 4.8 of 24 GiB
        assert [r.util_label.text() for r in rows] == ["5 %", "5 %", "0 %", "0 %"]

        # the worker's VRAM grows: the open dock follows on its own
        gpus.holds[1] = 20 * GIB
        until(loop, lambda: _dock(window)[1][1:] == (
            "23.3 / 24.0 GiB", "#1 Worker 1 (20.0 GiB)\n#0 Worker 0 (3.0 GiB)"), timeout=8, what="the dock refreshed")


# -- 4. The real NVML ---------------------------------------------------------------------------------------------

def _why_no_nvml_gpu() -> str:
    """Empty where NVML runs and counts at least one GPU; else why not, in words (the skip reason)."""
    try:
        import pynvml
    except ImportError:
        return "nvidia-ml-py is not installed"
    try:
        pynvml.nvmlInit()
    except Exception as exc:
        return f"NVML finds no GPU on this machine: {exc}"
    try:
        return "" if pynvml.nvmlDeviceGetCount() > 0 else "NVML runs but counts no GPU"
    except Exception as exc:
        return f"NVML cannot count the GPUs: {exc}"
    finally:
        pynvml.nvmlShutdown()


NO_NVML_GPU = _why_no_nvml_gpu()
PCI_BUS_ID = re.compile(r"[0-9A-F]{4,8}:[0-9A-F]{2}:[0-9A-F]{2}\.[0-9A-F]", re.IGNORECASE)


def _nvml_says() -> list[tuple[str, int, str, str]]:
    """Each GPU as NVML itself answers, in its index order: (name, total memory, UUID, PCI bus id)."""
    import pynvml

    def text(value: object) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    pynvml.nvmlInit()
    try:
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        return [(text(pynvml.nvmlDeviceGetName(h)), int(pynvml.nvmlDeviceGetMemoryInfo(h).total),
                 text(pynvml.nvmlDeviceGetUUID(h)), text(pynvml.nvmlDeviceGetPciInfo(h).busId)) for h in handles]
    finally:
        pynvml.nvmlShutdown()


@pytest.mark.skipif(bool(NO_NVML_GPU), reason=NO_NVML_GPU or "NVML finds a GPU")
def test_the_real_gpus_through_nvml_in_the_report_and_the_dock(loop, qtbot, tmp_path) -> None:
    nvml = _nvml_says()
    count = len(nvml)
    with window_on(loop, qtbot, tmp_path, None, []) as (window, service):  # no source given: NVML
        report = run(loop, service.gpus())
        assert report.reason is None, report.reason
        assert [(g.index, g.name, g.memory_total, g.uuid, g.pci_bus_id) for g in report.gpus] == [
            (i, *gpu) for i, gpu in enumerate(nvml)]
        for g in report.gpus:
            assert g.name.strip() and not g.name.startswith(("b'", 'b"')), g
            assert 0 < g.memory_total and 0 <= g.memory_used <= g.memory_total, g
            assert g.uuid.startswith(("GPU-", "MIG-")), g
            assert PCI_BUS_ID.fullmatch(g.pci_bus_id), g
            assert g.processes == {}  # no worker runs
        buses = [g.pci_bus_id.upper() for g in report.gpus]
        assert buses == sorted(buses), "NVML's indexes (the GPU_IDs the app shows) are not in PCI bus order"

        window.gpu_dock.show()
        until(loop, lambda: len(window.gpu_dock.rows()) == count, what="the dock's rows")
        rows = window.gpu_dock.rows()
        assert [r.name_label.text() for r in rows] == [f"GPU {g.index} · {g.name}" for g in report.gpus]
        assert all(f"UUID {g.uuid}" in r.name_label.toolTip() and f"PCI bus {g.pci_bus_id}" in r.name_label.toolTip()
                   for r, g in zip(rows, report.gpus, strict=True))
        assert [r.users_label.text() for r in rows] == ["no backend"] * count
