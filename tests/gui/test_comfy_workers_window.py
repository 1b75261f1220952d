"""Issue 14 in the window: the GPU picker, GPU names in the table and the GPUs dock (simulated GPUs at the hardware
boundary, tests/support/fake_gpus.py), the Queue and URL columns, Open in browser / Copy URL, and Set models
folder… — with real fake-ComfyUI worker processes."""

from __future__ import annotations

import gc
import json
import shutil
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QComboBox, QDialog, QFileDialog

from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.local.gpus import GpuSource
from backend_manager_gui.gui.backends_model import Column
from backend_manager_gui.gui.dialogs import EditBackendDialog
from backend_manager_gui.gui.main_window import MainWindow
from tests.core.local.conftest import FAST
from tests.gui.conftest import run
from tests.gui.window_helpers import row_text, temp_settings, until
from tests.support.fake_gpus import four_gpus, mixed_box

FAKE_COMFY = Path(__file__).resolve().parents[1] / "support" / "fake_comfy.py"


@contextmanager
def gpu_window(loop, qtbot, tmp_path: Path, gpus: GpuSource | None, workers: list[tuple[str, str]]
               ) -> Iterator[tuple[MainWindow, LocalService]]:
    """A window on a LocalService over ``gpus`` (simulated; None: the real NVML), running one fake ComfyUI per
    (GPU_ID, ExtraArgs)."""
    gc.collect()
    main = tmp_path / "ComfyUI" / "main.py"
    main.parent.mkdir()
    shutil.copy(FAKE_COMFY, main)
    service = LocalService(tmp_path / "data", gpu_source=gpus, **FAST)
    run(loop, service.start())
    win: MainWindow | None = None
    try:
        for i, (gpu, extra) in enumerate(workers):
            b = run(loop, service.add_backend("comfyui_selfstart"))
            run(loop, service.edit_backend(b.id, f"Worker {i}", {
                "StartScript": str(main), "Python": sys.executable, "ExtraArgs": extra, "GPU_ID": gpu}))
        win = MainWindow(service, settings=temp_settings(tmp_path), poll_interval=0.3, max_poll_interval=1.0)
        qtbot.addWidget(win)
        win.show()
        until(loop, lambda: win.backends_model.rowCount() == len(workers) and all(
            row_text(win, i, Column.STATUS) == "Running" for i in range(len(workers))), timeout=30, what="running")
        yield win, service
    finally:
        if win is not None:
            run(loop, win.shutdown())
        else:
            run(loop, service.aclose())


def _edit_dialog(window: MainWindow) -> EditBackendDialog | None:
    return next((d for d in window.findChildren(EditBackendDialog) if d.isVisible()), None)


def _gpu_combo(dialog: EditBackendDialog) -> QComboBox:
    widget = dialog.form.widget_for("GPU_ID")
    combo = widget.parentWidget()
    assert isinstance(combo, QComboBox), "GPU_ID is not offered as a choice of GPUs"
    return combo


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _answers(url: str) -> bool:
    try:
        _get(url)
    except OSError:
        return False
    return True


def test_gpu_id_is_picked_from_the_detected_gpus_and_still_typed(loop, qtbot, tmp_path) -> None:
    with gpu_window(loop, qtbot, tmp_path, four_gpus(), [("0", "")]) as (window, service):
        window.select_backends([0])
        window.act_edit.trigger()
        until(loop, lambda: _edit_dialog(window) is not None, what="the edit dialog")
        dialog = _edit_dialog(window)
        assert dialog is not None
        combo = _gpu_combo(dialog)
        until(loop, lambda: combo.count() == 4, what="the GPUs offered")
        assert [combo.itemText(i) for i in range(4)] == [
            "0: NVIDIA RTX A4000 (16 GiB) · GPU-a4000-0001", "1: NVIDIA GeForce RTX 4090 (24 GiB) · GPU-4090-0002",
            "2: NVIDIA GeForce RTX 3090 (24 GiB) · GPU-3090-0003", "3: NVIDIA T400 (2 GiB) · GPU-t400-0004"]
        assert "PCI bus 00000000:41:00.0" in combo.itemData(2, Qt.ItemDataRole.ToolTipRole)
        assert combo.currentText().startswith("0: NVIDIA RTX A4000")  # the stored "0", shown as its GPU
        combo.setCurrentIndex(2)
        dialog.save_button.click()
        until(loop, lambda: service.details(0).gpu_ids == "2", what="GPU_ID saved as the index")
        until(loop, lambda: row_text(window, 0, Column.GPU) == "2: RTX 3090", what="the GPU column named")

        # free text still goes: two GPUs at once
        until(loop, lambda: window.act_edit.isEnabled(), what="Edit enabled")
        window.act_edit.trigger()
        until(loop, lambda: _edit_dialog(window) is not None, what="the edit dialog again")
        dialog = _edit_dialog(window)
        assert dialog is not None
        combo = _gpu_combo(dialog)
        until(loop, lambda: combo.count() == 4, what="the GPUs offered again")
        assert combo.currentText().startswith("2: NVIDIA GeForce RTX 3090")
        combo.setEditText("1,3")
        dialog.save_button.click()
        until(loop, lambda: row_text(window, 0, Column.GPU) == "1: RTX 4090, 3: T400", what="two GPUs named")
        until(loop, lambda: row_text(window, 0, Column.STATUS) == "Running", timeout=15, what="running again")


