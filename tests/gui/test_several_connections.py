"""Many machines in one window: this computer's embedded manager with real fake-ComfyUI workers and two real fake
SwarmUI servers, all open at once. Rows of every connection in one table, ids equal across hosts kept apart, an
action on a selection spanning hosts reaching each host, a host killed and brought back (its rows grey, then
recover, the others never wait for it), and the open connections back at the next start."""

from __future__ import annotations

import argparse
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox

from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.core.rowkeys import row_key
from backend_manager_gui.gui.app import initial_profiles
from backend_manager_gui.gui.backends_model import Column
from backend_manager_gui.gui.connections import LOCAL_DEFAULT, ConnectionKind, ConnectionProfile, ProfileStore
from backend_manager_gui.gui.main_window import MainWindow
from tests.gui.conftest import run
from tests.gui.test_main_window_local import FAKE_COMFY, FAST, worker_settings
from tests.gui.window_helpers import status_text, temp_settings, until
from tests.support.fake_swarm import FakeSwarm


def _server(*titles: str) -> FakeSwarm:
    fake = FakeSwarm()
    for title in titles:
        fake.add("comfyui_api", status="running", title=title)
    return fake


def _profile(fake: FakeSwarm) -> ConnectionProfile:
    return ConnectionProfile(ConnectionKind.SERVER, fake.url)


@contextmanager
def three_connections(loop, qtbot, tmp_path: Path, settings: QSettings | None = None
                      ) -> Iterator[tuple[MainWindow, FakeSwarm, FakeSwarm]]:
    """This computer (one worker, id 0), server A (ids 0 and 1) and server B (id 0) in one window."""
    gc.collect()
    a, b = _server("A zero", "A one"), _server("B zero")
    run(loop, a.start())
    run(loop, b.start())
    folder = tmp_path / "ComfyUI"
    folder.mkdir()
    main = folder / "main.py"
    main.write_bytes(FAKE_COMFY.read_bytes())
    local = LocalService(tmp_path / "data", **FAST)
    run(loop, local.start())
    win: MainWindow | None = None
    try:
        new = run(loop, local.add_backend("comfyui_selfstart"))
        run(loop, local.edit_backend(new.id, "Here zero", worker_settings(main, "0")))
        win = MainWindow(local, settings=settings or temp_settings(tmp_path), profile=LOCAL_DEFAULT,
                         poll_interval=0.3, max_poll_interval=1.0)
        qtbot.addWidget(win)
        win.show()
        for fake in (a, b):
            run(loop, win.add_connection(RemoteService(fake.url, timeout=2.0), _profile(fake)))
        until(loop, lambda: win.backends_model.rowCount() == 4, timeout=20, what="rows of all three connections")
        yield win, a, b
    finally:
        if win is not None:
            run(loop, win.shutdown())
        else:
            run(loop, local.aclose())
        run(loop, a.stop())
        run(loop, b.stop())


def _cell(win: MainWindow, key: int, col: Column) -> str:
    row = win.backends_model.row_of(key)
    assert row is not None, key
    return str(win.backends_model.index(row, col).data())


def test_rows_of_every_connection_in_one_table_with_ids_kept_apart(loop, qtbot, tmp_path):
    with three_connections(loop, qtbot, tmp_path) as (win, a, b):
        host_a, host_b = f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"
        # three backends numbered 0, one per connection: three rows, each with its own host and title
        zero = {_cell(win, row_key(h, 0), Column.HOST): _cell(win, row_key(h, 0), Column.TITLE) for h in range(3)}
        assert zero == {"this computer": "Here zero", host_a: "A zero", host_b: "B zero"}
        assert all(_cell(win, row_key(h, 0), Column.ID) == "0" for h in range(3))
        assert not win.table.isColumnHidden(Column.HOST)
        assert win.table.horizontalHeader().visualIndex(Column.HOST) == 0  # the host is read first
        # this computer's worker has its port; the servers' rows their model column
        assert not win.table.isColumnHidden(Column.PORT) and not win.table.isColumnHidden(Column.MODEL)
        until(loop, lambda: _cell(win, row_key(0, 0), Column.STATUS) == "Running", timeout=30, what="worker up")
        assert _cell(win, row_key(0, 0), Column.PORT).isdigit()
        assert win.windowTitle().startswith("3 connections")
        until(loop, lambda: status_text(win).startswith("3 connections — 4 running"), what="the summary")

        # the Connections list: each connection with its state; choosing one shows only its rows
        dock = win.connections_dock
        assert dock.isVisibleTo(win)
        texts = [dock.list.item(i).text() for i in range(dock.list.count())]
        assert texts[0].startswith("All connections") and len(texts) == 4
        until(loop, lambda: dock.list.item(2).text() == f"{host_a}\nconnected — 2 running", what="A's state")
        dock.choose(1)
        assert win.proxy.rowCount() == 2 and win.count_label.text() == "Showing 2 of 4 backends"
        dock.choose(None)
        assert win.proxy.rowCount() == 4
        # the filter box finds a connection by name
        win.filter_edit.setText(f"{b.port}")
        assert win.proxy.rowCount() == 1
        win.filter_edit.clear()


