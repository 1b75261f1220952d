"""The main window on the embedded manager with real fake-ComfyUI worker processes."""

from __future__ import annotations

import gc
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from PySide6.QtCore import Qt

from backend_manager_gui.core.local import LocalService
from backend_manager_gui.gui.backends_model import Column
from backend_manager_gui.gui.main_window import MainWindow
from tests.gui.conftest import run
from tests.gui.window_helpers import answer_box, row_text, status_text, temp_settings, until

FAKE_COMFY = Path(__file__).resolve().parents[1] / "support" / "fake_comfy.py"
FAST = dict(stop_grace=2.0, backoff_base=0.1, probe_interval=0.1, probe_timeout=1.0, queue_interval=0.2,
            api_probe_interval=0.2, alive_ready_s=0.5)


def worker_settings(main: Path, gpu: str) -> dict[str, object]:
    return {"StartScript": str(main), "Python": sys.executable, "ExtraArgs": "", "GPU_ID": gpu, "Port": 0,
            "AutoRestart": True, "StartTimeout": 30}


@contextmanager
def local_window(loop, qtbot, tmp_path: Path, workers: int = 2) -> Iterator[tuple[MainWindow, LocalService]]:
    """A window on a LocalService running ``workers`` fake ComfyUI workers; all stopped inside the test."""
    gc.collect()  # earlier tests' Qt objects die here, on the GUI thread, not in a worker thread mid-test
    folder = tmp_path / "ComfyUI"
    folder.mkdir()
    main = folder / "main.py"
    shutil.copy(FAKE_COMFY, main)
    service = LocalService(tmp_path / "data", **FAST)
    run(loop, service.start())
    win: MainWindow | None = None
    try:
        for i in range(workers):
            b = run(loop, service.add_backend("comfyui_selfstart"))
            run(loop, service.edit_backend(b.id, f"Worker {i}", worker_settings(main, str(i))))
        win = MainWindow(service, settings=temp_settings(tmp_path), poll_interval=0.3, max_poll_interval=1.0)
        qtbot.addWidget(win)
        win.show()
        until(loop, lambda: [row_text(win, i, Column.STATUS) for i in range(workers)] == ["Running"] * workers
              if win.backends_model.rowCount() == workers else False, timeout=30, what="workers running")
        yield win, service
    finally:
        if win is not None:
            run(loop, win.shutdown())
        else:
            run(loop, service.aclose())


def test_embedded_manager_shows_gpu_and_port_of_each_worker(loop, qtbot, tmp_path):
    with local_window(loop, qtbot, tmp_path) as (window, service):
        assert not window.table.isColumnHidden(Column.PORT) and not window.table.isColumnHidden(Column.GPU)
        until(loop, lambda: row_text(window, 0, Column.PORT) != "")
        for i in (0, 1):
            details = service.details(i)
            assert row_text(window, i, Column.PORT) == str(details.port)
            assert row_text(window, i, Column.GPU) == str(i)
            assert row_text(window, i, Column.TITLE) == f"Worker {i}"
        assert status_text(window) == "Connected to this computer — 2 running"
        assert window.act_per_gpu.isVisible()
        assert window.gpu_dock is None or window.gpu_dock.isVisible()


@pytest.fixture
def app_keeps_running(qapp) -> Iterator[None]:
    """As in the app: closing the window ends main(), which shuts down before the loop stops."""
    qapp.setQuitOnLastWindowClosed(False)
    yield
    qapp.setQuitOnLastWindowClosed(True)


def test_quit_asks_before_stopping_running_workers(loop, qtbot, app_keeps_running, tmp_path):
    with local_window(loop, qtbot, tmp_path) as (window, service):
        pids = [service.details(i).pid for i in (0, 1)]
        closed: list[bool] = []
        window.closed.connect(lambda: closed.append(True))
        window.close()
        text = answer_box(loop, window, "confirm_quit", "Cancel")
        assert text == "Stop 2 running backends and quit?"
        assert window.isVisible() and not closed
        assert all(psutil.pid_exists(p) for p in pids)
        window.close()
        answer_box(loop, window, "confirm_quit", "Stop and quit")
        until(loop, lambda: closed == [True] and not window.isVisible())
        run(loop, window.shutdown())  # what the app does once the window is closed
        assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)


