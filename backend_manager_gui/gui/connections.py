"""Where the window connects: this computer's embedded manager, or a SwarmUI server.

Recent connections are profiles in QSettings (kind and URL or data folder, never a token); a server's token
lives in the SecretStore (the OS keyring, else an owner-only file) under ``token:<url>``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QStyle,
    QStyleOptionFrame,
    QVBoxLayout,
    QWidget,
)

from ..core.secrets import SecretStore
from ..core.service import BackendService
from ..paths import default_data_dir
from .profiles import LOCAL_DEFAULT, ConnectionKind, ConnectionProfile, ProfileStore

__all__ = ["LOCAL_DEFAULT", "ConnectDialog", "ConnectionKind", "ConnectionProfile", "ProfileStore", "open_service",
           "secret_store"]

log = logging.getLogger(__name__)

#: The Connect dialog's fields have room for their placeholders and for a server address of this length.
_TYPICAL_URL = "https://swarm-server.example.org:7801"
_URL_PLACEHOLDER = "http://localhost:7801"
_TOKEN_KEPT = "stored token kept"
_TOKEN_OPTIONAL = "only for servers with accounts"
#: QLineEdit's own margin on each side of its text (QLineEditPrivate::horizontalMargin).
_LINE_EDIT_MARGIN = 2


def line_edit_width_for(edit: QLineEdit, *texts: str) -> int:
    """The width ``edit`` needs to show the longest of ``texts`` whole: the text, QLineEdit's own margins, its text
    margins and the style's frame, as QLineEdit.sizeHint() adds them up."""
    fm = edit.fontMetrics()
    margins = edit.textMargins()
    width = max(fm.horizontalAdvance(t) for t in texts) + 2 * _LINE_EDIT_MARGIN + margins.left() + margins.right() + 2
    opt = QStyleOptionFrame()
    edit.initStyleOption(opt)
    return edit.style().sizeFromContents(QStyle.ContentsType.CT_LineEdit, opt, QSize(width, fm.height()), edit).width()


def secret_store() -> SecretStore:
    # its own fallback file: the embedded manager keeps backend secrets in <data dir>/secrets.json
    return SecretStore(default_data_dir() / "server-tokens.json")


async def open_service(profile: ConnectionProfile, *, token: str | None = None, secrets: SecretStore | None = None) -> BackendService:
    """Start the service a profile names. A server's token: ``token`` if given, else the stored one."""
    if profile.kind is ConnectionKind.LOCAL:
        from ..core.local import LocalService

        service = LocalService(Path(profile.target) if profile.target else default_data_dir())
        await service.start()
        return service
    from ..core.remote import RemoteService

    if token is None:
        token = await (secrets or secret_store()).aget(profile.token_key)
    return RemoteService(profile.target, token=token)


class ConnectDialog(QDialog):
    """File → Connect…: this computer, or a SwarmUI server with an optional token."""

    def __init__(self, parent: QWidget, current: ConnectionProfile | None = None, *, has_token: bool = False,
                 recent_urls: list[str] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("connect_dialog")
        self.setWindowTitle("Connect")
        layout = QVBoxLayout(self)
        self.local_radio = QRadioButton("This computer (embedded manager)")
        self.local_radio.setToolTip("Start and watch GPU workers (ComfyUI or any command) on this computer.")
        self.server_radio = QRadioButton("SwarmUI server")
        self.server_radio.setToolTip("Manage the backends of a running SwarmUI server.")
        group = QButtonGroup(self)
        group.addButton(self.local_radio)
        group.addButton(self.server_radio)
        layout.addWidget(self.local_radio)
        layout.addWidget(self.server_radio)
        form = QFormLayout()
        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText(_URL_PLACEHOLDER)
        self.token_edit = QLineEdit()
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText(_TOKEN_KEPT if has_token else _TOKEN_OPTIONAL)
        # wide enough for a server's address and each placeholder whole, in the person's font
        width = line_edit_width_for(self.url_edit, _TYPICAL_URL, _URL_PLACEHOLDER, _TOKEN_KEPT, _TOKEN_OPTIONAL)
        for edit in (self.url_edit, self.token_edit):
            edit.setMinimumWidth(width)
        if recent_urls:
            # the servers used before, offered as the address is typed (and all of them with the Down key)
            from PySide6.QtWidgets import QCompleter

            completer = QCompleter(recent_urls, self.url_edit)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            completer.setFilterMode(Qt.MatchFlag.MatchContains)
            self.url_edit.setCompleter(completer)
        form.addRow("Server URL:", self.url_edit)
        form.addRow("Token (optional):", self.token_edit)
        layout.addLayout(form)
        self.hint = QLabel("The token is kept in your keyring, never in the settings file.")
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Connect")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        if current is not None and current.kind is ConnectionKind.SERVER:
            self.server_radio.setChecked(True)
            self.url_edit.setText(current.target)
        else:
            self.local_radio.setChecked(True)
        self.local_radio.toggled.connect(self._on_kind_changed)
        self.url_edit.textChanged.connect(self._on_kind_changed)
        self._on_kind_changed()

    def _on_kind_changed(self, *_args: object) -> None:
        server = self.server_radio.isChecked()
        self.url_edit.setEnabled(server)
        self.token_edit.setEnabled(server)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not server or bool(self.url_edit.text().strip()))

    def profile(self) -> ConnectionProfile:
        if self.server_radio.isChecked():
            from ..core.remote import normalize_base_url

            return ConnectionProfile(ConnectionKind.SERVER, normalize_base_url(self.url_edit.text()))
        return LOCAL_DEFAULT

    def token(self) -> str | None:
        """The token typed, or None when the field was left empty (keep the stored one)."""
        text = self.token_edit.text().strip()
        return text or None