def test_an_action_on_rows_of_two_hosts_reaches_each_host(loop, qtbot, tmp_path):
    with three_connections(loop, qtbot, tmp_path) as (win, a, b):
        a.reset_counters()
        b.reset_counters()
        win.select_backends([row_key(1, 1), row_key(2, 0)])  # "A one" on A and "B zero" on B
        assert [x.title for x in win.selected_backends()] == ["A one", "B zero"]
        win.act_toggle.trigger()  # Disable
        until(loop, lambda: _cell(win, row_key(1, 1), Column.STATUS) == "Disabled"
              and _cell(win, row_key(2, 0), Column.STATUS) == "Disabled", what="both disabled")
        # each server got its own call with its own id; nothing else changed anywhere
        assert a.calls["togglebackend"] == 1 and b.calls["togglebackend"] == 1
        assert not a.backends[1]["enabled"] and not b.backends[0]["enabled"]
        assert a.backends[0]["enabled"]
        assert _cell(win, row_key(1, 0), Column.STATUS) == "Running"
        assert win.backends_model.backend(row_key(0, 0)).enabled

        # a refusal on one host is told as that host's, the other host's part goes through
        b.locked = True
        win.select_backends([row_key(1, 1), row_key(2, 0)])
        win.act_toggle.trigger()  # Enable
        until(loop, lambda: "Settings are locked" in win.message_bar.text(), what="B's refusal")
        assert "B zero" in win.message_bar.text() and "A one" not in win.message_bar.text()
        until(loop, lambda: a.backends[1]["enabled"], what="A enabled")
        assert not b.backends[0]["enabled"]


def _answer_choice(loop, win: MainWindow, keep: set[int]) -> None:
    def dialog() -> QDialog | None:
        return next((d for d in win.findChildren(QDialog, "choose_connections") if d.isVisible()), None)

    until(loop, lambda: dialog() is not None, what="which connections?")
    d = dialog()
    assert d is not None
    boxes = d.findChildren(QCheckBox)
    assert [box.isChecked() for box in boxes] == [True] * 3  # every connection ticked to start with
    for box in boxes:
        box.setChecked(int(box.objectName().split("_")[1]) in keep)
    d.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()


def test_restart_all_asks_which_connections(loop, qtbot, tmp_path):
    with three_connections(loop, qtbot, tmp_path) as (win, a, b):
        until(loop, lambda: _cell(win, row_key(0, 0), Column.STATUS) == "Running", timeout=30, what="worker up")
        restarts = win.ctx.host.details(row_key(0, 0)).restart_count
        a.reset_counters()
        b.reset_counters()
        win.act_restart_all.trigger()
        _answer_choice(loop, win, keep={1})
        until(loop, lambda: a.calls["restartbackends"] == 1, what="A restarted")
        until(loop, lambda: "Restarted" in win.statusBar().currentMessage(), what="the summary")
        assert b.calls["restartbackends"] == 0
        assert win.ctx.host.details(row_key(0, 0)).restart_count == restarts  # this computer's worker not restarted


