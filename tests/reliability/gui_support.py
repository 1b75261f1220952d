"""GUI helpers of the reliability suite: an event-loop lateness probe and finding the open edit dialog."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QWidget

from backend_manager_gui.gui.dialogs import EditBackendDialog
from tests.support.load import Load

PROBE_PERIOD_MS = 20


class LatenessProbe(QObject):
    """A 20 ms precise QTimer that records how late each tick fires: the longest time the (qasync = Qt) event
    loop was blocked, as a person would feel it (a frozen window), and how much of each tick's lateness the loop
    thread spent working (CPU time: the product's own blocking work, which a busy machine stretches in wall time
    but does not add to)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worst_ms = 0.0
        #: CPU time this thread used during the worst gap: near worst_ms = the app itself was busy; near 0 = the
        #: thread waited (blocking I/O, or the machine gave its cores to other processes)
        self.worst_cpu_ms = 0.0
        #: the most lateness of any tick that this thread spent working: min(lateness, CPU time in the gap)
        self.worst_busy_ms = 0.0
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
        return (f"the event loop was blocked {self.worst_ms:.0f} ms (this thread ran {self.worst_cpu_ms:.0f} ms of "
                f"it); the most of a tick's lateness it spent working: {self.worst_busy_ms:.0f} ms")

    def assert_never_blocked(self, max_ms: float, load: Load) -> None:
        """No tick was made more than ``max_ms`` late by the loop thread's own work (CPU time: what the product
        controls, the same on a busy machine), and no tick came later than ``max_ms`` scaled by the load measured
        in this run (``load``: on an idle machine exactly ``max_ms``; this one also catches a wait without CPU,
        such as a blocking read on the loop thread)."""
        assert self.worst_busy_ms <= max_ms, self.verdict()
        allowed_ms = load.bound(max_ms / 1000, wakeups=2) * 1000
        assert self.worst_ms <= allowed_ms, f"{self.verdict()}; allowed {allowed_ms:.0f} ms ({load})"

    def stop(self) -> None:
        self._timer.stop()
        self._last = None

    def _on_tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        if self._last is not None:
            late = (now - self._last) * 1000 - PROBE_PERIOD_MS
            self.worst_busy_ms = max(self.worst_busy_ms, min(late, (cpu - self._last_cpu) * 1000))
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
