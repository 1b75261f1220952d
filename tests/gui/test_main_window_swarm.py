"""The main window against the real fake SwarmUI server: each action end to end, as a person does it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt

from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.gui.backends_model import Column
from backend_manager_gui.gui.main_window import MainWindow
from tests.gui.conftest import run
from tests.gui.window_helpers import row_text, status_text, table_column, temp_settings, until
from tests.support.fake_swarm import FakeSwarm


@pytest.fixture
def fake(loop) -> Iterator[FakeSwarm]:
    server = FakeSwarm()
    server.add("comfyui_selfstart", status="running", title="Big GPU", settings={"GPU_ID": "0"}, current_model="sdxl.safetensors")
    server.add("comfyui_selfstart", status="loading", settings={"GPU_ID": "1"})
    server.add("comfyui_api", status="errored", title="Remote box")
    server.add("comfyui_api", status="disabled", title="Spare", enabled=False)
    server.add("comfyui_api", status="idle", title="Idle one")
    server.add("comfyui_api", status="running", title="Second")
    run(loop, server.start())
    yield server
    run(loop, server.stop())


@pytest.fixture
def window(loop, qtbot, fake, tmp_path) -> Iterator[MainWindow]:
    service = RemoteService(fake.url, timeout=2.0)
    win = MainWindow(service, settings=temp_settings(tmp_path), poll_interval=0.3, max_poll_interval=1.0)
    qtbot.addWidget(win)
    win.show()
    until(loop, lambda: win.backends_model.rowCount() == 6 and win.backend_types, what="six rows and the types")
    yield win
    run(loop, win.shutdown())


def test_window_shows_every_backend_and_a_summary(loop, window, fake):
    assert table_column(window, Column.TITLE) == ["Big GPU", "ComfyUI Self-Starting", "Remote box", "Spare", "Idle one", "Second"]
    assert table_column(window, Column.STATUS) == ["Running", "Loading", "Errored", "Disabled", "Idle", "Running"]
    assert table_column(window, Column.MODEL)[0] == "sdxl.safetensors"
    until(loop, lambda: "2 running" in status_text(window))
    assert status_text(window) == f"Connected to {fake.url} — 2 running · 1 idle · 1 loading · 1 errored · 1 disabled"
    # a server has no worker ports or GPU column of its own
    assert window.table.isColumnHidden(Column.PORT) and window.table.isColumnHidden(Column.GPU)
    assert window.windowTitle().endswith(fake.url)


def test_status_change_on_the_server_shows_up(loop, window, fake):
    fake.set_status(1, "running")
    until(loop, lambda: row_text(window, 1, Column.STATUS) == "Running")
    fake.set_status(1, "errored")
    until(loop, lambda: row_text(window, 1, Column.STATUS) == "Errored")
    # the person hears about it (a desktop notification where there is a tray)
    assert window.notifications and window.notifications[-1][0] == "ComfyUI Self-Starting (#1) errored"
