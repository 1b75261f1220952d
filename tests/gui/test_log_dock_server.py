"""The Log dock and Details reasons against the real fake SwarmUI, in a real window (issue 13 items 2 and 3).

The dock follows the selected backend's log through ``backend_log`` (ListRecentLogMessages), one call per tick
of its own timer at most, and none while it is hidden or nothing is selected; an errored backend that the server
gave no reason for shows its log's last error line in Details, read once, not per poll.
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt

from backend_manager_gui.core.logs import NO_BACKEND_LOG, NO_LOG_ROUTES, NO_PERMISSION
from backend_manager_gui.gui.backends_model import NO_REASON, Column
from backend_manager_gui.gui.log_view import RESTART_SEPARATOR, LogDock
from backend_manager_gui.gui.main_window import MainWindow
from tests.gui.test_main_window_swarm import swarm_window
from tests.gui.window_helpers import row_text, until
from tests.support.fake_swarm import FakeSwarm

LOGS = "listrecentlogmessages"


def two_backends() -> FakeSwarm:
    fake = FakeSwarm()
    fake.add("comfyui_selfstart", status="running", title="Self-started")  # 0: a tracker while its process lives
    fake.add("comfyui_api", status="running", title="Remote API")  # 1: never a tracker of its own
    return fake


def shown(window: MainWindow) -> list[str]:
    return window.log_dock.text.toPlainText().splitlines()


def numbered(window: MainWindow) -> list[str]:
    """The test's own numbered lines as the dock shows them, top to bottom, without the time."""
    return [line.split(" ", 1)[1] for line in shown(window) if " line " in line]


def test_the_dock_follows_a_server_backend_in_order_across_a_worker_restart(loop, qtbot, tmp_path) -> None:
    with swarm_window(loop, qtbot, tmp_path, two_backends()) as (window, fake):
        dock = window.log_dock
        assert dock.isVisible()
        fake.worker_output(0, "worker line 1")
        fake.worker_output(0, "worker line 2", "STDERR")
        window.select_backends([0])
        until(loop, lambda: len(numbered(window)) == 2, what="the first two lines")
        assert "Self-started (#0)" in dock.source_label.text() and fake.url in dock.source_label.text()
        assert dock.reason == ""
        fake.worker_output(0, "worker line 3")
        until(loop, lambda: len(numbered(window)) == 3, what="the third line")

        # the worker dies: SwarmUI drops its tracker; its last words still come, from the server's own log
        fake.set_status(0, "errored")
        until(loop, lambda: dock.reason == NO_BACKEND_LOG, what="the reason")
        until(loop, lambda: any("[Info] Self-Start ComfyUI-0 unexpectedly exited" in s for s in shown(window)),
              what="the server's line about the exit")
        # it restarts: a new tracker, and the dock reads on from where it was
        fake.set_status(0, "running")
        fake.worker_output(0, "worker line 4 after the restart")
        until(loop, lambda: len(numbered(window)) == 4, what="the line after the restart")
        until(loop, lambda: dock.reason == "", what="the reason to go once the log is back")
        assert numbered(window) == ["worker line 1", "worker line 2", "worker line 3",
                                    "worker line 4 after the restart"]  # in order, none twice, none lost
        # the look: time of day first, no "[STDOUT]" noise, the left edge in view
        first = next(s for s in shown(window) if s.endswith("worker line 1"))
        assert first[2] == ":" and first[5] == ":" and "STDOUT" not in first
        assert dock.text.horizontalScrollBar().value() == 0


def test_the_dock_starts_over_when_the_server_restarts(loop, qtbot, tmp_path) -> None:
    with swarm_window(loop, qtbot, tmp_path, two_backends()) as (window, fake):
        for n in range(1, 4):
            fake.worker_output(0, f"old line {n}")
        window.select_backends([0])
        until(loop, lambda: len(numbered(window)) == 3, what="the old lines")
        # a restarted server numbers its lines from 1 again: the same tracker, a fresh log
        fake.last_sequence_id = 0
        fake.log_trackers["ComfyUI-0"].messages.clear()
        fake.log_trackers["ComfyUI-0"].last_seq = 0
        fake.worker_output(0, "new line 1")
        until(loop, lambda: "new line 1" in numbered(window), what="the new server's line")
        assert numbered(window) == ["old line 1", "old line 2", "old line 3", "new line 1"]
        assert shown(window).count(RESTART_SEPARATOR) == 1
        fake.worker_output(0, "new line 2")
        until(loop, lambda: "new line 2" in numbered(window), what="the next line")
        assert numbered(window)[-2:] == ["new line 1", "new line 2"]