def test_the_gpu_column_and_the_gpus_dock_name_each_gpu(loop, qtbot, tmp_path) -> None:
    gpus = mixed_box()  # slot 1: RTX 3060 (slow), slot 2: RTX 4090 (fast)
    with gpu_window(loop, qtbot, tmp_path, gpus, [("1", ""), ("0", "")]) as (window, _service):
        until(loop, lambda: row_text(window, 0, Column.GPU) == "1: RTX 4090", what="GPU names in the table")
        assert row_text(window, 1, Column.GPU) == "0: RTX 3060"
        window.gpu_dock.show()
        until(loop, lambda: len(window.gpu_dock.rows()) == 2 and all(
            "GiB)" in r.users_label.text() for r in window.gpu_dock.rows()), what="the dock's bars")
        first, second = window.gpu_dock.rows()
        assert first.name_label.text() == "GPU 0 · NVIDIA GeForce RTX 3060"
        assert second.name_label.text() == "GPU 1 · NVIDIA GeForce RTX 4090"
        assert "UUID GPU-4090-bbbb" in second.name_label.toolTip()
        # each worker's 2 GiB on the card its GPU_ID names (CUDA_DEVICE_ORDER=PCI_BUS_ID), over 300 MiB of desktop
        assert first.memory_bar.format() == "2.3 / 12.0 GiB" and first.memory_bar.value() == 191
        assert second.memory_bar.format() == "2.3 / 24.0 GiB" and second.memory_bar.value() == 95
        assert first.users_label.text() == "#1 Worker 1 (2.0 GiB)"
        assert second.users_label.text() == "#0 Worker 0 (2.0 GiB)"


def test_four_gpus_sort_by_number_in_the_gpu_column(loop, qtbot, tmp_path) -> None:
    with gpu_window(loop, qtbot, tmp_path, four_gpus(), [("3", ""), ("1", ""), ("2", "")]) as (window, _service):
        until(loop, lambda: row_text(window, 2, Column.GPU) == "2: RTX 3090", what="named")
        window.proxy.sort(Column.GPU, Qt.SortOrder.AscendingOrder)
        assert [window.proxy.index(r, Column.GPU).data() for r in range(3)] == ["1: RTX 4090", "2: RTX 3090", "3: T400"]


