"""Item 1: server faults through the GUI.

The main window talks to the fake SwarmUI server, which turns faulty mid-session: replies slower than the
client's timeout, HTTP 500, an HTML page with status 200, truncated JSON, the connection dropped mid-reply,
every third call failing, and the server process SIGKILLed and started again on the same port. For each fault a
person would notice: the window never freezes (a 20 ms timer is never made more than 100 ms late by the loop
thread's own work, and never fires later than 100 ms scaled by the machine's load measured in the run), the status bar
says the server cannot be reached (or, while most calls still work, that some calls fail), the edit dialog they had open keeps what they typed (a Save during the fault
shows the error inside the dialog; the same Save after the fault stores exactly that input), and the table shows
the server's new state within two polls after the fault ends.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.gui.backends_model import Column
from backend_manager_gui.gui.main_window import MainWindow
from tests.gui.conftest import run
from tests.gui.window_helpers import row_text, status_text, temp_settings, until
from tests.reliability.gui_support import LatenessProbe, open_edit_dialog
from tests.support import load as machine
from tests.support.fake_swarm import FakeSwarm

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 1.0  # the client's timeout; the slow fault answers after 2.5 s
POLL, MAX_POLL = 0.3, 1.0
MAX_LATE_MS = 100.0


class PollCounter:
    """Counts poll outcomes (success or failure) as the window's poller reports them."""

    def __init__(self, window: MainWindow) -> None:
        self.n = 0
        window.poller.snapshot_received.connect(self._bump)
        window.poller.poll_failed.connect(self._bump)

    def _bump(self, *_args: object) -> None:
        self.n += 1


def _fault_round(
    loop: asyncio.AbstractEventLoop,
    window: MainWindow,
    *,
    label: str,
    inject: Callable[[], None],
    clear: Callable[[], None],
    fresh_state: Callable[[], bool],
    save_during_fault: bool,
    read_title: Callable[[], str],
    figures,
) -> None:
    counter = PollCounter(window)
    until(loop, lambda: status_text(window).startswith("Connected to"), what="connected before the fault")
    # the person opens the edit dialog of backend 0 and types
    window.select_backends([0])
    window.act_edit.trigger()
    until(loop, lambda: open_edit_dialog(window) is not None, what="the edit dialog")
    dialog = open_edit_dialog(window)
    assert dialog is not None
    typed_title = f"typed during {label}"
    typed_address = f"http://10.1.2.3:{7000 + len(label)}"
    dialog.title_edit.setText(typed_title)
    dialog.form.widget_for("Address").setText(typed_address)

    inject()
    if label == "every_third":
        # most calls still get through: connected, with some calls failing (issue 12 item 3), never "Cannot reach"
        until(loop, lambda: "some calls failing" in status_text(window), timeout=15,
              what="the status bar to say some calls fail (every_third)")
    else:
        until(loop, lambda: status_text(window).startswith("Cannot reach"), timeout=15,
              what=f"the status bar to say the server cannot be reached ({label})")
    assert window.service.location in status_text(window)
    if save_during_fault:
        dialog.save_button.click()
        until(loop, lambda: dialog.error_text() != "", timeout=15, what=f"the save error in the dialog ({label})")
        # what happened, naming the server once (not "Cannot reach X: X is not working …")
        assert dialog.error_text().count(window.service.location) == 1, dialog.error_text()
    assert dialog.isVisible(), f"the edit dialog closed during {label}"
    assert dialog.title_edit.text() == typed_title
    assert dialog.form.widget_for("Address").text() == typed_address

    clear()
    before = counter.n
    until(loop, lambda: fresh_state() and status_text(window).startswith("Connected to"), timeout=15,
          what=f"the table to recover after {label}")
    polls_to_recover = counter.n - before
    figures.top("most_polls_to_recover", polls_to_recover)
    assert polls_to_recover <= 2, f"{label}: the table recovered only after {polls_to_recover} polls"

    # the same dialog, still holding the input, now saves exactly that
    assert dialog.isVisible()
    dialog.save_button.click()
    until(loop, lambda: open_edit_dialog(window) is None, timeout=15, what=f"the save after {label}")
    assert read_title() == typed_title
    until(loop, lambda: row_text(window, 0, Column.TITLE) == typed_title, what="the saved title in the table")
    figures.add("faults")


