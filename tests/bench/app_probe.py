"""Child processes for the start-up and memory benchmarks (P3, P6). Each prints JSON lines and exits.

    python -m tests.bench.app_probe bare                 # a bare PySide6 window: shown, first paint, closed
    python -m tests.bench.app_probe app --data-dir D     # the real app start (run_app) on this computer's manager
    python -m tests.bench.app_probe rss --server URL --rows N   # the app on a server until N rows are listed
    python -m tests.bench.app_probe rss --server URL1,URL2,... --rows N --then-kill PID
        # the app on several servers (one connection each, P9); once N rows are listed, PID (the process of the
        # last server) is killed, so that its rows stay greyed while the app polls on

A window's first paint is noticed by its own ``paintEvent`` (a Python override, the same in both), which notes
``time.perf_counter()``: on Linux, macOS and Windows that clock is the system's monotonic one, so the parent,
which noted the same clock before starting the process, reads the time to the first paint off the line however
late the line itself is printed. Not an application-wide event filter: PySide6 would then wrap every object and
event of the start-up in Python (creating their types and enums on the way), a cost the app itself never pays,
and far larger for a window of many widgets than for a bare one (measured: +15 ms for one QLabel).
Only what the measured program itself needs is imported before the paint.
"""

from __future__ import annotations

import sys
import time

T0 = time.perf_counter()


def _line(**fields: object) -> None:
    print("{" + ", ".join(f'"{k}": {v if not isinstance(v, float) else round(v, 6)}' for k, v in fields.items()) + "}",
          flush=True)


def bare() -> None:
    from PySide6.QtWidgets import QApplication, QMainWindow

    class Window(QMainWindow):
        def paintEvent(self, event):  # type: ignore[no-untyped-def]
            super().paintEvent(event)
            now = time.perf_counter()
            _line(painted_at=now, painted_s=now - T0, cpu_s=time.process_time())
            self.close()
            app.quit()

    app = QApplication(sys.argv[:1])
    win = Window()
    win.resize(1200, 700)
    win.show()
    app.exec()


def app(data_dir: str) -> None:
    import argparse
    import os

    from PySide6.QtWidgets import QApplication

    from backend_manager_gui.gui import main_window

    qapp = QApplication(sys.argv[:1])
    window_class = main_window.MainWindow
    painted = window_class.paintEvent  # the window's own, or QMainWindow's before it had one
    complete = getattr(window_class, "complete", None)

    def paint_event(self, event):  # type: ignore[no-untyped-def]
        painted(self, event)
        if not getattr(self, "_probe_painted", False):
            self._probe_painted = True
            now = time.perf_counter()
            _line(painted_at=now, painted_s=now - T0, cpu_s=time.process_time(), modules=len(sys.modules))
            if complete is None:  # a window built in one go is complete when it first paints
                _line(complete_at=now)
                os._exit(0)

    def complete_then_exit(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        assert complete is not None
        complete(self, *args, **kwargs)
        _line(complete_at=time.perf_counter(), complete_cpu_s=time.process_time(), modules_complete=len(sys.modules))
        # the measurement is over: leave at once (no worker runs, the data folder is a temporary one)
        os._exit(0)

    window_class.paintEvent = paint_event
    if complete is not None:
        window_class.complete = complete_then_exit
    from backend_manager_gui.gui.app import run_app

    run_app(argparse.Namespace(data_dir=data_dir, server=None))
    del qapp


def rss(server: str, rows: int, kill: int | None = None) -> None:
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
                if kill is not None:
                    import signal

                    os.kill(kill, signal.SIGKILL)
                QTimer.singleShot(6000, lambda w=w: report(w))
                return
        QTimer.singleShot(100, check)

    def report(w: MainWindow) -> None:
        w.table.verticalScrollBar().setValue(w.table.verticalScrollBar().maximum() // 2)
        qapp.processEvents()
        info = psutil.Process().memory_info()
        stale = sum(1 for i in w.backends_model.backends() if w.backends_model.stale_reason(i) is not None)
        print(f'{{"rss_mb": {info.rss / 2**20:.1f}, "rows": {w.backends_model.rowCount()}, '
              f'"polls": {w.poller.polls}, "connections": {len(w.hosts)}, "greyed": {stale}}}', flush=True)
        os._exit(0)

    QTimer.singleShot(100, check)
    from backend_manager_gui.gui.app import run_app

    servers = server.split(",")
    run_app(argparse.Namespace(data_dir=None, server=servers[0] if len(servers) == 1 else servers, no_local=True))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "bare":
        bare()
    elif mode == "app":
        app(sys.argv[sys.argv.index("--data-dir") + 1])
    elif mode == "rss":
        rss(sys.argv[sys.argv.index("--server") + 1], int(sys.argv[sys.argv.index("--rows") + 1]),
            int(sys.argv[sys.argv.index("--then-kill") + 1]) if "--then-kill" in sys.argv else None)
    else:
        raise SystemExit(f"unknown mode {mode}")
