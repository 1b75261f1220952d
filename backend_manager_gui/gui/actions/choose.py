"""Which connections an action is for, when more than one is open: "Restart all" and "Free VRAM (all)" ask which
ones (each ticked to start with), Add asks on which one (the selected row's to start with). With one connection
nothing is asked."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtWidgets import QCheckBox, QComboBox, QDialog, QDialogButtonBox, QLabel, QVBoxLayout

from ..tasks import wait_dialog
from .context import ActionContext


def _dialog(ctx: ActionContext, title: str, text: str, accept: str) -> tuple[QDialog, QVBoxLayout, QDialogButtonBox]:
    dialog = QDialog(ctx.window)
    dialog.setWindowTitle(title)
    layout = QVBoxLayout(dialog)
    label = QLabel(text, dialog)
    label.setWordWrap(True)
    layout.addWidget(label)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, dialog)
    buttons.button(QDialogButtonBox.StandardButton.Ok).setText(accept)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return dialog, layout, buttons


async def choose_connections(ctx: ActionContext, title: str, text: str, accept: str) -> list[int] | None:
    """The connection numbers to act on (every one, with one open); None when the person cancelled."""
    hosts = list(ctx.hosts)
    if len(hosts) < 2:
        return [h.number for h in hosts]
    dialog, layout, buttons = _dialog(ctx, title, text, accept)
    dialog.setObjectName("choose_connections")
    boxes: list[tuple[int, QCheckBox]] = []
    for host in hosts:
        box = QCheckBox(host.name, dialog)
        box.setObjectName(f"connection_{host.number}")
        box.setChecked(True)
        box.setToolTip(host.service.location)
        layout.addWidget(box)
        boxes.append((host.number, box))
    ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
    for _n, box in boxes:
        box.toggled.connect(lambda _c: ok.setEnabled(any(b.isChecked() for _, b in boxes)))
    layout.addWidget(buttons)
    try:
        if await wait_dialog(dialog) != QDialog.DialogCode.Accepted:
            return None
        return [n for n, box in boxes if box.isChecked()]
    finally:
        dialog.deleteLater()


async def choose_connection(ctx: ActionContext, title: str, text: str, accept: str, *,
                            allowed: Iterable[int] | None = None, default: int | None = None) -> int | None:
    """One connection number (the only one allowed, without asking); None when cancelled or none is allowed."""
    hosts = [h for h in ctx.hosts if allowed is None or h.number in set(allowed)]
    if not hosts:
        return None
    if len(hosts) == 1:
        return hosts[0].number
    dialog, layout, buttons = _dialog(ctx, title, text, accept)
    dialog.setObjectName("choose_connection")
    combo = QComboBox(dialog)
    combo.setObjectName("connection_combo")
    for host in hosts:
        combo.addItem(host.name, host.number)
        if host.number == default:
            combo.setCurrentIndex(combo.count() - 1)
    layout.addWidget(combo)
    layout.addWidget(buttons)
    try:
        if await wait_dialog(dialog) != QDialog.DialogCode.Accepted:
            return None
        return int(combo.currentData())
    finally:
        dialog.deleteLater()