def test_disable_restart_enable_on_real_workers(loop, qtbot, tmp_path):
    with local_window(loop, qtbot, tmp_path) as (window, service):
        first_pid = service.details(1).pid
        window.select_backends([1])
        window.activateWindow()
        window.table.setFocus()
        qtbot.keyClick(window.table, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
        until(loop, lambda: service.details(1).pid not in (None, first_pid), timeout=20, what="a new worker process")
        until(loop, lambda: row_text(window, 1, Column.STATUS) == "Running", timeout=20)
        qtbot.keyClick(window.table, Qt.Key.Key_Space)
        until(loop, lambda: row_text(window, 1, Column.STATUS) == "Disabled", timeout=20)
        assert service.details(1).pid is None and row_text(window, 1, Column.PORT) == ""
        assert status_text(window) == "Connected to this computer — 1 running · 1 disabled"
        until(loop, lambda: window.act_toggle.isEnabled() and window.act_toggle.text() == "Enable")
        qtbot.keyClick(window.table, Qt.Key.Key_Space)
        until(loop, lambda: row_text(window, 1, Column.STATUS) == "Running", timeout=20)


def test_crashed_worker_shows_errored_with_its_message(loop, qtbot, tmp_path):
    with local_window(loop, qtbot, tmp_path, workers=1) as (window, service):
        backend = window.backends_model.backend(0)
        settings = dict(backend.settings, ExtraArgs="--crash-after 0.3", AutoRestart=False)
        run(loop, service.edit_backend(0, "Crashy", settings))
        until(loop, lambda: row_text(window, 0, Column.STATUS) == "Errored", timeout=20)
        model = window.backends_model
        tooltip = model.index(0, Column.STATUS).data(Qt.ItemDataRole.ToolTipRole)
        assert tooltip and tooltip != "The backend failed to start or crashed."  # the manager's own words
        # ...and the reason is on screen without hovering: the Details column, right beside Status
        assert row_text(window, 0, Column.DETAILS).startswith("exited with code")
        header = window.table.horizontalHeader()
        assert header.visualIndex(Column.DETAILS) == header.visualIndex(Column.STATUS) + 1
        assert not window.table.isColumnHidden(Column.DETAILS)
        assert window.table.isColumnHidden(Column.MODEL)  # our manager knows no loaded model: no empty column
        assert window.notifications and window.notifications[-1][0] == "Crashy (#0) errored"


def test_a_crash_while_minimized_is_still_notified_once(loop, qtbot, tmp_path):
    """Polling pauses while minimized, but a worker crash is news: the manager's own events bring it."""
    with local_window(loop, qtbot, tmp_path, workers=1) as (window, service):
        window.showMinimized()
        until(loop, lambda: window.poller.paused)
        psutil.Process(service.details(0).pid).kill()
        until(loop, lambda: [n for n in window.notifications if n[0] == "Worker 0 (#0) errored"], timeout=10)
        assert "SIGKILL" in window.notifications[-1][1] or "-9" in window.notifications[-1][1]
        window.showNormal()
        until(loop, lambda: not window.poller.paused)
        until(loop, lambda: row_text(window, 0, Column.STATUS) == "Running", timeout=20)  # AutoRestart
        # the poll after restoring does not announce the same crash again
        assert [n[0] for n in window.notifications].count("Worker 0 (#0) errored") == 1


def test_delete_then_one_backend_per_gpu(loop, qtbot, tmp_path):
    with local_window(loop, qtbot, tmp_path) as (window, service):
        pid = service.details(0).pid
        window.select_backends([0])
        window.act_delete.trigger()
        assert answer_box(loop, window, "confirm_delete", "Delete") == "Delete “Worker 0” (#0)?"
        until(loop, lambda: window.backends_model.rowCount() == 1, timeout=20)
        assert 0 not in run(loop, service.list_backends())
        until(loop, lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
        # this machine has no NVIDIA GPU: the action says so instead of doing nothing
        report = run(loop, service.gpus())
        window.act_per_gpu.trigger()
        if report.gpus:
            until(loop, lambda: window.backends_model.rowCount() == 1 + len([g for g in report.gpus if g.index != 1]))
        else:
            until(loop, lambda: window.message_bar.text().startswith("No NVIDIA GPU detected"))
            assert window.backends_model.rowCount() == 1


def test_first_start_with_no_backends_explains_how_to_add_one(loop, qtbot, tmp_path):
    with local_window(loop, qtbot, tmp_path, workers=0) as (window, _service):
        until(loop, lambda: window.empty_label.isVisible())
        until(loop, lambda: "Custom GPU worker" in window.empty_label.text(), what="the third Add choice in the hint")
        text = window.empty_label.text()
        assert text.startswith("No backends yet.") and "ComfyUI (self-starting)" in text and "main.py" in text
        # every entry of the Add menu, named as the menu names it (issue 12 item 14)
        standard = [a.text() for a in window.add_menu.actions() if not a.isSeparator() and a.menu() is None]
        assert standard == ["ComfyUI (self-starting)", "ComfyUI by URL", "Custom GPU worker"]
        for name in standard:
            assert f"Add → {name}: " in text


def _edit_dialog(window: MainWindow):
    from backend_manager_gui.gui.dialogs import EditBackendDialog

    found = [d for d in window.findChildren(EditBackendDialog) if d.isVisible()]
    return found[0] if found else None


def test_cancel_right_after_add_leaves_nothing_behind(loop, qtbot, tmp_path):
    """Issue 12 item 2: Add makes the backend before its dialog opens; Cancel takes the Add back."""
    with local_window(loop, qtbot, tmp_path, workers=0) as (window, service):
        until(loop, lambda: window.backend_types, what="the types in the Add menu")
        add_custom = next(a for a in window.add_menu.actions() if a.text() == "Custom GPU worker")
        add_custom.trigger()
        until(loop, lambda: _edit_dialog(window) is not None, what="the new backend's edit dialog")
        assert window.backends_model.rowCount() == 1  # it exists while its dialog is open
        _edit_dialog(window).cancel_button.click()
        until(loop, lambda: window.backends_model.rowCount() == 0, what="the cancelled backend gone from the table")
        assert run(loop, service.list_backends()) == {}  # gone from the manager (and its backends.json) too
        assert window.message_bar.text() == "" and window.notifications == []  # and nothing was shown about it
        assert window.empty_label.isVisible()

        # Add, Save: it stays; a later Edit → Cancel of it deletes nothing
        add_custom.trigger()
        until(loop, lambda: _edit_dialog(window) is not None)
        dialog = _edit_dialog(window)
        dialog.title_edit.setText("Kept")
        dialog.save_button.click()
        until(loop, lambda: _edit_dialog(window) is None and window.backends_model.rowCount() == 1)
        (kept,) = run(loop, service.list_backends()).values()
        window.select_backends([kept.id])
        window.act_edit.trigger()
        until(loop, lambda: _edit_dialog(window) is not None)
        _edit_dialog(window).cancel_button.click()
        until(loop, lambda: _edit_dialog(window) is None and window.act_edit.isEnabled())
        window.act_refresh.trigger()
        run(loop, window.poller.refresh())
        assert [b.title for b in run(loop, service.list_backends()).values()] == ["Kept"]
        assert window.backends_model.rowCount() == 1


def test_free_vram_on_a_worker_without_a_free_memory_url_says_so(loop, qtbot, tmp_path):
    """Issue 12 item 8: not "Nothing to free: no running backend held GPU memory" for a running worker."""
    with local_window(loop, qtbot, tmp_path, workers=0) as (window, service):
        b = run(loop, service.add_backend("command"))
        code = "import time; time.sleep(600)"
        run(loop, service.edit_backend(b.id, "Plain", {"Command": f'"{sys.executable}" -c "{code}"'}))
        until(loop, lambda: window.backends_model.rowCount() == 1 and row_text(window, b.id, Column.STATUS) == "Running",
              timeout=30, what="the worker running")
        window.select_backends([b.id])
        window.act_free.trigger()
        until(loop, lambda: window.message_bar.text() != "", what="what Free VRAM did")
        assert window.message_bar.text() == (
            f"Could not free memory of “Plain” (#{b.id}): This worker has no free-memory URL: set FreeMemoryURL in "
            "its settings to let the manager ask it to free memory."
        )
        assert "Freed" not in window.statusBar().currentMessage()
