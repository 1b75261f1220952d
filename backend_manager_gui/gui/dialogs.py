"""Dialogs a coroutine can wait for without a nested ``exec()`` (STYLE.md pitfall 4).

``edit_backend_dialog`` opens the settings dialog of one backend and saves it through the service. A refusal
(settings locked, ID in use, server gone) shows inside the dialog, which stays open with everything the user
typed, so they can fix it or try again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.aggregate import KeyedWorkerHost
from ..core.errors import BackendServiceError
from ..core.models import Backend, BackendType, SettingSpec
from ..core.rowkeys import backend_number
from ..core.service import BackendService, WorkerHost
from ..core.values import INT32_MAX, infer_kind
from .settings_form import SettingsForm, rich_tooltip
from .tasks import ask, describe_error, spawn, worker_host

__all__ = ["EditBackendDialog", "ask", "edit_backend_dialog", "infer_specs"]

log = logging.getLogger(__name__)

_SAVE = "save"
_CANCEL = "cancel"


def infer_specs(values: Mapping[str, Any]) -> tuple[SettingSpec, ...]:
    """Settings of a backend whose type the service does not describe: each typed as the kind whose canonical
    form its stored value already is (core/values.py), so an untouched value goes back exactly as it came."""
    return tuple(SettingSpec(name=str(name), type=infer_kind(value).value) for name, value in values.items())


class EditBackendDialog(QDialog):
    """Title, ID and the type's settings of one backend, with Save/Cancel and an inline error banner."""

    def __init__(
        self, backend: Backend, backend_type: BackendType | None, parent: QWidget | None = None,
        *, browse_paths: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("editBackendDialog")
        self.backend = backend
        self.backend_type = backend_type
        type_name = backend_type.name if backend_type is not None else backend.type
        self.setWindowTitle(f"Edit backend {backend_number(backend.id)} — {backend.title or type_name}")
        self._events: asyncio.Queue[str] | None = None

        outer = QVBoxLayout(self)

        top = QFormLayout()
        top.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        kind = QLabel(f"{type_name}  ({backend.type})")
        kind.setTextFormat(Qt.TextFormat.PlainText)
        kind.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if backend_type is not None and backend_type.description:
            kind.setToolTip(rich_tooltip(backend_type.description))
        top.addRow("Type:", kind)
        self.title_edit = QLineEdit(backend.title)
        self.title_edit.setPlaceholderText(type_name)
        self.title_edit.setToolTip("A name for this backend; empty shows the type's name")
        top.addRow(self._buddy_label("&Title:", self.title_edit), self.title_edit)
        self.id_spin = QSpinBox()
        self.id_spin.setRange(0, INT32_MAX)
        self.id_spin.setValue(max(0, backend_number(backend.id)))
        self.id_spin.setToolTip("The backend's number; change it to renumber the backend")
        self.id_spin.setMinimumWidth(120)
        self.id_spin.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        top.addRow(self._buddy_label("&ID:", self.id_spin), self.id_spin)
        outer.addLayout(top)

        if backend_type is None:
            note = QLabel(
                f"The service does not describe the type '{backend.type}': its settings are edited as plain values."
            )
            note.setTextFormat(Qt.TextFormat.PlainText)
            note.setWordWrap(True)
            outer.addWidget(note)
            specs = infer_specs(backend.settings)
        else:
            specs = backend_type.settings
        self.form = SettingsForm(specs, backend.settings, browse_paths=browse_paths)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(self.form)
        self.scroll_area.setFrameShape(QScrollArea.Shape.StyledPanel)
        outer.addWidget(self.scroll_area, 1)

        self.error_label = QLabel()
        self.error_label.setObjectName("errorBanner")
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet(
            "QLabel#errorBanner { background: #fdecea; color: #8a1c17; border: 1px solid #e0a09c;"
            " border-radius: 3px; padding: 6px; }"
        )
        self.error_label.hide()
        outer.addWidget(self.error_label)

        bottom = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # indeterminate: the service gives no progress of an edit
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(160)
        self.progress.hide()
        bottom.addWidget(self.progress)
        bottom.addStretch(1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button: QPushButton = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.cancel_button: QPushButton = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.save_button.setDefault(True)
        # Save does not close the dialog: it stays open until the service accepted the edit.
        self.buttons.accepted.connect(self._on_save_clicked)
        self.buttons.rejected.connect(self.reject)
        bottom.addWidget(self.buttons)
        outer.addLayout(bottom)

        self.finished.connect(self._on_finished)
        self.resize(720, 700)

    @staticmethod
    def _buddy_label(text: str, buddy: QWidget) -> QLabel:
        label = QLabel(text)
        label.setBuddy(buddy)  # makes the & an Alt shortcut instead of a literal ampersand
        return label

    # -- what the user entered ---------------------------------------------------------------------------

    def title_text(self) -> str:
        return self.title_edit.text().strip()

    def new_id(self) -> int | None:
        """The new ID, or None when it was not changed."""
        value = self.id_spin.value()
        return value if value != backend_number(self.backend.id) else None

    def settings(self) -> dict[str, Any]:
        return self.form.values()

    # -- state -------------------------------------------------------------------------------------------

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()

    def clear_error(self) -> None:
        self.error_label.clear()
        self.error_label.hide()

    def error_text(self) -> str:
        return self.error_label.text() if self.error_label.isVisible() else ""

    def set_busy(self, busy: bool) -> None:
        self.save_button.setEnabled(not busy)
        self.save_button.setText("Saving…" if busy else "Save")
        self.progress.setVisible(busy)
        for widget in (self.title_edit, self.id_spin, self.scroll_area):
            widget.setEnabled(not busy)

    # -- slots -------------------------------------------------------------------------------------------

    def _on_save_clicked(self) -> None:
        if self._events is not None and self.save_button.isEnabled():
            self._events.put_nowait(_SAVE)

    def _on_finished(self, _result: int) -> None:
        if self._events is not None:
            self._events.put_nowait(_CANCEL)

    # -- the save loop -----------------------------------------------------------------------------------

    async def run(self, service: BackendService) -> Backend | None:
        """Show the dialog (``open()``, window-modal) and save through ``service`` until it accepts or the
        user cancels. Returns the edited backend, or None on cancel."""
        self._events = asyncio.Queue()
        self.open()
        try:
            while True:
                event = await self._events.get()
                if event == _CANCEL:
                    return None
                problems = self.form.errors()
                if problems:
                    self.show_error("\n".join(f"{name}: {text}" for name, text in problems.items()))
                    continue
                self.clear_error()
                self.set_busy(True)
                save = asyncio.ensure_future(
                    service.edit_backend(self.backend.id, self.title_text(), self.settings(), self.new_id())
                )
                cancel = asyncio.ensure_future(self._next_cancel())
                try:
                    await asyncio.wait({save, cancel}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    cancel.cancel()
                if not save.done():
                    # The user closed the dialog mid-save; the service may still apply the edit.
                    save.cancel()
                    await asyncio.gather(save, return_exceptions=True)
                    return None
                self.set_busy(False)
                try:
                    edited = save.result()
                except BackendServiceError as exc:
                    log.info("Edit of backend %s refused: %s", self.backend.id, exc)
                    self.show_error(describe_error(exc, service.location))
                    continue
                self._events = None  # done() below emits finished: not a cancel
                self.done(QDialog.DialogCode.Accepted)
                return edited
        finally:
            self._events = None
            if self.isVisible():
                self.done(QDialog.DialogCode.Rejected)

    async def _next_cancel(self) -> None:
        """Wait for the dialog to close; Save clicks are ignored meanwhile (the button is disabled)."""
        assert self._events is not None
        while await self._events.get() != _CANCEL:
            pass


async def edit_backend_dialog(
    parent: QWidget | None, service: BackendService, backend: Backend, backend_type: BackendType | None
) -> Backend | None:
    """Edit ``backend`` in a dialog; the edited backend once the service accepted it, None on cancel."""
    # a Browse… button for paths only where the backend runs here (a server's paths are on the server)
    host = worker_host(service)
    if isinstance(host, KeyedWorkerHost) and not host.owns(backend.id):
        host = None  # of several connections, the backend is on another one
    dialog = EditBackendDialog(backend, backend_type, parent, browse_paths=host is not None)
    gpus = None
    if host is not None and backend_type is not None and any(s.choose == "gpu" for s in backend_type.settings):
        gpus = spawn(_offer_gpus(dialog, host), what="Read the GPUs", on_error=_gpus_unread)
    try:
        return await dialog.run(service)
    finally:
        if gpus is not None:
            gpus.cancel()
        dialog.deleteLater()


async def _offer_gpus(dialog: EditBackendDialog, host: WorkerHost) -> None:
    """Offer this computer's GPUs in the dialog's GPU settings, once read (in a worker thread: never blocking)."""
    dialog.form.set_gpu_choices((await host.gpus()).gpus)


def _gpus_unread(exc: BaseException) -> None:
    if not isinstance(exc, BackendServiceError):
        raise exc
    log.info("GPUs not offered in the edit dialog: %s", exc)  # the setting stays a text box