def test_a_dead_host_greys_its_rows_and_never_holds_up_the_others(loop, qtbot, tmp_path):
    with three_connections(loop, qtbot, tmp_path) as (win, a, b):
        port = b.port
        run(loop, b.stop())
        b_zero = row_key(2, 0)
        until(loop, lambda: win.backends_model.stale_reason(b_zero) is not None, timeout=15, what="B greyed")
        # B's rows stay, greyed, saying since when they are old
        row = win.backends_model.row_of(b_zero)
        assert row is not None and _cell(win, b_zero, Column.TITLE) == "B zero"
        index = win.backends_model.index(row, Column.TITLE)
        assert "is not answering: last seen" in index.data(Qt.ItemDataRole.ToolTipRole)
        assert index.data(Qt.ItemDataRole.ForegroundRole) is not None
        assert "cannot reach" in status_text(win) and f"127.0.0.1:{port}" in status_text(win)
        until(loop, lambda: "cannot reach — retrying" in win.connections_dock.list.item(3).text(), what="B's state")
        # meanwhile A goes on: its polls keep coming and a change there shows at once
        polls = win.hosts.get(1).poller.polls
        a.set_status(0, "errored")
        until(loop, lambda: _cell(win, row_key(1, 0), Column.STATUS) == "Errored", what="A's change while B is dead")
        until(loop, lambda: win.hosts.get(1).poller.polls >= polls + 3, what="A polled on")
        assert win.backends_model.stale_reason(row_key(1, 0)) is None  # A's rows are not greyed

        # B comes back on its port: its rows are live again
        revived = FakeSwarm(port=port)
        revived.add("comfyui_api", status="idle", title="B zero")
        run(loop, revived.start())
        try:
            until(loop, lambda: win.backends_model.stale_reason(b_zero) is None
                  and _cell(win, b_zero, Column.STATUS) == "Idle", timeout=20, what="B recovered")
            assert win.backends_model.index(row, Column.TITLE).data(Qt.ItemDataRole.ForegroundRole) is None
        finally:
            run(loop, revived.stop())


def test_closing_a_server_leaves_the_others_and_the_workers_here_running(loop, qtbot, tmp_path):
    with three_connections(loop, qtbot, tmp_path) as (win, a, b):
        until(loop, lambda: _cell(win, row_key(0, 0), Column.STATUS) == "Running", timeout=30, what="worker up")
        pid = win.ctx.host.details(row_key(0, 0)).pid
        assert run(loop, win.close_connection(1))
        until(loop, lambda: win.backends_model.rowCount() == 2, what="A's rows gone")
        assert win.backends_model.row_of(row_key(1, 0)) is None
        assert win.ctx.host.details(row_key(0, 0)).pid == pid  # this computer's worker untouched
        assert [p.target for p in ProfileStore(win.settings).open_set()] == ["", b.url]


