"""GUI helpers of the reliability suite: an event-loop lateness probe and finding the open edit dialog."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QWidget

from backend_manager_gui.gui.dialogs import EditBackendDialog

PROBE_PERIOD_MS = 20


class LatenessProbe(QObject):
    """A 20 ms precise QTimer that records how late each tick fires: the longest time the (qasync = Qt) event
    loop was blocked, as a person would feel it (a frozen window)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worst_ms = 0.0
        #: CPU time this thread used during the worst gap: near worst_ms = the app itself was busy; near 0 = the
        #: thread waited (blocking I/O, or the machine gave its cores to other processes)
        self.worst_cpu_ms = 0.0
        self.ticks = 0
        self._last: float | None = None
        self._last_cpu = 0.0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(PROBE_PERIOD_MS)
        self._timer.timeout.connect(self._on_tick)

    def start(self) -> None:
        self._last = time.perf_counter()
        self._last_cpu = time.thread_time()
        self._timer.start()

    def verdict(self) -> str:
        return f"the event loop was blocked {self.worst_ms:.0f} ms (this thread ran {self.worst_cpu_ms:.0f} ms of it)"

    def stop(self) -> None:
        self._timer.stop()
        self._last = None

    def _on_tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        if self._last is not None:
            late = (now - self._last) * 1000 - PROBE_PERIOD_MS
            if late > self.worst_ms:
                self.worst_ms = late
                self.worst_cpu_ms = (cpu - self._last_cpu) * 1000
        self._last, self._last_cpu = now, cpu
        self.ticks += 1


def open_edit_dialog(parent: QWidget) -> EditBackendDialog | None:
    for dialog in parent.findChildren(EditBackendDialog):
        if dialog.isVisible():
            return dialog
    return None
