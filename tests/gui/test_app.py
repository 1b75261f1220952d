"""Start-up pieces of gui/app.py: which connection opens, unexpected errors shown, layout kept between runs."""

from __future__ import annotations

import argparse
import gc
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QMessageBox

from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.gui.app import initial_profile, initial_profiles, show_unexpected_error
from backend_manager_gui.gui.backends_model import Column
from backend_manager_gui.gui.connections import LOCAL_DEFAULT, ConnectionKind, ConnectionProfile, ProfileStore
from backend_manager_gui.gui.main_window import MainWindow
from tests.gui.conftest import run
from tests.gui.window_helpers import until
from tests.support.fake_swarm import FakeSwarm


def _args(**kw) -> argparse.Namespace:
    return argparse.Namespace(server=kw.get("server"), data_dir=kw.get("data_dir"), no_local=kw.get("no_local", False))


def test_which_connection_opens_on_start(tmp_path: Path, qapp):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    assert initial_profile(_args(), settings) == LOCAL_DEFAULT  # first start: this computer
    last = ConnectionProfile(ConnectionKind.SERVER, "http://gpu-box:7801")
    ProfileStore(settings).remember(last)
    assert initial_profile(_args(), settings) == last  # then the last one used
    # --server: that server beside this computer (the servers alone with --no-local)
    other = ConnectionProfile(ConnectionKind.SERVER, "http://other:7801")
    assert initial_profiles(_args(server="other:7801"), settings) == [LOCAL_DEFAULT, other]
    assert initial_profiles(_args(server=["other:7801"], no_local=True), settings) == [other]
    assert initial_profile(_args(data_dir=tmp_path / "d"), settings) == ConnectionProfile(ConnectionKind.LOCAL, str(tmp_path / "d"))


def test_unexpected_error_is_shown_not_lost(loop, qtbot):
    window = MainWindow(RemoteService("http://127.0.0.1:9"), settings=QSettings())
    qtbot.addWidget(window)
    window.show()
    try:
        show_unexpected_error("ValueError: bad thing", "Traceback ...")
        boxes = [w for w in QApplication.topLevelWidgets() + window.findChildren(QMessageBox)
                 if isinstance(w, QMessageBox) and w.isVisible()]
        assert boxes and "ValueError: bad thing" in boxes[0].text()
        assert boxes[0].windowModality().name != "ApplicationModal"  # open(), never a nested exec()
        boxes[0].done(0)
    finally:
        run(loop, window.shutdown())


def test_column_widths_and_geometry_survive_a_restart(loop, qtbot, tmp_path: Path):
    gc.collect()
    fake = FakeSwarm(backends=2)
    run(loop, fake.start())
    path = str(tmp_path / "layout.ini")
    try:
        first = MainWindow(RemoteService(fake.url), settings=QSettings(path, QSettings.Format.IniFormat))
        qtbot.addWidget(first)
        first.show()
        first.resize(701, 503)  # inside the offscreen screen (800x600)
        first.table.horizontalHeader().resizeSection(Column.TITLE, 333)
        first.close()
        run(loop, first.shutdown())
        second = MainWindow(RemoteService(fake.url), settings=QSettings(path, QSettings.Format.IniFormat))
        qtbot.addWidget(second)
        second.show()
        until(loop, lambda: second.backends_model.rowCount() == 2)
        assert second.table.horizontalHeader().sectionSize(Column.TITLE) == 333
        assert (second.width(), second.height()) == (701, 503)
        run(loop, second.shutdown())
    finally:
        run(loop, fake.stop())


def test_opening_the_window_never_waits_on_the_service(loop, qtbot, tmp_path: Path):
    """Building and showing the window sends nothing: every request runs later, on the loop."""
    gc.collect()
    fake = FakeSwarm(backends=3, latency=0.3)
    run(loop, fake.start())
    try:
        window = MainWindow(RemoteService(fake.url), settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
        qtbot.addWidget(window)
        window.show()
        window.act_refresh.trigger()
        window.act_restart_all.trigger()
        assert fake.requests == 0 and window.isVisible()
        until(loop, lambda: window.backends_model.rowCount() == 3)
        run(loop, window.shutdown())
    finally:
        run(loop, fake.stop())
