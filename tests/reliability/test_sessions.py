"""Item 2: sessions expiring every 2 calls while the window polls and a person works: no error ever shown.

The fake SwarmUI server lets each session serve 2 calls, then answers 401 invalid_session_id. The window polls
every 0.1 s while a loop of user actions runs through the window's own actions (enable/disable, restart,
free VRAM, refresh, and an edit saved through the edit dialog). The person must never see an error: the
message bar never shows one, the status bar never says the server cannot be reached, and every action's effect
is on the server.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.gui.backends_model import Column
from backend_manager_gui.gui.main_window import MainWindow
from tests.gui.conftest import run
from tests.gui.window_helpers import row_text, temp_settings, until
from tests.reliability.gui_support import LatenessProbe, open_edit_dialog
from tests.support.fake_swarm import FakeSwarm

pytestmark = pytest.mark.reliability


def test_sessions_expiring_every_two_calls(loop, qtbot, tmp_path, long_run, figures) -> None:
    duration = 300.0 if long_run else 20.0
    fake = FakeSwarm(expire_every=2)
    for _ in range(4):
        fake.add("comfyui_api", status="running")
    run(loop, fake.start())
    service = RemoteService(fake.url, timeout=5.0)
    window = MainWindow(service, settings=temp_settings(tmp_path), poll_interval=0.1, max_poll_interval=1.0)
    qtbot.addWidget(window)
    shown_errors: list[str] = []
    unreachable_seen: list[str] = []
    real_show_error = window.message_bar.show_error

    def spy_show_error(text: str) -> None:  # observe what the person is shown; the real bar still shows it
        shown_errors.append(text)
        real_show_error(text)

    window.message_bar.show_error = spy_show_error  # type: ignore[method-assign]
    window.status_label.setText = (lambda real: lambda text: (  # type: ignore[method-assign]
        unreachable_seen.append(text) if text.startswith("Cannot reach") else None, real(text))[1])(window.status_label.setText)
    probe = LatenessProbe()
    actions = 0
    edits = 0
    try:
        window.show()
        until(loop, lambda: window.backends_model.rowCount() == 4 and window.backend_types, what="rows and types")
        probe.start()
        deadline = time.monotonic() + duration
        i = 0
        while time.monotonic() < deadline:
            i += 1
            bid = i % 4
            step = i % 5
            if step == 0:
                # an edit through the dialog, as a person does it
                window.select_backends([bid])
                window.act_edit.trigger()
                until(loop, lambda: open_edit_dialog(window) is not None, what="the edit dialog")
                dialog = open_edit_dialog(window)
                assert dialog is not None
                title = f"edit {i}"
                dialog.title_edit.setText(title)
                dialog.save_button.click()
                until(loop, lambda: open_edit_dialog(window) is None, timeout=15, what="the dialog to save and close")
                assert fake.backends[bid]["title"] == title
                until(loop, lambda bid=bid, title=title: row_text(window, bid, Column.TITLE) == title, what="the new title in the table")
                # the edit's own refresh-and-select ends before the person picks the next row
                until(loop, lambda: not window.ctx.tasks, what="the edit to finish")
                edits += 1
            else:
                window.select_backends([bid])
                until(loop, lambda: not window.ctx.busy, what="no row busy")
                action = {1: window.act_toggle, 2: window.act_restart, 3: window.act_free, 4: window.act_refresh}[step]
                was_enabled = fake.backends[bid]["enabled"]
                action.trigger()
                if step == 1:
                    until(loop, lambda bid=bid, was=was_enabled: fake.backends[bid]["enabled"] != was,
                          what=f"the toggle of {bid} on the server (step {i}; the table says enabled="
                               f"{window.backends_model.backend(bid).enabled}, action enabled={window.act_toggle.isEnabled()}, "
                               f"selected={[b.id for b in window.selected_backends()]})")
                    if not fake.backends[bid]["enabled"]:
                        fake.set_status(bid, "disabled")
                    else:
                        fake.set_status(bid, "running")
                run(loop, asyncio.sleep(0.05))
            actions += 1
        until(loop, lambda: not window.ctx.busy, what="the last action to finish")
        run(loop, window.poller.refresh())
    finally:
        probe.stop()
        run(loop, window.shutdown())
        run(loop, fake.stop())
    figures["duration_s"] = duration
    figures["user_actions"] = actions
    figures["dialog_edits"] = edits
    figures["polls"] = window.poller.polls
    figures["sessions_expired_and_renewed"] = fake.new_sessions - 1
    figures["errors_shown"] = len(shown_errors)
    figures["status_cannot_reach"] = len(unreachable_seen)
    figures["worst_event_loop_lateness_ms"] = round(probe.worst_ms, 1)
    assert shown_errors == []
    assert unreachable_seen == []
    # sessions really expired all along: each one served at most 2 route calls
    served = sum(n for route, n in fake.calls.items() if route != "getnewsession")
    assert fake.new_sessions >= served / 2 > actions / 2
