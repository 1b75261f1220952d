"""End to end through the window's public behaviour: Ctrl+F and Ctrl+O pressed on the real window, and
*Open log file* opening the worker's real log file (the desktop's opener is replaced through Qt's own
``QDesktopServices.setUrlHandler``, the product is not touched)."""

from __future__ import annotations

import gc
import shlex
import shutil
import sys
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QTableView,
)

from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.gui.backends_model import Column
from backend_manager_gui.gui.connections import ConnectionKind, ConnectionProfile
from backend_manager_gui.gui.main_window import MainWindow
from tests.core.local.conftest import FAKE_COMFY, FAST
from tests.gui.conftest import run
from tests.gui.window_helpers import status_text, table_column, temp_settings, until
from tests.support.fake_swarm import FakeSwarm


def _focused() -> object:
    return QApplication.focusWidget()


def _press(qtbot, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A key pressed by the person: it goes to whatever has the keyboard focus."""
    target = QApplication.focusWidget()
    assert target is not None, "nothing has the keyboard focus"
    qtbot.keyClick(target, key, modifier)


def _type(qtbot, text: str) -> None:
    target = QApplication.focusWidget()
    assert target is not None, "nothing has the keyboard focus"
    qtbot.keyClicks(target, text)


def _visible_dialog(name: str) -> QDialog | None:
    for widget in QApplication.topLevelWidgets():
        for dialog in [widget, *widget.findChildren(QDialog)]:
            if isinstance(dialog, QDialog) and dialog.objectName() == name and dialog.isVisible():
                return dialog
    return None


def _server_window(loop, qtbot, tmp_path: Path, fake: FakeSwarm) -> MainWindow:
    gc.collect()
    window = MainWindow(RemoteService(fake.url, timeout=2.0), settings=temp_settings(tmp_path), poll_interval=0.3,
                        max_poll_interval=1.0, profile=ConnectionProfile(ConnectionKind.SERVER, fake.url))
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    until(loop, lambda: window.backends_model.rowCount() == len(fake.backends), what="the server's rows")
    table = window.findChild(QTableView, "backends_table")
    assert table is not None
    table.setFocus()
    until(loop, lambda: _focused() is table, what="the table to have the focus")
    return window


def test_ctrl_f_puts_the_typing_into_the_filter(loop, qtbot, tmp_path) -> None:
    fake = FakeSwarm()
    for title in ("Big GPU", "Small GPU", "Laptop"):
        fake.add("comfyui_api", status="running", title=title)
    run(loop, fake.start())
    window = _server_window(loop, qtbot, tmp_path, fake)
    try:
        filter_edit = window.findChild(QLineEdit, "filter_edit")
        assert filter_edit is not None
        _press(qtbot, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
        assert _focused() is filter_edit
        _type(qtbot, "gpu")
        until(loop, lambda: table_column(window, Column.TITLE) == ["Big GPU", "Small GPU"], what="the filtered rows")
        # Ctrl+F again from the table selects what is there, so typing replaces it
        window.findChild(QTableView, "backends_table").setFocus()
        _press(qtbot, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
        assert _focused() is filter_edit and filter_edit.selectedText() == "gpu"
        _type(qtbot, "lap")
        until(loop, lambda: table_column(window, Column.TITLE) == ["Laptop"], what="the new filter")
    finally:
        run(loop, window.shutdown())
        run(loop, fake.stop())


def test_ctrl_o_opens_connect_and_the_keyboard_alone_switches_server(loop, qtbot, tmp_path) -> None:
    first, second = FakeSwarm(backends=1), FakeSwarm(token="other-server-token")
    second.add("comfyui_api", status="running", title="On the other server")
    second.add("comfyui_api", status="idle", title="Also there")
    run(loop, first.start())
    run(loop, second.start())
    window = _server_window(loop, qtbot, tmp_path, first)
    try:
        _press(qtbot, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
        until(loop, lambda: _visible_dialog("connect_dialog") is not None, what="the Connect dialog")
        dialog = _visible_dialog("connect_dialog")
        assert dialog is not None
        server_radio = next(r for r in dialog.findChildren(QRadioButton) if r.text() == "SwarmUI server")
        assert server_radio.isChecked()  # connected to a server: that is what it offers
        url_edit, token_edit = (e for e in dialog.findChildren(QLineEdit) if e.isEnabled())
        assert url_edit.text() == first.url
        url_edit.setFocus()
        url_edit.selectAll()
        _type(qtbot, second.url)
        _press(qtbot, Qt.Key.Key_Tab)
        assert _focused() is token_edit
        _type(qtbot, "other-server-token")
        _press(qtbot, Qt.Key.Key_Return)  # Connect is the dialog's default button
        until(loop, lambda: table_column(window, Column.TITLE) == ["On the other server", "Also there"],
              what="the other server's rows")
        until(loop, lambda: status_text(window).startswith(f"Connected to {second.url}"))
        assert second.last_cookies.get("swarm_token") == "other-server-token"
        assert window.windowTitle() == f"{second.url} — Backend Manager"
    finally:
        run(loop, window.shutdown())
        run(loop, first.stop())
        run(loop, second.stop())


class _Opener(QObject):
    """Stands in for the desktop's file opener (a text viewer): records what it was asked to open."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url)


def test_open_log_file_opens_the_selected_workers_real_log(loop, qtbot, tmp_path) -> None:
    gc.collect()
    main = tmp_path / "ComfyUI" / "main.py"
    main.parent.mkdir()
    shutil.copy(FAKE_COMFY, main)
    service = LocalService(tmp_path / "data", **FAST)
    run(loop, service.start())
    for i in range(2):
        run(loop, service.add_backend("comfyui_selfstart"))
        run(loop, service.edit_backend(i, f"Worker {i}", {
            "StartScript": str(main), "Python": sys.executable, "ExtraArgs": f"--tag worker-{i} --echo-args",
            "GPU_ID": "", "Port": 0, "AutoRestart": True, "StartTimeout": 30}))
    window = MainWindow(service, settings=temp_settings(tmp_path), poll_interval=0.3, max_poll_interval=1.0)
    qtbot.addWidget(window)
    opener = _Opener()
    QDesktopServices.setUrlHandler("file", opener, "open")
    try:
        window.show()
        until(loop, lambda: table_column(window, Column.STATUS) == ["Running", "Running"], timeout=30,
              what="both workers running")
        # the person clicks the second row, then the dock's button
        table = window.findChild(QTableView, "backends_table")
        assert table is not None
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(table.model().index(1, 0)).center())
        button = next(b for b in window.findChildren(QPushButton) if b.text() == "Open log file")
        until(loop, lambda: button.isVisible() and button.isEnabled(), what="the Open log file button")
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert len(opener.opened) == 1
        url = opener.opened[0]
        assert url.isLocalFile()
        opened = Path(url.toLocalFile())
        assert opened == service.log_path(1) and opened.is_file()
        text = opened.read_text("utf-8")
        # the worker's own output, and the manager's account of starting it: this worker's, not the other's
        assert "fake_comfy pid=" in text and '"worker-1"' in text and "worker-0" not in text
        assert "[manager] starting: " + shlex.join([sys.executable, str(main)]) in text
    finally:
        QDesktopServices.unsetUrlHandler("file")
        run(loop, window.shutdown())