def test_costs_one_call_per_tick_at_most_and_none_when_hidden_or_nothing_selected(loop, qtbot, tmp_path) -> None:
    with swarm_window(loop, qtbot, tmp_path, two_backends()) as (window, fake):
        dock = window.log_dock
        # nothing selected: the dock shows the app's own log and asks the server nothing
        ticks, calls = dock.ticks, fake.calls[LOGS]
        until(loop, lambda: dock.ticks >= ticks + 4, what="four ticks")
        assert fake.calls[LOGS] == calls

        # following a server backend: at most one call per tick (and it does follow)
        window.select_backends([0])
        until(loop, lambda: fake.calls[LOGS] > calls, what="the first read")
        ticks, calls = dock.ticks, fake.calls[LOGS]
        for n in range(6):
            fake.worker_output(0, f"line {n}")
        until(loop, lambda: dock.ticks >= ticks + 6, what="six ticks")
        made = fake.calls[LOGS] - calls
        assert 1 <= made <= dock.ticks - ticks + 1
        assert len(numbered(window)) == 6
        print(f"\nfollowing: {made} ListRecentLogMessages in {dock.ticks - ticks} ticks")

        # the dock closed: no calls at all
        dock.hide()
        loop.run_until_complete(_quiet(dock))
        ticks, calls = dock.ticks, fake.calls[LOGS]
        until(loop, lambda: dock.ticks >= ticks + 4, what="four ticks while hidden")
        assert fake.calls[LOGS] == calls

        # shown again with the selection cleared: none either
        dock.show()
        window.table.clearSelection()
        loop.run_until_complete(_quiet(dock))
        ticks, calls = dock.ticks, fake.calls[LOGS]
        until(loop, lambda: dock.ticks >= ticks + 4, what="four ticks with nothing selected")
        assert fake.calls[LOGS] == calls
        assert not dock.is_live and "select a backend" in dock.source_label.text()


async def _quiet(dock: LogDock) -> None:
    """Wait for a read already in flight (started before the change) to land."""
    while dock.reading:
        await asyncio.sleep(0.02)


def test_without_permission_the_dock_says_so_and_keeps_its_lines(loop, qtbot, tmp_path) -> None:
    with swarm_window(loop, qtbot, tmp_path, two_backends()) as (window, fake):
        dock = window.log_dock
        fake.worker_output(0, "a line before")
        window.select_backends([0])
        until(loop, lambda: numbered(window) == ["a line before"], what="the line")
        fake.permissions.discard("view_logs")
        until(loop, lambda: dock.reason == NO_PERMISSION, what="the permission reason")
        assert dock.reason_label.isVisible() and "may not read the server's logs" in dock.reason_label.text()
        assert numbered(window) == ["a line before"]  # kept
        fake.permissions.add("view_logs")
        fake.worker_output(0, "a line after")
        until(loop, lambda: numbered(window) == ["a line before", "a line after"], what="the next line")
        assert dock.reason == ""


def test_a_backend_without_a_tracker_says_why(loop, qtbot, tmp_path) -> None:
    with swarm_window(loop, qtbot, tmp_path, two_backends()) as (window, fake):
        dock = window.log_dock
        window.select_backends([1])
        until(loop, lambda: dock.reason == NO_BACKEND_LOG, what="the no-log reason")
        assert dock.is_live and "Remote API (#1)" in dock.source_label.text()
        assert not dock.open_button.isVisible()  # no log file on this computer
        # another backend's lines never show here
        fake.worker_output(0, "not backend 1's line")
        calls = fake.calls[LOGS]
        until(loop, lambda: fake.calls[LOGS] >= calls + 2, what="two more reads")
        assert numbered(window) == []


