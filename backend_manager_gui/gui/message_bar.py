"""The strip above the table for the service's refusals and for notices: non-modal, dismissible."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from . import icons


class MessageBar(QFrame):
    """A non-modal strip above the table for the service's refusals and for notices; dismissible."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("message_bar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        self.icon = QLabel()
        self.label = QLabel()
        self.label.setObjectName("message_text")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.dismiss_button = QToolButton()
        self.dismiss_button.setText("Dismiss")
        self.dismiss_button.setToolTip("Hide this message")
        self.dismiss_button.clicked.connect(self.dismiss)
        layout.addWidget(self.icon)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.dismiss_button)
        self.hide()

    def show_error(self, text: str) -> None:
        self._show(text, "#fdecea", "#8a1c12", "warning")

    def show_info(self, text: str) -> None:
        self._show(text, "#e8f1fb", "#0d3c61", "")

    def _show(self, text: str, bg: str, fg: str, icon: str) -> None:
        self.setStyleSheet(f"#message_bar {{ background: {bg}; border: 1px solid {fg}; border-radius: 3px; }} QLabel {{ color: {fg}; }}")
        pix = icons.icon(icon).pixmap(16, 16) if icon else None
        self.icon.setVisible(pix is not None and not pix.isNull())
        if pix is not None:
            self.icon.setPixmap(pix)
        self.label.setText(text)
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    def dismiss(self) -> None:
        self.label.clear()
        self.hide()
