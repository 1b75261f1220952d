"""Icons from resources/ (SVG), loaded once and cached; a drawn dot stands in for a missing file."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap

from ..core.models import BackendStatus
from ..paths import resource

_DOT_COLOURS = {
    BackendStatus.ERRORED: "#d32f2f",
    BackendStatus.LOADING: "#1e88e5",
    BackendStatus.WAITING: "#f9a825",
    BackendStatus.RUNNING: "#43a047",
    BackendStatus.IDLE: "#26a69a",
    BackendStatus.DISABLED: "#9e9e9e",
}


def _svg(*names: str) -> QIcon | None:
    for name in names:
        path = resource(name)
        if path.is_file():
            icon = QIcon(str(path))
            if not icon.isNull():
                return icon
    return None


def _dot(colour: str, *, ring: bool = False) -> QIcon:
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
def status_icon(status: BackendStatus) -> QIcon:
    return _svg(f"icons/status-{status.value}.svg", f"icons/{status.value}.svg") or _dot(_DOT_COLOURS.get(status, "#000000"))


@cache
def busy_icon() -> QIcon:
    return _svg("icons/busy.svg", "icons/status-busy.svg") or _dot("#616161", ring=True)


@cache
def app_icon() -> QIcon:
    return _svg("app-icon.svg", "icons/app.svg", "backend-manager-gui.svg", "icon.svg") or _dot("#3949ab")
