"""Where the window connects: this computer's embedded manager, or a SwarmUI server.

Recent connections are profiles in QSettings (kind and URL or data folder, never a token); a server's token
lives in the SecretStore (the OS keyring, else an owner-only file) under ``token:<url>``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from PySide6.QtCore import QSettings, QSize
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

log = logging.getLogger(__name__)

_RECENT_KEY = "connections/recent"
_MAX_RECENT = 8
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


class ConnectionKind(StrEnum):
    LOCAL = "local"
    SERVER = "server"


@dataclass(frozen=True)
class ConnectionProfile:
    kind: ConnectionKind
    #: the server's URL (SERVER) or the data folder (LOCAL; "" = the default one)
    target: str = ""

    @property
    def label(self) -> str:
        if self.kind is ConnectionKind.LOCAL:
            return "This computer" if not self.target else f"This computer ({self.target})"
        return f"SwarmUI server {self.target}"

    @property
    def token_key(self) -> str:
        return f"token:{self.target}"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind.value, "target": self.target}

    @classmethod
    def from_json(cls, raw: object) -> ConnectionProfile | None:
        if not isinstance(raw, dict):
            return None
        kind = raw.get("kind")
        if kind not in tuple(ConnectionKind):
            return None
        return cls(ConnectionKind(kind), str(raw.get("target") or ""))


LOCAL_DEFAULT = ConnectionProfile(ConnectionKind.LOCAL)


def secret_store() -> SecretStore:
    # its own fallback file: the embedded manager keeps backend secrets in <data dir>/secrets.json
    return SecretStore(default_data_dir() / "server-tokens.json")


class ProfileStore:
    """Recent connection profiles, most recent first, in QSettings."""

    def __init__(self, settings: QSettings) -> None:
        self._settings = settings

    def recent(self) -> list[ConnectionProfile]:
        raw = self._settings.value(_RECENT_KEY, "[]")
        try:
            items = json.loads(raw if isinstance(raw, str) else "[]")
        except ValueError:
            items = []
        out = [p for p in (ConnectionProfile.from_json(i) for i in items if isinstance(items, list)) if p]
        return out

    def last(self) -> ConnectionProfile | None:
        recent = self.recent()
        return recent[0] if recent else None

    def remember(self, profile: ConnectionProfile) -> None:
        recent = [p for p in self.recent() if p != profile]
        recent.insert(0, profile)
        self._settings.setValue(_RECENT_KEY, json.dumps([p.to_json() for p in recent[:_MAX_RECENT]]))

    def forget(self, profile: ConnectionProfile) -> None:
        self._settings.setValue(_RECENT_KEY, json.dumps([p.to_json() for p in self.recent() if p != profile]))


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

    def __init__(self, parent: QWidget, current: ConnectionProfile | None = None, *, has_token: bool = False) -> None:
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
