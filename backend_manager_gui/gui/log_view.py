"""The Log dock: a backend's live log (this computer's manager) or the app's own log of server calls and errors.

The live tail follows the worker's log file by offset on a timer: each tick reads only the bytes added
since the last one (a stat and a small read), and starts over when the file is rotated. The app's own log
comes from a ``logging.Handler`` on the ``backend_manager_gui`` logger tree that hands each formatted
record to the widget through a Qt signal, so records logged from any thread arrive on the GUI thread.
Nothing here logs setting values (they may be secrets).
"""

from __future__ import annotations

import logging
import os
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFontDatabase, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import BackendServiceError
from ..core.service import BackendService
from .icons import icon
from .tasks import worker_host

APP_LOGGER = "backend_manager_gui"
POLL_MS = 700
MAX_BLOCKS = 5000  # lines kept in the widget; older ones scroll away
FIRST_READ_BYTES = 256 * 1024  # how much of an existing log to show when a backend is selected
MAX_READ_BYTES = 1024 * 1024  # per tick: a worker that floods its log cannot stall the window
APP_LOG_LINES = 2000


class _RecordBridge(QObject):
    """Carries formatted records to the GUI thread (a queued connection when emitted from elsewhere)."""

    record_logged = Signal(str)


class QtLogHandler(logging.Handler):
    """A logging handler that emits each formatted record through ``bridge.record_logged``."""

    def __init__(self, bridge: _RecordBridge, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.bridge = bridge
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.bridge.record_logged.emit(self.format(record))
        except RuntimeError:  # the dock is gone (app shutting down): drop the record
            pass
        except Exception:
            self.handleError(record)


class LogDock(QDockWidget):
    """Titled "Log". ``set_service()`` once per connection, ``show_backend(id or None)`` on selection."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Log", parent)
        self.setObjectName("logDock")
        self._service: BackendService | None = None
        self._backend_id: int | None = None
        self._path: Path | None = None
        self._offset = 0
        self._inode: int | None = None
        self._partial = ""
        self._app_lines: deque[str] = deque(maxlen=APP_LOG_LINES)

        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(4, 2, 4, 4)
        bar = QHBoxLayout()
        self.source_label = QLabel()
        self.source_label.setTextFormat(Qt.TextFormat.PlainText)
        self.source_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar.addWidget(self.source_label, 1)
        self.follow_check = QCheckBox("Follow")
        self.follow_check.setChecked(True)
        self.follow_check.setToolTip("Keep the newest lines in view")
        self.follow_check.toggled.connect(self._on_follow_toggled)
        bar.addWidget(self.follow_check)
        self.open_button = QPushButton(icon("log"), "Open log file")
        self.open_button.setToolTip("Open the whole log file in your text viewer")
        self.open_button.clicked.connect(self._on_open_clicked)
        bar.addWidget(self.open_button)
        column.addLayout(bar)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MAX_BLOCKS)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        column.addWidget(self.text, 1)
        self.setWidget(body)

        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._on_poll)

        self._bridge = _RecordBridge(self)
        self._bridge.record_logged.connect(self._on_record_logged)
        self._handler = QtLogHandler(self._bridge)
        app_logger = logging.getLogger(APP_LOGGER)
        if app_logger.level == logging.NOTSET or app_logger.level > logging.INFO:
            # The dock shows each server call (INFO); without this the root's WARNING default would hide them.
            app_logger.setLevel(logging.INFO)
        app_logger.addHandler(self._handler)
        self.destroyed.connect(lambda *_: logging.getLogger(APP_LOGGER).removeHandler(self._handler))
        self._render()

    # -- public API --------------------------------------------------------------------------------------

    @property
    def is_live(self) -> bool:
        """True when a backend's log file is shown (embedded manager, backend selected)."""
        return self._path is not None

    def set_service(self, service: BackendService | None) -> None:
        self._service = service
        self._backend_id = None
        self._render()

    def show_backend(self, backend_id: int | None) -> None:
        if backend_id == self._backend_id and (backend_id is None or self._path is not None):
            return
        self._backend_id = backend_id
        self._render()

    def detach(self) -> None:
        """Stop following and unhook the log handler (the app calls this on quit)."""
        self._timer.stop()
        logging.getLogger(APP_LOGGER).removeHandler(self._handler)

    # -- internals ---------------------------------------------------------------------------------------

    def _has_live_logs(self) -> bool:
        return worker_host(self._service) is not None

    def _render(self) -> None:
        """Show the selected backend's log when the service has log files, else the app's own log."""
        self._timer.stop()
        self._path = None
        self._partial = ""
        self.text.clear()
        host = worker_host(self._service)
        if host is not None and self._backend_id is not None:
            try:
                self._path = Path(host.log_path(self._backend_id))
            except (BackendServiceError, KeyError, OSError, ValueError) as exc:
                self.source_label.setText(f"No log for backend {self._backend_id}: {exc}")
            else:
                self.source_label.setText(f"Backend {self._backend_id} — {self._path}")
                self.source_label.setToolTip(str(self._path))
                self._offset = 0
                self._inode = None
                self._read_new(first=True)
                self._timer.start()
        if self._path is None:
            self.source_label.setToolTip("")
            if self._has_live_logs() and self._backend_id is None:
                self.source_label.setText("This app's log — select a backend to see its own log")
            elif self._backend_id is None or not self._has_live_logs():
                where = self._service.location if self._service is not None else None
                self.source_label.setText(f"This app's log (calls to {where} and errors)" if where else "This app's log")
            self.text.setPlaceholderText(
                "Nothing logged yet. Failed calls, refusals and errors will show here."
                if self._backend_id is None or not self._has_live_logs() else ""
            )
            self.text.setPlainText("\n".join(self._app_lines))
            self._scroll_if_following()
        self.open_button.setVisible(self._has_live_logs())
        self.open_button.setEnabled(self._path is not None)

    def _read_new(self, *, first: bool = False) -> None:
        assert self._path is not None
        try:
            stat = os.stat(self._path)
        except OSError:
            if first:
                self.text.setPlainText("(no log yet: it starts when the backend first runs)")
                self._offset = -1
            return
        if self._offset < 0:  # the placeholder text is showing
            self.text.clear()
            self._offset = 0
        rotated = self._inode is not None and stat.st_ino != self._inode
        if rotated or stat.st_size < self._offset:
            self._offset = 0  # rotated or truncated: the file starts over
            self._partial = ""
        self._inode = stat.st_ino
        if first and stat.st_size > FIRST_READ_BYTES:
            self._offset = stat.st_size - FIRST_READ_BYTES
        if stat.st_size <= self._offset:
            return
        try:
            with open(self._path, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read(MAX_READ_BYTES)
        except OSError:
            return
        skip_partial_first = first and self._offset > 0
        self._offset += len(chunk)
        text = self._partial + chunk.decode("utf-8", "replace")
        lines = text.split("\n")
        self._partial = lines.pop()  # an unfinished last line waits for its end
        if skip_partial_first and lines:
            lines = lines[1:]  # started mid-file: the first line is cut
        if lines:
            self.text.appendPlainText("\n".join(line.rstrip("\r") for line in lines))
            self._scroll_if_following()

    def _scroll_if_following(self) -> None:
        if self.follow_check.isChecked():
            self.text.moveCursor(QTextCursor.MoveOperation.End)
            self.text.ensureCursorVisible()

    # -- slots -------------------------------------------------------------------------------------------

    def _on_poll(self) -> None:
        if self._path is not None and self.isVisible():
            self._read_new()

    def _on_follow_toggled(self, _checked: bool) -> None:
        self._scroll_if_following()

    def _on_open_clicked(self) -> None:
        if self._path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._path)))

    def _on_record_logged(self, line: str) -> None:
        self._app_lines.append(line)
        if self._path is None:
            self.text.appendPlainText(line)
            self._scroll_if_following()