class _Browser(QObject):
    """Stands where the desktop's browser is: Qt's own hook for http URLs (QDesktopServices.setUrlHandler)."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def open_url(self, url: QUrl) -> None:
        self.opened.append(url.toString())


def test_queue_column_open_in_browser_copy_url_and_double_click(loop, qtbot, tmp_path) -> None:
    browser = _Browser()
    QDesktopServices.setUrlHandler("http", browser, "open_url")
    try:
        with gpu_window(loop, qtbot, tmp_path, four_gpus(),
                        [("0", "--queue-running 1 --queue-pending 3"), ("1", "")]) as (window, service):
            url0, url1 = (f"http://127.0.0.1:{service.details(i).port}" for i in (0, 1))
            until(loop, lambda: row_text(window, 0, Column.QUEUE) == "1 running · 3 waiting", what="the queue")
            assert row_text(window, 1, Column.QUEUE) == "0"
            assert row_text(window, 0, Column.URL) == url0 and row_text(window, 1, Column.URL) == url1
            assert not window.table.isColumnHidden(Column.QUEUE) and not window.table.isColumnHidden(Column.URL)

            window.select_backends([0])
            until(loop, lambda: window.act_open.isEnabled(), what="Open in browser enabled")
            window.act_open.trigger()
            assert browser.opened == [url0]
            window.act_copy_url.trigger()
            assert QGuiApplication.clipboard().text() == url0
            window.select_backends([0, 1])
            window.act_copy_url.trigger()
            assert QGuiApplication.clipboard().text() == f"{url0}\n{url1}"

            # a double-click on the URL cell opens the page; on any other cell it still edits
            index = window.proxy.mapFromSource(window.backends_model.index(1, Column.URL))
            _double_click(qtbot, window, index)
            assert browser.opened == [url0, url1]
            assert _edit_dialog(window) is None
            title = window.proxy.mapFromSource(window.backends_model.index(1, Column.TITLE))
            _double_click(qtbot, window, title)
            until(loop, lambda: _edit_dialog(window) is not None, what="the edit dialog")
            dialog = _edit_dialog(window)
            assert dialog is not None and dialog.backend.id == 1
            dialog.reject()

            # the queue follows the worker
            _post(f"{url0}/fake/queue", {"running": 0, "pending": 2})
            until(loop, lambda: row_text(window, 0, Column.QUEUE) == "2 waiting", what="the new queue")
    finally:
        QDesktopServices.unsetUrlHandler("http")


def _double_click(qtbot, window: MainWindow, index) -> None:
    """A person's double-click: press, release, then the second click (Qt's views want the press first)."""
    window.table.scrollTo(index)
    where = window.table.visualRect(index).center()
    qtbot.mouseClick(window.table.viewport(), Qt.MouseButton.LeftButton, pos=where)
    qtbot.mouseDClick(window.table.viewport(), Qt.MouseButton.LeftButton, pos=where)


def _post(url: str, body: object) -> None:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5):
        pass


def test_set_models_folder_on_every_selected_worker(loop, qtbot, tmp_path) -> None:
    models = tmp_path / "shared models"
    (models / "checkpoints").mkdir(parents=True)
    (models / "checkpoints" / "shared.safetensors").write_bytes(b"")
    with gpu_window(loop, qtbot, tmp_path, four_gpus(), [("0", ""), ("1", ""), ("2", "")]) as (window, service):
        old = [service.details(i).pid for i in (0, 2)]
        window.select_backends([0, 2])
        until(loop, lambda: window.act_models_folder.isEnabled(), what="Set models folder… enabled")
        window.act_models_folder.trigger()
        until(loop, lambda: window.findChild(QFileDialog, "modelsFolderDialog") is not None, what="the folder dialog")
        dialog = window.findChild(QFileDialog, "modelsFolderDialog")
        assert dialog is not None and dialog.isVisible() and dialog.fileMode() == QFileDialog.FileMode.Directory
        dialog.fileSelected.emit(str(models))  # what choosing the folder does
        dialog.done(QDialog.DialogCode.Accepted)
        until(loop, lambda: all(service.details(i).pid not in (None, *old) for i in (0, 2)) and all(
            row_text(window, i, Column.STATUS) == "Running" for i in (0, 2)), timeout=20, what="both restarted")
        listed = run(loop, service.list_backends())
        assert [listed[i].settings.get("ModelsFolder", "") for i in (0, 1, 2)] == [str(models), "", str(models)]
        for i in (0, 2):
            info = _get(f"http://127.0.0.1:{service.details(i).port}/object_info")
            assert info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] == ["shared.safetensors"]  # type: ignore[index]
        assert "Models folder" in window.statusBar().currentMessage()


def test_set_models_folder_over_serve_takes_a_typed_path(loop, qtbot, tmp_path) -> None:
    """Over serve the folder is on the GPU box: typed, not picked in this computer's folder dialog."""
    from PySide6.QtWidgets import QInputDialog

    from backend_manager_gui.core.remote import RemoteService
    from backend_manager_gui.core.server import ServeRunner

    gc.collect()
    main = tmp_path / "ComfyUI" / "main.py"
    main.parent.mkdir()
    shutil.copy(FAKE_COMFY, main)
    models = tmp_path / "box models"
    (models / "checkpoints").mkdir(parents=True)
    (models / "checkpoints" / "on-the-box.safetensors").write_bytes(b"")
    box = LocalService(tmp_path / "box", **FAST)
    run(loop, box.start())
    srv = ServeRunner(box)
    run(loop, srv.start())
    b = run(loop, box.add_backend("comfyui_selfstart"))
    run(loop, box.edit_backend(b.id, "Box", {"StartScript": str(main), "Python": sys.executable}))
    win = MainWindow(RemoteService(srv.url), settings=temp_settings(tmp_path), poll_interval=0.3, max_poll_interval=1.0)
    qtbot.addWidget(win)
    win.show()
    try:
        until(loop, lambda: win.backends_model.rowCount() == 1 and row_text(win, 0, Column.STATUS) == "Running",
              timeout=20, what="the box's worker running")
        old = box.details(0).pid
        win.select_backends([0])
        until(loop, lambda: win.act_models_folder.isEnabled(), what="Set models folder… enabled")
        win.act_models_folder.trigger()
        until(loop, lambda: win.findChild(QInputDialog, "modelsFolderInput") is not None, what="the folder question")
        dialog = win.findChild(QInputDialog, "modelsFolderInput")
        assert dialog is not None and win.findChild(QFileDialog, "modelsFolderDialog") is None
        dialog.setTextValue(str(models))
        dialog.done(QDialog.DialogCode.Accepted)
        until(loop, lambda: box.details(0).pid not in (None, old) and row_text(win, 0, Column.STATUS) == "Running",
              timeout=20, what="the worker restarted")
        # the table's "Running" may still be a poll from before the restart: wait for the new worker to answer
        until(loop, lambda: _answers(f"http://127.0.0.1:{box.details(0).port}/object_info"), timeout=20,
              what="the restarted worker answering")
        info = _get(f"http://127.0.0.1:{box.details(0).port}/object_info")
        assert info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] == ["on-the-box.safetensors"]  # type: ignore[index]
    finally:
        run(loop, win.shutdown())
        run(loop, srv.aclose())
        run(loop, box.aclose())
