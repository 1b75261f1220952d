"""Shared pieces of the main-window tests: waiting on the qasync loop, reading the table, answering boxes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from backend_manager_gui.gui.backends_model import Column
from backend_manager_gui.gui.main_window import MainWindow
from tests.gui.conftest import run


def until(loop: asyncio.AbstractEventLoop, predicate: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Let the app run (Qt events and asyncio both) until ``predicate()`` is true, failing after ``timeout``."""

    async def _wait() -> None:
        while not predicate():
            await asyncio.sleep(0.02)

    try:
        run(loop, _wait(), timeout)
    except TimeoutError:
        raise AssertionError(f"not within {timeout} s: {what or predicate}") from None


def settle(loop: asyncio.AbstractEventLoop, seconds: float = 0.2) -> None:
    run(loop, asyncio.sleep(seconds))


def temp_settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def table_column(window: MainWindow, col: Column) -> list[str]:
    """What the person sees in one column, top to bottom (after filter and sort)."""
    proxy = window.proxy
    return [proxy.index(r, col).data() or "" for r in range(proxy.rowCount())]


def row_text(window: MainWindow, backend_id: int, col: Column) -> str:
    model = window.backends_model
    row = model.row_of(backend_id)
    assert row is not None, f"backend {backend_id} is not in the table"
    return model.index(row, col).data() or ""


def is_checked(window: MainWindow, backend_id: int) -> bool:
    model = window.backends_model
    row = model.row_of(backend_id)
    assert row is not None
    return model.index(row, Column.ENABLED).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked


def status_text(window: MainWindow) -> str:
    return window.status_label.text()


def find_box(window: MainWindow, object_name: str) -> QMessageBox | None:
    for w in QApplication.topLevelWidgets() + window.findChildren(QMessageBox):
        if isinstance(w, QMessageBox) and w.objectName() == object_name and w.isVisible():
            return w
    return None


def answer_box(loop: asyncio.AbstractEventLoop, window: MainWindow, object_name: str, button_text: str) -> str:
    """Wait for the question box, click the button labelled ``button_text``, return the box's text."""
    until(loop, lambda: find_box(window, object_name) is not None, what=f"the {object_name} box")
    box = find_box(window, object_name)
    assert box is not None
    text = box.text()
    for b in box.buttons():
        if b.text().replace("&", "") == button_text:
            b.click()
            return text
    raise AssertionError(f"no button {button_text!r} in {[b.text() for b in box.buttons()]}")
