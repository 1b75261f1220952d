"""File → Connect…: switching between this computer and SwarmUI servers; profiles and tokens kept apart."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import keyring
from PySide6.QtCore import QSettings

from backend_manager_gui.core.local import LocalService
from backend_manager_gui.gui.backends_model import Column
from backend_manager_gui.gui.connections import (
    ConnectDialog,
    ConnectionKind,
    ConnectionProfile,
    ProfileStore,
)
from backend_manager_gui.gui.main_window import MainWindow
from tests.gui.conftest import run
from tests.gui.window_helpers import status_text, table_column, until
from tests.support.fake_swarm import FakeSwarm
from tests.support.file_keyring import FileKeyring


def _dialog(window: MainWindow) -> ConnectDialog | None:
    found = [d for d in window.findChildren(ConnectDialog) if d.isVisible()]
    return found[0] if found else None


def test_switching_from_this_computer_to_a_server_with_a_token_and_back(loop, qtbot, tmp_path: Path):
    gc.collect()
    fake = FakeSwarm(token="s3cret-token")
    fake.add("comfyui_api", status="running", title="On the server")
    fake.add("comfyui_api", status="errored", title="Broken there")
    run(loop, fake.start())
    settings_file = tmp_path / "settings.ini"
    settings = QSettings(str(settings_file), QSettings.Format.IniFormat)
    data_dir = tmp_path / "data"
    local_profile = ConnectionProfile(ConnectionKind.LOCAL, str(data_dir))
    service = LocalService(data_dir)
    run(loop, service.start())
    window = MainWindow(service, settings=settings, profile=local_profile, poll_interval=0.3, max_poll_interval=1.0)
    qtbot.addWidget(window)
    ProfileStore(settings).remember(local_profile)
    try:
        window.show()
        until(loop, lambda: status_text(window) == "Connected to this computer — no backends yet")
        resets: list[bool] = []
        window.backends_model.modelReset.connect(lambda: resets.append(True))

        window.act_connect.trigger()
        until(loop, lambda: _dialog(window) is not None, what="the Connect dialog")
        dialog = _dialog(window)
        assert dialog.local_radio.isChecked() and not dialog.url_edit.isEnabled()
        dialog.server_radio.setChecked(True)
        dialog.url_edit.setText(fake.url)
        dialog.token_edit.setText("s3cret-token")
        dialog.buttons.accepted.emit()
        until(loop, lambda: window.backends_model.rowCount() == 2, what="the server's backends")
        assert table_column(window, Column.TITLE) == ["On the server", "Broken there"]
        until(loop, lambda: status_text(window).startswith(f"Connected to {fake.url}"))
        assert resets == [True]  # the one place the table is reset
        assert window.windowTitle() == f"{fake.url} — Backend Manager"
        assert window.table.isColumnHidden(Column.PORT)
        assert window.gpu_dock is None or not window.gpu_dock.isVisible()
        # the token went to the keyring, never into the settings file
        assert keyring.get_password("backend-manager-gui", f"token:{fake.url}") == "s3cret-token"
        settings.sync()
        assert "s3cret-token" not in settings_file.read_text()
        assert ProfileStore(settings).recent()[:2] == [ConnectionProfile(ConnectionKind.SERVER, fake.url), local_profile]

        # back to this computer through File → Recent connections
        window._fill_recent_menu()
        entries = {a.text(): a for a in window.recent_menu.actions()}
        assert entries[f"SwarmUI server {fake.url}"].isChecked()
        entries[local_profile.label].trigger()
        until(loop, lambda: status_text(window) == "Connected to this computer — no backends yet")
        assert window.backends_model.rowCount() == 0 and not window.table.isColumnHidden(Column.PORT)
        assert window.gpu_dock is None or window.gpu_dock.isVisible()

        # and to the server again: the stored token is used without asking
        window._fill_recent_menu()
        {a.text(): a for a in window.recent_menu.actions()}[f"SwarmUI server {fake.url}"].trigger()
        until(loop, lambda: window.backends_model.rowCount() == 2)
    finally:
        run(loop, window.shutdown())
        run(loop, fake.stop())


def test_a_server_that_refuses_the_token_says_so(loop, qtbot, tmp_path: Path):
    gc.collect()
    fake = FakeSwarm(token="right")
    fake.add("comfyui_api")
    run(loop, fake.start())
    from backend_manager_gui.core.remote import RemoteService

    window = MainWindow(RemoteService(fake.url, token="wrong"), settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                        poll_interval=0.3, max_poll_interval=1.0)
    qtbot.addWidget(window)
    try:
        window.show()
        until(loop, lambda: window.message_bar.text() != "", what="the refusal in the message bar")
        assert "token" in window.message_bar.text().lower() or "unauthorized" in window.message_bar.text().lower()
        assert status_text(window).startswith(f"Cannot reach {fake.url}")
        assert window.backends_model.rowCount() == 0
    finally:
        run(loop, window.shutdown())
        run(loop, fake.stop())


def test_a_server_that_is_not_there_is_explained_until_it_comes(loop, qtbot, tmp_path: Path):
    gc.collect()
    fake = FakeSwarm()
    fake.add("comfyui_api", title="Late one")
    run(loop, fake.start())
    run(loop, fake.stop())  # a port where nothing listens, for now
    from backend_manager_gui.core.remote import RemoteService

    window = MainWindow(RemoteService(fake.url, timeout=1.0), settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                        poll_interval=0.2, max_poll_interval=0.5)
    qtbot.addWidget(window)
    try:
        window.show()
        until(loop, lambda: window.message_bar.text() != "")
        assert window.message_bar.text().startswith(f"Cannot reach {fake.url}")
        assert "Retrying automatically" in window.message_bar.text()
        assert status_text(window).startswith(f"Cannot reach {fake.url} — retrying")
        run(loop, fake.start())
        until(loop, lambda: table_column(window, Column.TITLE) == ["Late one"], what="recovery")
        assert window.message_bar.text() == ""  # the notice goes once the server answers
    finally:
        run(loop, window.shutdown())
        run(loop, fake.stop())


class _ThreadRecordingKeyring(FileKeyring):
    """The test keyring, noting for each call whether it ran on the GUI (main) thread."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, bool]] = []

    def _note(self, what: str) -> None:
        self.calls.append((what, threading.current_thread() is threading.main_thread()))

    def get_password(self, service: str, username: str) -> str | None:
        self._note("get")
        return super().get_password(service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        self._note("set")
        super().set_password(service, username, password)


def test_the_keyring_is_never_called_on_the_gui_thread(loop, qtbot, tmp_path: Path):
    """A locked keyring may ask for its password and take seconds: the window must not freeze meanwhile."""
    gc.collect()
    recorder = _ThreadRecordingKeyring()
    keyring.set_keyring(recorder)
    fake = FakeSwarm(token="tok")
    fake.add("comfyui_api", title="There")
    other = FakeSwarm()
    run(loop, fake.start())
    run(loop, other.start())
    from backend_manager_gui.core.remote import RemoteService

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(RemoteService(other.url), settings=settings, poll_interval=0.3, max_poll_interval=1.0)
    qtbot.addWidget(window)
    try:
        window.show()
        for token in ("tok", None):  # typed once (stored), then the stored one is read back (has_token)
            window.act_connect.trigger()
            until(loop, lambda: _dialog(window) is not None, what="the Connect dialog")
            dialog = _dialog(window)
            dialog.server_radio.setChecked(True)
            dialog.url_edit.setText(fake.url if token else other.url)
            if token:
                dialog.token_edit.setText(token)
            dialog.buttons.accepted.emit()
            target = fake.url if token else other.url
            until(loop, lambda t=target: window.service.location == t, what="switched")
        # and the stored token is read when a recent connection is opened again
        window._fill_recent_menu()
        {a.text(): a for a in window.recent_menu.actions()}[f"SwarmUI server {fake.url}"].trigger()
        until(loop, lambda: table_column(window, Column.TITLE) == ["There"], what="the server's backends")
        assert {what for what, _ in recorder.calls} == {"get", "set"}
        assert [c for c in recorder.calls if c[1]] == [], f"keyring calls on the GUI thread: {recorder.calls}"
    finally:
        run(loop, window.shutdown())
        run(loop, fake.stop())
        run(loop, other.stop())


def test_column_widths_are_kept_per_kind_of_connection(loop, qtbot, tmp_path: Path):
    """Issue 12 item 7: this computer's stretched Details and the person's widths there do not squeeze a
    server's Model column; each kind comes back as it was left, also after a restart."""
    from backend_manager_gui.core.remote import RemoteService
    from backend_manager_gui.gui.backends_view import COLUMN_WIDTHS

    gc.collect()
    defaults = dict(COLUMN_WIDTHS)
    fake = FakeSwarm()
    fake.add("comfyui_api", status="running", title="SDXL", current_model="OfficialStableDiffusion/sd_xl_base_1.0.safetensors")
    run(loop, fake.start())
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    local = LocalService(tmp_path / "data")
    run(loop, local.start())
    window = MainWindow(local, settings=settings, poll_interval=0.3, max_poll_interval=1.0)
    qtbot.addWidget(window)
    header = window.table.horizontalHeader()

    def switch(service) -> None:
        if isinstance(service, LocalService):
            run(loop, service.start())
        run(loop, window.switch_service(service))
        until(loop, lambda: window.poller.last_snapshot is not None, what="the first snapshot")

    try:
        window.resize(1600, 700)
        window.show()
        until(loop, lambda: status_text(window).startswith("Connected to this computer"))
        # the last column takes the spare width: a width of its own, not the starting one
        assert header.sectionSize(Column.URL) != defaults[Column.URL]
        assert header.sectionSize(Column.DETAILS) == defaults[Column.DETAILS]  # the reasons keep a real width
        header.resizeSection(Column.TITLE, 300)

        switch(RemoteService(fake.url))
        # the server's table starts from its own widths: not the local Title, not the local stretched Details
        assert header.sectionSize(Column.TITLE) == defaults[Column.TITLE]
        assert header.sectionSize(Column.DETAILS) == defaults[Column.DETAILS]
        assert header.sectionSize(Column.MODEL) >= defaults[Column.MODEL]  # the model's name has room
        header.resizeSection(Column.DETAILS, 180)

        switch(LocalService(tmp_path / "data"))
        assert header.sectionSize(Column.TITLE) == 300
        switch(RemoteService(fake.url))
        assert header.sectionSize(Column.DETAILS) == 180 and header.sectionSize(Column.TITLE) == defaults[Column.TITLE]
        window.close()  # saves the layout
    finally:
        run(loop, window.shutdown())
    # a new window on a server comes back with the server's widths
    again = MainWindow(RemoteService(fake.url), settings=settings, poll_interval=0.3, max_poll_interval=1.0)
    qtbot.addWidget(again)
    try:
        assert again.table.horizontalHeader().sectionSize(Column.DETAILS) == 180
    finally:
        run(loop, again.shutdown())
        run(loop, fake.stop())


def _text_area_width(edit) -> int:
    """The width a QLineEdit has for its text: its contents rect less its text margins and its own 2 px a side."""
    from PySide6.QtWidgets import QStyle, QStyleOptionFrame

    opt = QStyleOptionFrame()
    edit.initStyleOption(opt)
    rect = edit.style().subElementRect(QStyle.SubElement.SE_LineEditContents, opt, edit)
    margins = edit.textMargins()
    return rect.width() - margins.left() - margins.right() - 2 * 2


def test_connect_dialog_fields_show_their_placeholders_and_an_address_whole(qtbot):
    """Issue 12 item 9: the URL field barely fit and the token placeholder was cut off."""
    from PySide6.QtWidgets import QWidget

    parent = QWidget()
    qtbot.addWidget(parent)
    for has_token in (False, True):
        dialog = ConnectDialog(parent, ConnectionProfile(ConnectionKind.SERVER, "http://192.168.100.200:7801"),
                               has_token=has_token)
        dialog.show()
        qtbot.waitExposed(dialog)
        for edit in (dialog.url_edit, dialog.token_edit):
            needed = edit.fontMetrics().horizontalAdvance(edit.placeholderText())
            assert needed <= _text_area_width(edit), (edit.placeholderText(), needed, _text_area_width(edit))
        url = dialog.url_edit
        assert url.fontMetrics().horizontalAdvance("https://swarm-server.example.org:7801") <= _text_area_width(url)
        dialog.close()
        dialog.deleteLater()