def test_details_of_an_errored_server_backend_is_its_last_error_line_read_once(loop, qtbot, tmp_path) -> None:
    with swarm_window(loop, qtbot, tmp_path, two_backends()) as (window, fake):
        window.log_dock.hide()  # only the Details reads count here
        fake.worker_output(0, "Starting server")
        fake.worker_output(0, "Traceback (most recent call last):", "STDERR")
        fake.worker_output(0, '  File "main.py", line 3, in <module>', "STDERR")
        fake.worker_output(0, "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", "STDERR")
        fake.worker_output(0, "Exiting", "STDERR")
        calls = fake.calls[LOGS]
        fake.set_status(0, "errored")
        until(loop, lambda: row_text(window, 0, Column.DETAILS) != NO_REASON and row_text(window, 0, Column.STATUS)
              == "Errored", what="a reason for backend 0")
        assert row_text(window, 0, Column.DETAILS) == "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
        model = window.backends_model
        row = model.row_of(0)
        assert row is not None
        tip = model.index(row, Column.DETAILS).data(Qt.ItemDataRole.ToolTipRole)
        assert "last error line of its log" in tip
        # read once: not again with each poll
        polls = window.poller.polls
        until(loop, lambda: window.poller.polls >= polls + 5, what="five more polls")
        assert fake.calls[LOGS] == calls + 1
        assert window.log_reasons.reads == 1

        # it comes back: the reason goes; it fails again with another error: the new one, read once more
        fake.set_status(0, "running")
        until(loop, lambda: row_text(window, 0, Column.DETAILS) == "", what="the reason to go")
        fake.worker_output(0, "Error: the model file is corrupt", "STDERR")
        fake.set_status(0, "errored")
        until(loop, lambda: row_text(window, 0, Column.DETAILS) == "Error: the model file is corrupt",
              what="the new reason")
        assert fake.calls[LOGS] == calls + 2

        # a backend with nothing in the log about it keeps saying where to look
        fake.set_status(1, "errored")
        until(loop, lambda: window.log_reasons.reads == 3, what="backend 1's log to be read")
        until(loop, lambda: row_text(window, 1, Column.DETAILS) == NO_REASON)


def test_a_long_stuck_backend_shows_the_last_error_line_as_a_hint(loop, qtbot, tmp_path) -> None:
    with swarm_window(loop, qtbot, tmp_path, two_backends()) as (window, fake):
        window.log_dock.hide()
        window.log_reasons.stuck_after_s = 0.5  # (two minutes in the app)
        fake.set_status(0, "loading")
        fake.worker_output(0, "RuntimeError: Error: cannot load custom node", "STDERR")
        until(loop, lambda: row_text(window, 0, Column.DETAILS) == "last error in its log: RuntimeError: Error: "
              "cannot load custom node", what="the hint")
        fake.set_status(0, "running")
        until(loop, lambda: row_text(window, 0, Column.DETAILS) == "", what="the hint to go")


def test_an_unreachable_server_is_said_and_asked_less_often(loop, qtbot, tmp_path) -> None:
    with swarm_window(loop, qtbot, tmp_path, two_backends()) as (window, fake):
        dock = window.log_dock
        fake.worker_output(0, "a line before")
        window.select_backends([0])
        until(loop, lambda: numbered(window) == ["a line before"], what="the line")
        fake.fault = "drop"  # every request: the connection closes mid-reply
        until(loop, lambda: dock.reason.startswith("Cannot reach"), what="the dock to say so")
        ticks, calls = dock.ticks, dock.calls
        until(loop, lambda: dock.ticks >= ticks + 12, timeout=20, what="twelve ticks")
        # backing off as the Poller does (2, 4, 8 ticks): not one call per tick
        assert dock.calls - calls <= 4
        assert "trying again in" in dock.reason and numbered(window) == ["a line before"]  # the lines stay
        fake.clear_faults()
        fake.worker_output(0, "a line after")
        until(loop, lambda: numbered(window) == ["a line before", "a line after"], timeout=20, what="the next line")
        assert dock.reason == ""
        print(f"\nunreachable: {dock.calls - calls} backend_log calls in 12 ticks")


def test_a_server_without_the_log_routes_says_so(loop, qtbot, tmp_path) -> None:
    with swarm_window(loop, qtbot, tmp_path, two_backends()) as (window, fake):
        fake.missing_routes.update({"listlogtypes", "listrecentlogmessages"})
        window.select_backends([0])
        until(loop, lambda: window.log_dock.reason == NO_LOG_ROUTES, what="the reason")
        assert window.log_dock.text.toPlainText() == ""
