"""Item 7: secrets.

A secret typed into the edit dialog (the embedded manager's SecretEnvironment, a SwarmUI server's
AuthorizationHeader) and a server token typed into File → Connect… must reach where they are used (the worker's
environment, the server) and nowhere else: not in any log file (the app's log records at DEBUG, the worker logs),
not in any text the window shows (log dock, message bar, status bar, table, dialogs' error texts), not in the
QSettings files or the data folder, not in a ``repr``. Tokens are in the keyring, or, where there is no usable
keyring, in a file only the user can read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QLabel, QLineEdit, QPlainTextEdit, QTextEdit, QWidget

from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.core.secrets import KEYRING_SERVICE, file_is_private
from backend_manager_gui.gui.connections import ConnectDialog
from backend_manager_gui.gui.main_window import MainWindow
from backend_manager_gui.paths import default_data_dir
from tests.core.local.conftest import FAKE_COMFY, FAST
from tests.gui.conftest import run
from tests.gui.window_helpers import status_text, temp_settings, until
from tests.reliability.gui_support import open_edit_dialog
from tests.support.fake_swarm import FakeSwarm

pytestmark = pytest.mark.reliability


@pytest.fixture
def all_logs(tmp_path: Path) -> Iterator[Path]:
    """Every log record of every logger, at DEBUG, into one file (the app's own log is a subset of this)."""
    path = tmp_path / "all-records.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


def shown_texts(window: MainWindow) -> list[str]:
    """Every text a person can see in the app's windows: labels, fields, text views, the table's cells and tips."""
    out: list[str] = [window.windowTitle(), status_text(window), window.statusBar().currentMessage()]
    widgets: list[QWidget] = [window, *window.findChildren(QWidget), *QApplication.topLevelWidgets()]
    for w in widgets:
        if isinstance(w, QLabel):
            out += [w.text(), w.toolTip()]
        elif isinstance(w, QLineEdit) and w.echoMode() == QLineEdit.EchoMode.Normal:
            out.append(w.text())
        elif isinstance(w, (QPlainTextEdit, QTextEdit)):
            out.append(w.toPlainText())
    model = window.backends_model
    for r in range(model.rowCount()):
        for c in range(model.columnCount()):
            for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                value = model.index(r, c).data(role)
                if value is not None:
                    out.append(str(value))
    return out


def files_under(*folders: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for f in folders if f.exists() for p in f.rglob("*") if p.is_file()}


def assert_nowhere(secret: str, *, texts: list[str], files: dict[Path, bytes], reprs: list[str]) -> int:
    for text in texts:
        assert secret not in text, f"shown to the person: {text[:200]!r}"
    raw = secret.encode()
    for path, data in files.items():
        assert raw not in data, f"written to {path}"
    for r in reprs:
        assert secret not in r, f"in a repr: {r[:200]!r}"
    return len(texts) + len(files) + len(reprs)


def test_secret_setting_of_a_local_worker(loop, qtbot, tmp_path, all_logs, platformdirs_isolated, figures) -> None:
    secret = "sekrit-" + secrets.token_hex(12)
    data_dir = tmp_path / "data"
    svc = LocalService(data_dir, **FAST)
    run(loop, svc.start())
    run(loop, svc.add_backend("command"))
    settings = temp_settings(tmp_path)
    window = MainWindow(svc, settings=settings, poll_interval=0.2, max_poll_interval=1.0)
    qtbot.addWidget(window)
    try:
        window.show()
        until(loop, lambda: window.backends_model.rowCount() == 1 and window.backend_types, what="the backend")
        window.select_backends([0])
        window.act_edit.trigger()
        until(loop, lambda: open_edit_dialog(window) is not None, what="the edit dialog")
        dialog = open_edit_dialog(window)
        assert dialog is not None
        form = dialog.form
        form.widget_for("Command").setText(f"{sys.executable} {FAKE_COMFY} --port {{port}} --print-env-sha256 API_TOKEN")
        form.widget_for("HealthURL").setText("http://127.0.0.1:{port}/system_stats")
        secret_field = form.widget_for("SecretEnvironment")
        assert secret_field.echoMode() != QLineEdit.EchoMode.Normal  # typed as a password
        # first a line that is not KEY=VALUE: the refusal must not quote it back
        secret_field.setText(f"API_TOKEN {secret}")
        dialog.save_button.click()
        until(loop, lambda: dialog.error_text() != "", what="the refusal in the dialog")
        refusal = dialog.error_text()
        assert secret not in refusal
        secret_field.setText(f"API_TOKEN={secret}")
        dialog.save_button.click()
        until(loop, lambda: open_edit_dialog(window) is None, what="the save")
        digest = hashlib.sha256(secret.encode()).hexdigest()
        # it reached the worker's environment (the worker prints only its hash)
        until(loop, lambda: f"sha256(API_TOKEN)={digest}" in svc.log_tail(0), timeout=20, what="the worker to get it")
        until(loop, lambda: window.backends_model.backend(0).status.value == "running", timeout=20, what="running")
        # kept in the keyring, under this backend
        uid = json.loads((data_dir / "backends.json").read_text("utf-8"))["backends"][0]["uid"]
        assert keyring.get_password(KEYRING_SERVICE, f"backend-{uid}-SecretEnvironment") == f"API_TOKEN={secret}"
        window._save_layout()
        settings.sync()
        QSettings().sync()
        reprs = [repr(svc), repr(svc.details(0)), repr(run(loop, svc.list_backends())),
                 repr(window.backends_model.backends()), repr(svc._entries)]
        checked = assert_nowhere(
            secret, texts=shown_texts(window) + [refusal], reprs=reprs,
            files={**files_under(data_dir, Path(settings.fileName()).parent, Path(QSettings().fileName()).parent),
                   all_logs: all_logs.read_bytes()},
        )
    finally:
        run(loop, window.shutdown())
    figures["places_checked"] = checked
    figures["log_records_bytes"] = all_logs.stat().st_size
    figures["log_dock"] = "present" if window.log_dock is not None else "absent (gui/log_view.py not in the tree yet)"
    figures["found"] = 0


def test_server_token_and_remote_secret(loop, qtbot, tmp_path, all_logs, platformdirs_isolated, figures) -> None:
    token = "tok-" + secrets.token_hex(12)
    header = "Bearer " + secrets.token_hex(12)
    other = FakeSwarm()
    fake = FakeSwarm(token=token, locked=True)
    fake.add("swarmswarmbackend", title="Remote", settings={"AuthorizationHeader": ""})
    run(loop, other.start())
    run(loop, fake.start())
    settings = temp_settings(tmp_path)
    window = MainWindow(RemoteService(other.url), settings=settings, poll_interval=0.2, max_poll_interval=1.0)
    qtbot.addWidget(window)
    try:
        window.show()
        until(loop, lambda: status_text(window).startswith("Connected to"), what="connected")
        # File → Connect…: the token is typed once
        window.act_connect.trigger()
        until(loop, lambda: any(isinstance(w, ConnectDialog) and w.isVisible() for w in window.findChildren(QWidget)),
              what="the connect dialog")
        connect = next(w for w in window.findChildren(ConnectDialog) if w.isVisible())
        connect.server_radio.setChecked(True)
        connect.url_edit.setText(fake.url)
        connect.token_edit.setText(token)
        connect.accept()
        until(loop, lambda: window.service.location == fake.url and window.backends_model.rowCount() == 1
              and window.backend_types, timeout=15, what="connected with the token")
        assert keyring.get_password(KEYRING_SERVICE, f"token:{fake.url}") == token
        # a secret setting typed into the edit dialog: refused once (locked), then saved
        window.select_backends([0])
        window.act_edit.trigger()
        until(loop, lambda: open_edit_dialog(window) is not None, what="the edit dialog")
        dialog = open_edit_dialog(window)
        assert dialog is not None
        dialog.form.widget_for("AuthorizationHeader").setText(header)
        dialog.save_button.click()
        until(loop, lambda: dialog.error_text() != "", what="the refusal")
        refusal = dialog.error_text()
        fake.locked = False
        dialog.save_button.click()
        until(loop, lambda: open_edit_dialog(window) is None, what="the save")
        assert fake.secret_value(0, "AuthorizationHeader") == header  # it reached the server
        window._save_layout()
        settings.sync()
        QSettings().sync()
        files = {**files_under(Path(settings.fileName()).parent, Path(QSettings().fileName()).parent, default_data_dir()),
                 all_logs: all_logs.read_bytes()}
        reprs = [repr(window.service), repr(window.backends_model.backends()), repr(window.profile)]
        checked = 0
        for secret in (token, header):
            checked += assert_nowhere(secret, texts=shown_texts(window) + [refusal], files=files, reprs=reprs)

        # no usable keyring: the token goes to a file only the user can read
        keyring.set_keyring(fail.Keyring())
        window.act_connect.trigger()
        until(loop, lambda: any(w.isVisible() for w in window.findChildren(ConnectDialog)), what="the connect dialog")
        connect = next(w for w in window.findChildren(ConnectDialog) if w.isVisible())
        connect.server_radio.setChecked(True)
        connect.url_edit.setText(other.url)
        connect.token_edit.setText(token)
        connect.accept()
        until(loop, lambda: window.service.location == other.url, timeout=15, what="switched")
        token_files = [p for p, data in files_under(default_data_dir()).items() if token.encode() in data]
        assert token_files, "the token was not stored anywhere"
        for path in token_files:
            assert file_is_private(path), f"{path} is readable by others: {oct(path.stat().st_mode)}"
    finally:
        run(loop, window.shutdown())
        run(loop, fake.stop())
        run(loop, other.stop())
    figures["places_checked"] = checked
    figures["token_file_mode"] = oct(token_files[0].stat().st_mode & 0o777)
    figures["found"] = 0
