"""Plays a person at the real app: ``python -m tests.gui.app_person ARGS...`` runs what
``python -m backend_manager_gui ARGS...`` runs (its ``__main__``, in this process) and, once the window says it
is connected and shows its rows, prints what the window shows as one line ``PERSON_SAW {json}`` and presses
Ctrl+Q, as a person would. A person who waited 30 s for that prints ``PERSON_GAVE_UP {json}`` and presses Ctrl+Q
all the same. The exit code is the app's.

Only the QApplication is made here first (the app takes the one that exists), so a timer can look at the
window; everything else is the app's own start-up and shutdown.
"""

from __future__ import annotations

import json
import runpy
import sys
import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QTableView, QWidget


def _main_window(app: QApplication) -> QWidget | None:
    return next((w for w in app.topLevelWidgets() if w.objectName() == "main_window" and w.isVisible()), None)


PATIENCE_S = 30.0


def main() -> None:
    app = QApplication(sys.argv[:1])
    started = time.monotonic()

    def look() -> None:
        window = _main_window(app)
        if window is None:
            return
        status = window.findChild(QLabel, "status_summary")
        table = window.findChild(QTableView, "backends_table")
        if status is None or table is None:
            return
        shown = {"title": window.windowTitle(), "status": status.text(), "rows": table.model().rowCount()}
        text = status.text()
        every_one = " connections — " in text and "cannot reach" not in text and "connecting to" not in text
        if (text.startswith("Connected to") or every_one) and table.model().rowCount() > 0:
            print("PERSON_SAW " + json.dumps(shown), flush=True)
        elif time.monotonic() - started > PATIENCE_S:
            print("PERSON_GAVE_UP " + json.dumps(shown), flush=True)
        else:
            return
        timer.stop()
        window.activateWindow()
        table.setFocus()
        QTest.keyClick(table, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)

    timer = QTimer()
    timer.timeout.connect(look)
    timer.start(50)
    sys.argv = ["backend_manager_gui", *sys.argv[1:]]
    runpy.run_module("backend_manager_gui", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