def test_open_connections_come_back_at_the_next_start(loop, qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    with three_connections(loop, qtbot, tmp_path, settings) as (_win, a, b):
        urls = (a.url, b.url)
    start = argparse.Namespace(server=None, data_dir=None, no_local=False)
    assert initial_profiles(start, settings) == [LOCAL_DEFAULT, *(ConnectionProfile(ConnectionKind.SERVER, u) for u in urls)]
    # --server given: those servers beside this computer; --no-local: the servers alone
    given = argparse.Namespace(server=["gpu-a:7801", "gpu-b:7801"], data_dir=None, no_local=False)
    servers = [ConnectionProfile(ConnectionKind.SERVER, u) for u in ("http://gpu-a:7801", "http://gpu-b:7801")]
    assert initial_profiles(given, settings) == [LOCAL_DEFAULT, *servers]
    given.no_local = True
    assert initial_profiles(given, settings) == servers


def test_use_in_swarmui_adds_the_worker_to_the_server_and_shows_the_pair(loop, qtbot, tmp_path):
    with three_connections(loop, qtbot, tmp_path) as (win, a, b):
        run(loop, win.close_connection(2))  # one SwarmUI server open beside this computer: nothing to choose
        worker = row_key(0, 0)
        until(loop, lambda: _cell(win, worker, Column.STATUS) == "Running", timeout=30, what="worker up")
        url = win.backends_model.backend(worker).worker_url()
        win.select_backends([worker])
        assert win.backend_actions.act_use_in_swarm.isEnabled()
        win.backend_actions.act_use_in_swarm.trigger()
        until(loop, lambda: len(a.backends) == 3, what="the server's new backend")
        new_id = max(a.backends)
        added = a.backends[new_id]
        # SwarmUI runs on this computer (127.0.0.1): the worker's own loopback address reaches it
        assert added["type"] == "comfyui_api" and added["settings"]["Address"] == url
        assert added["title"] == "Here zero (this computer)"
        # the pair shows as linked on both rows
        until(loop, lambda: win.backends_model.row_of(row_key(1, new_id)) is not None, what="the new row")
        until(loop, lambda: _cell(win, worker, Column.HOST) == f"this computer ⇄ 127.0.0.1:{a.port} #{new_id}",
              what="the worker's link")
        assert _cell(win, row_key(1, new_id), Column.HOST) == f"127.0.0.1:{a.port} ⇄ this computer #0"
        # a server's own row (not a worker of this app) offers nothing to add
        win.select_backends([row_key(1, 0)])
        assert not win.backend_actions.act_use_in_swarm.isEnabled()


def test_file_add_connection_opens_a_server_beside_this_computer(loop, qtbot, tmp_path):
    from backend_manager_gui.gui.connections import ConnectDialog

    gc.collect()
    fake = _server("Far one")
    run(loop, fake.start())
    local = LocalService(tmp_path / "data", **FAST)
    run(loop, local.start())
    win = MainWindow(local, settings=temp_settings(tmp_path), profile=LOCAL_DEFAULT, poll_interval=0.3,
                     max_poll_interval=1.0)
    qtbot.addWidget(win)
    try:
        win.show()
        until(loop, lambda: status_text(win).startswith("Connected to this computer"), what="connected here")
        assert win.table.isColumnHidden(Column.HOST) and not win.connections_dock.isVisible()  # one: as before
        win.profiles.remember(ConnectionProfile(ConnectionKind.SERVER, "http://gpu-box:7801"))  # used before
        win.backend_actions.act_add_connection.trigger()
        until(loop, lambda: any(d.isVisible() for d in win.findChildren(ConnectDialog)), what="the dialog")
        dialog = next(d for d in win.findChildren(ConnectDialog) if d.isVisible())
        assert dialog.windowTitle() == "Add connection"
        assert dialog.server_radio.isChecked() and not dialog.local_radio.isEnabled()  # this computer is open
        # a server used before is offered as its address is typed
        completer = dialog.url_edit.completer()
        assert completer is not None
        completer.setCompletionPrefix("box")
        assert completer.currentCompletion() == "http://gpu-box:7801"
        dialog.url_edit.setText(fake.url)
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        until(loop, lambda: win.backends_model.rowCount() == 1 and status_text(win).startswith("2 connections"),
              what="the server's row beside this computer's (none)")
        assert _cell(win, row_key(1, 0), Column.TITLE) == "Far one"
        assert not win.table.isColumnHidden(Column.HOST) and win.connections_dock.isVisible()
        assert [p.kind for p in ProfileStore(win.settings).open_set()] == [ConnectionKind.LOCAL, ConnectionKind.SERVER]
    finally:
        run(loop, win.shutdown())
        run(loop, fake.stop())


def test_the_log_dock_keeps_its_backend_when_another_connection_closes(loop, qtbot, tmp_path):
    with three_connections(loop, qtbot, tmp_path) as (win, a, b):
        win.select_backends([row_key(0, 0)])
        until(loop, lambda: "Here zero (#0)" in win.log_dock.source_label.text(), what="the worker's log")
        until(loop, lambda: "fake ComfyUI" in win.log_dock.text.toPlainText() or win.log_dock.text.toPlainText(),
              timeout=15, what="its lines")
        lines = win.log_dock.text.toPlainText()
        assert run(loop, win.close_connection(2))
        assert "Here zero (#0)" in win.log_dock.source_label.text()
        assert win.log_dock.text.toPlainText().startswith(lines[:40])  # not started over
        # a row of a server: its log is read from that server, named with the server's own id
        win.select_backends([row_key(1, 1)])
        until(loop, lambda: "A one (#1)" in win.log_dock.source_label.text(), what="A's backend log")
        assert a.url in win.log_dock.source_label.text()


def test_quitting_asks_once_about_this_computers_workers_only(loop, qtbot, tmp_path, qapp):
    from tests.gui.window_helpers import answer_box, find_box

    qapp.setQuitOnLastWindowClosed(False)
    try:
        with three_connections(loop, qtbot, tmp_path) as (win, a, b):
            until(loop, lambda: _cell(win, row_key(0, 0), Column.STATUS) == "Running", timeout=30, what="worker up")
            closed: list[bool] = []
            win.closed.connect(lambda: closed.append(True))
            win.close()
            until(loop, lambda: find_box(win, "confirm_quit") is not None, what="the question")
            box = find_box(win, "confirm_quit")
            assert box is not None
            # four rows run, three of them on the servers: only this computer's worker stops with the app
            assert "Here zero" in box.informativeText() and "A zero" not in box.informativeText()
            text = answer_box(loop, win, "confirm_quit", "Stop and quit")
            assert text == "Stop 1 running backend and quit?"
            until(loop, lambda: closed == [True], what="closed after one question")
            assert a.calls["togglebackend"] == 0 and a.backends[0]["status"] == "running"  # the servers' go on
    finally:
        qapp.setQuitOnLastWindowClosed(True)
