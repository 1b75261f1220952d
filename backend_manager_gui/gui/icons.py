"""The app's icons: SVG files under ``resources/icons/``, loaded once and cached.

A drawn dot stands in for a missing status file, so a broken install still shows statuses. Status icons and
colours live here, so the table, the tray and the docks show a status the same way.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from ..core.status import BackendStatus
from ..paths import resource

if TYPE_CHECKING:
    from PySide6.QtGui import QColor, QIcon

# Qt's classes are imported where they are used: this module is imported before the window's first paint, and
# PySide6 builds each class (and its enums) on first import (docs/PERFORMANCE.md, P3)

# The colour of each status: the SVG icons use these hues; text in these colours reads on a light background.
_STATUS_COLOURS = {
    BackendStatus.RUNNING: "#217a37",
    BackendStatus.LOADING: "#a86a00",
    BackendStatus.WAITING: "#a86a00",
    BackendStatus.IDLE: "#2f6fb0",
    BackendStatus.ERRORED: "#c0302b",
    BackendStatus.DISABLED: "#7a8288",
}
_NEUTRAL = "#7a8288"


def _svg(*names: str) -> QIcon | None:
    from PySide6.QtGui import QIcon

    for name in names:
        path = resource(name)
        if path.is_file():
            loaded = QIcon(str(path))
            if not loaded.isNull():
                return loaded
    return None


def _dot(colour: str, *, ring: bool = False) -> QIcon:
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap

    pix = QPixmap(32, 32)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    if ring:
        p.setPen(QPen(QColor(colour), 5))
        p.drawArc(QRectF(5, 5, 22, 22), 90 * 16, 270 * 16)
    else:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(colour))
        p.drawEllipse(QRectF(6, 6, 20, 20))
    p.end()
    return QIcon(pix)


@cache
def icon(name: str) -> QIcon:
    """The icon ``resources/icons/NAME.svg`` (add, edit, delete, restart, refresh, free-memory, duplicate,
    toggle, show, hide, warning, gpu, log, status-*); an empty QIcon when there is no such file."""
    from PySide6.QtGui import QIcon

    return _svg(f"icons/{name}.svg") or QIcon()


@cache
def status_icon(status: BackendStatus) -> QIcon:
    return _svg(f"icons/status-{status.value}.svg") or _dot(status_colour(status).name())


@cache
def busy_icon() -> QIcon:
    """A request for this backend is in flight."""
    return _svg("icons/status-busy.svg") or _dot("#616161", ring=True)


@cache
def app_icon() -> QIcon:
    return _svg("app.svg", "app-icon.svg", "icons/app.svg") or _dot("#3949ab")


def status_colour(status: BackendStatus | None) -> QColor:
    from PySide6.QtGui import QColor

    return QColor(_STATUS_COLOURS.get(status, _NEUTRAL) if status is not None else _NEUTRAL)


status_color = status_colour  # the name the issue uses
