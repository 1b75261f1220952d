"""Child processes for the start-up and memory benchmarks (P3, P6). Each prints one JSON line and exits.

    python -m tests.bench.app_probe bare                 # a bare PySide6 window: shown, first paint, closed
    python -m tests.bench.app_probe app --data-dir D     # the real app start (run_app) on this computer's manager
    python -m tests.bench.app_probe rss --server URL --rows N   # the app on a server until N rows are listed

Times are taken by the parent (process start to the "painted" line); the child adds its own view of them.
Only what the measured program itself needs is imported before the paint.
"""

from __future__ import annotations

import sys
import time

T0 = time.perf_counter()


def _painted_filter(on_paint):  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QEvent, QObject

    class _First(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.done = False

        def eventFilter(self, obj, event):  # type: ignore[no-untyped-def]  # noqa: N802
            if not self.done and event.type() == QEvent.Type.Paint:
                self.done = True
                on_paint(obj)
            return False

    return _First()


def bare() -> None:
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication(sys.argv[:1])
    win = QMainWindow()
    win.resize(1200, 700)

    def painted(_obj: object) -> None:
        print(f'{{"painted_s": {time.perf_counter() - T0:.4f}}}', flush=True)
        win.close()
        app.quit()

    f = _painted_filter(painted)
    app.installEventFilter(f)
    win.show()
    app.exec()


def app(data_dir: str) -> None:
    import argparse
    import os

    from PySide6.QtWidgets import QApplication

    qapp = QApplication(sys.argv[:1])

    def painted(_obj: object) -> None:
        # the measurement is over: leave at once (no worker runs, the data folder is a temporary one)
        print(f'{{"painted_s": {time.perf_counter() - T0:.4f}, "modules": {len(sys.modules)}}}', flush=True)
        os._exit(0)

    f = _painted_filter(painted)
    qapp.installEventFilter(f)
    from backend_manager_gui.gui.app import run_app

    run_app(argparse.Namespace(data_dir=data_dir, server=None))


def rss(server: str, rows: int) -> None:
    import argparse
    import os

    import psutil
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from backend_manager_gui.gui.main_window import MainWindow

    qapp = QApplication(sys.argv[:1])

    def check() -> None:
        for w in QApplication.topLevelWidgets():
            if isinstance(w, MainWindow) and w.backends_model.rowCount() >= rows and w.isVisible():
                # a few more polls and paints, then read the memory of the whole process
                QTimer.singleShot(6000, lambda w=w: report(w))
                return
        QTimer.singleShot(100, check)

    def report(w: MainWindow) -> None:
        w.table.verticalScrollBar().setValue(w.table.verticalScrollBar().maximum() // 2)
        qapp.processEvents()
        info = psutil.Process().memory_info()
        print(f'{{"rss_mb": {info.rss / 2**20:.1f}, "rows": {w.backends_model.rowCount()}, '
              f'"polls": {w.poller.polls}}}', flush=True)
        os._exit(0)

    QTimer.singleShot(100, check)
    from backend_manager_gui.gui.app import run_app

    run_app(argparse.Namespace(data_dir=None, server=server))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "bare":
        bare()
    elif mode == "app":
        app(sys.argv[sys.argv.index("--data-dir") + 1])
    elif mode == "rss":
        rss(sys.argv[sys.argv.index("--server") + 1], int(sys.argv[sys.argv.index("--rows") + 1]))
    else:
        raise SystemExit(f"unknown mode {mode}")