def test_switchable_faults_through_the_window(loop, qtbot, tmp_path, long_run, figures) -> None:
    fake = FakeSwarm()
    for status in ("running", "running", "idle"):
        fake.add("comfyui_api", status=status)
    run(loop, fake.start())
    service = RemoteService(fake.url, timeout=TIMEOUT)
    window = MainWindow(service, settings=temp_settings(tmp_path), poll_interval=POLL, max_poll_interval=MAX_POLL)
    qtbot.addWidget(window)
    probe = LatenessProbe()
    load = machine.measure()
    rounds = 3 if long_run else 1
    figures["faults_per_round"] = ["slow", "http500", "html200", "truncated_json", "drop", "every_third"]
    try:
        window.show()
        until(loop, lambda: window.backends_model.rowCount() == 3 and window.backend_types, what="rows and types")
        probe.start()
        flip = iter(["errored", "running"] * 100)
        for _ in range(rounds):
            for fault in figures["faults_per_round"]:
                target = next(flip)

                def inject(fault: str = fault, target: str = target) -> None:
                    if fault == "slow":
                        fake.latency = 2.5
                    else:
                        fake.fault = fault
                    fake.set_status(1, target)  # the server changes while the client cannot see it

                _fault_round(
                    loop, window, label=fault, inject=inject, clear=fake.clear_faults,
                    fresh_state=lambda target=target: row_text(window, 1, Column.STATUS) == target.capitalize(),
                    # every third call failing: a Save may well get through; its input is checked after
                    save_during_fault=fault != "every_third",
                    read_title=lambda: fake.backends[0]["title"], figures=figures,
                )
    finally:
        probe.stop()
        load = load.worst(machine.measure())
        run(loop, window.shutdown())
        run(loop, fake.stop())
    figures["worst_event_loop_lateness_ms"] = round(probe.worst_ms, 1)
    figures["worst_lateness_from_own_work_ms"] = round(probe.worst_busy_ms, 1)
    figures["load_stretch"] = round(load.stretch, 2)
    figures["probe_ticks"] = probe.ticks
    probe.assert_never_blocked(MAX_LATE_MS, load)


async def _start_fake(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.fake_swarm", *args,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode()
    assert line.startswith("FAKE_SWARM_URL "), line
    return proc, line.split(" ", 1)[1].strip()


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
    await proc.wait()


def test_server_process_killed_and_restarted_on_the_same_port(loop, qtbot, tmp_path, long_run, figures) -> None:
    procs: list[asyncio.subprocess.Process] = []
    proc, url = run(loop, _start_fake("--port", "0", "--backends", "2"))
    procs.append(proc)
    port = url.rsplit(":", 1)[1]
    service = RemoteService(url, timeout=TIMEOUT)
    window = MainWindow(service, settings=temp_settings(tmp_path), poll_interval=POLL, max_poll_interval=MAX_POLL)
    qtbot.addWidget(window)
    probe = LatenessProbe()
    load = machine.measure()
    rounds = 3 if long_run else 1
    backends = 2
    try:
        window.show()
        until(loop, lambda: window.backends_model.rowCount() == 2 and window.backend_types, what="rows and types")
        probe.start()
        for _ in range(rounds):
            backends += 1

            def inject() -> None:
                run(loop, _kill(procs[-1]))

            def clear(n: int = backends) -> None:
                # the restarted server has one backend more: the table must show it
                new, again = run(loop, _start_fake("--port", port, "--backends", str(n)))
                procs.append(new)
                assert again == url

            def read_title() -> str:
                async def read() -> str:
                    async with RemoteService(url) as other:
                        return (await other.list_backends())[0].title
                return run(loop, read())

            _fault_round(
                loop, window, label="server killed and restarted", inject=inject, clear=clear,
                fresh_state=lambda n=backends: window.backends_model.rowCount() == n,
                save_during_fault=True, read_title=read_title, figures=figures,
            )
            figures.add("server_kills")
    finally:
        probe.stop()
        load = load.worst(machine.measure())
        run(loop, window.shutdown())
        for p in procs:
            run(loop, _kill(p))
    figures["worst_event_loop_lateness_ms"] = round(probe.worst_ms, 1)
    figures["worst_lateness_from_own_work_ms"] = round(probe.worst_busy_ms, 1)
    figures["load_stretch"] = round(load.stretch, 2)
    probe.assert_never_blocked(MAX_LATE_MS, load)
