"""The Log dock: the selected backend's log on any connection, or this app's own log while none is selected.

A backend's log is read through the contract, ``BackendService.backend_log``, the same way for the embedded
manager, a SwarmUI server and a ``serve`` box: each tick asks for the lines after the last one shown
(``after = log.last_sequence``) and appends only those; a sequence that goes back (the server restarted) draws a
separator and starts over. Cost: at most one call per tick (1 s), only while the dock is visible and a backend
is selected, never two in flight (a tick is skipped while one is), and backing off while the service cannot be
reached, as the Poller does. The embedded manager's log file can still be opened whole (*Open log file*).

The app's own log comes from a ``logging.Handler`` on the ``backend_manager_gui`` logger tree that hands each
formatted record to the widget through a Qt signal, so records logged from any thread arrive on the GUI thread.
Every line looks the same: ``HH:MM:SS [Level] source: text`` (the level only when it says something). Lines
wrap, so the left edge stays in view. Nothing here logs setting values (they may be secrets).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFontDatabase, QTextCursor, QTextOption
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

from ..core.aggregate import AggregateService
from ..core.errors import BackendServiceError
from ..core.models import BackendLog, LogLine
from ..core.rowkeys import backend_number
from ..core.service import BackendService
from .icons import icon
from .tasks import describe_error, spawn, worker_host

APP_LOGGER = "backend_manager_gui"
#: One tick: at most one ``backend_log`` call each.
TICK_MS = 1000
#: While failing, ticks to wait: 2, 4, 8, then this many (the Poller's 2 → 4 → 8 → 10 s)
MAX_BACKOFF_TICKS = 10
MAX_BLOCKS = 5000  # lines kept in the widget; older ones scroll away
APP_LOG_LINES = 2000
#: Drawn where a server's log numbers went back: it restarted and its log starts over.
RESTART_SEPARATOR = "──────── the server restarted: its log starts over ────────"

#: Logger name (below ``backend_manager_gui.``) -> the short source a person reads; the longest prefix wins.
SOURCES = {
    "": "app",
    "remote": "server",
    "core.remote": "server",
    "core.remote_logs": "server",
    "core.list_decoder": "server",
    "core.server": "serve",
    "core.serve_logs": "serve",
    "access": "serve",
    "core.local": "manager",
    "core.secrets": "secrets",
    "gui.poller": "refresh",
    "gui.actions": "actions",
    "gui.dialogs": "edit",
    "gui.settings_form": "edit",
    "gui.connections": "connect",
    "gui.gpu_view": "GPUs",
    "gui.main_window": "window",
    "gui.app": "app",
    "gui.tasks": "app",
}
#: A worker's stream prefixes, SwarmUI's form: who wrote the line, which a person need not read on every line.
_STREAM_PREFIXES = ("[STDOUT] ", "[STDERR] ")
_MANAGER_PREFIX = "[manager] "


def short_source(logger_name: str) -> str:
    """``backend_manager_gui.gui.poller`` -> ``refresh``: where a record came from, in a word."""
    name = logger_name.removeprefix(APP_LOGGER).removeprefix(".")
    probe = name
    while True:
        found = SOURCES.get(probe)
        if found is not None:
            return found
        if "." not in probe:
            break
        probe = probe.rsplit(".", 1)[0]
    return name.rsplit(".", 1)[-1].replace("_", " ") if name else SOURCES[""]


def line_text(clock: str, text: str, level: str = "", source: str = "") -> str:
    """The one look of a log line: ``HH:MM:SS [Level] source: text`` (level and source only when set)."""
    parts = [clock] if clock else []
    if level:
        parts.append(f"[{level}]")
    parts.append(f"{source}: {text}" if source else text)
    return " ".join(parts)


def format_log_line(line: LogLine) -> str:
    """A backend's log line as the dock shows it: its time of day, its level when it has one, its text."""
    when = line.time
    clock = when[11:19] if len(when) >= 19 and when[10] == " " else when
    text = line.text
    source = ""
    for prefix in _STREAM_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    else:
        if text.startswith(_MANAGER_PREFIX):
            text, source = text[len(_MANAGER_PREFIX):], "manager"
    return line_text(clock, text.rstrip("\r\n"), line.level, source)


class _AppFormatter(logging.Formatter):
    """An app record in the dock's look: time, level when Warning or worse, short source, message."""

    def format(self, record: logging.LogRecord) -> str:
        level = "Error" if record.levelno >= logging.ERROR else "Warning" if record.levelno >= logging.WARNING else ""
        text = record.getMessage()
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        return line_text(self.formatTime(record, "%H:%M:%S"), text, level, short_source(record.name))


class _RecordBridge(QObject):
    """Carries formatted records to the GUI thread (a queued connection when emitted from elsewhere)."""

    record_logged = Signal(str)


class QtLogHandler(logging.Handler):
    """A logging handler that emits each formatted record through ``bridge.record_logged``."""

    def __init__(self, bridge: _RecordBridge, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.bridge = bridge
        self.setFormatter(_AppFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.bridge.record_logged.emit(self.format(record))
        except RuntimeError:  # the dock is gone (app shutting down): drop the record
            pass
        except Exception:  # noqa: BLE001 - logging's own rule: a handler reports, never raises
            self.handleError(record)


class LogDock(QDockWidget):
    """Titled "Log". ``set_service()`` once per connection, ``show_backend(id or None)`` on selection."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Log", parent)
        self.setObjectName("logDock")
        self._service: BackendService | None = None
        self._backend_id: int | None = None
        self._title = ""
        self._path: Path | None = None
        self._app_lines: deque[str] = deque(maxlen=APP_LOG_LINES)
        #: ticks of the poll timer so far (tests count calls against it)
        self.ticks = 0
        #: ``backend_log`` calls made (started)
        self.calls = 0
        self._after = 0
        self._generation = 0  # bumped on each change of service or backend: older answers are dropped
        self._task: asyncio.Task[None] | None = None
        self._last_call_tick = -1
        self._failures = 0
        self._retry_tick = 0

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
        #: why the log cannot be read (no permission, no log, cannot reach): the lines shown stay
        self.reason_label = QLabel()
        self.reason_label.setObjectName("logReason")
        self.reason_label.setTextFormat(Qt.TextFormat.PlainText)
        self.reason_label.setWordWrap(True)
        self.reason_label.setStyleSheet("QLabel#logReason { font-style: italic; }")
        self.reason_label.hide()
        column.addWidget(self.reason_label)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MAX_BLOCKS)
        # wrapped: a long line never scrolls the view sideways (lines starting mid-word)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.text.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        column.addWidget(self.text, 1)
        self.setWidget(body)

        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._on_tick)

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
        """True while a backend's log is followed (any connection, a backend selected)."""
        return self._service is not None and self._backend_id is not None

    @property
    def reading(self) -> bool:
        """True while a ``backend_log`` call is in flight."""
        return self._task is not None

    @property
    def reason(self) -> str:
        """What the dock says about the log it cannot read ("" when it reads it)."""
        return self.reason_label.text() if not self.reason_label.isHidden() else ""

    def set_service(self, service: BackendService | None) -> None:
        self._cancel_call()
        self._service = service
        self._backend_id = None
        self._render()
        if service is None:
            self._timer.stop()
        else:
            self._timer.start()

    def show_backend(self, backend_id: int | None, title: str = "") -> None:
        if backend_id == self._backend_id:
            return
        self._backend_id = backend_id
        self._title = title
        self._render()
        self._maybe_call()  # at once, not a tick later (still at most one call per tick)

    def detach(self) -> None:
        """Stop following and unhook the log handler (the app calls this on quit)."""
        self._timer.stop()
        self._cancel_call()
        logging.getLogger(APP_LOGGER).removeHandler(self._handler)

    # -- internals ---------------------------------------------------------------------------------------

    def _cancel_call(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()  # the service it talks to is being replaced (and closed)

    def _render(self) -> None:
        """Start over: the selected backend's log (read on the next tick), or the app's own log."""
        self._generation += 1
        self._after = 0
        self._failures = 0
        self._retry_tick = 0
        self._path = None
        self._set_reason("")
        self.text.clear()
        host = worker_host(self._service)
        if self.is_live:
            assert self._service is not None and self._backend_id is not None
            backend_id = self._backend_id
            number = backend_number(backend_id)
            name = f"{self._title} (#{number})" if self._title else f"Backend {number}"
            if host is not None:
                try:
                    self._path = Path(host.log_path(backend_id))
                except (BackendServiceError, KeyError, OSError, ValueError):
                    self._path = None
            service = self._service
            location = service.location_of(backend_id) if isinstance(service, AggregateService) else service.location
            where = str(self._path) if self._path is not None else f"its log on {location}"
            self.source_label.setText(f"{name} — {where}")
            self.source_label.setToolTip(where)
            self.text.setPlaceholderText("No lines yet: what the backend writes will show here.")
        else:
            calls_to = self._service.location if self._service is not None else None
            own = f"This app's log (calls to {calls_to} and errors)" if calls_to else "This app's log"
            self.source_label.setText(f"{own} — select a backend to see its own log" if calls_to else own)
            self.source_label.setToolTip("")
            self.text.setPlaceholderText("Nothing logged yet. Failed calls, refusals and errors will show here.")
            self.text.setPlainText("\n".join(self._app_lines))
            self._scroll_if_following()
        self.open_button.setVisible(host is not None)
        self.open_button.setEnabled(self._path is not None)

    def _maybe_call(self) -> None:
        """Ask for the new lines, unless the dock is hidden, a call is in flight, this tick had one already, or
        the service is being given time after a failure."""
        service, backend_id = self._service, self._backend_id
        if (service is None or backend_id is None or self._task is not None or not self.isVisible()
                or self._last_call_tick >= self.ticks or self.ticks < self._retry_tick):
            return
        self._last_call_tick = self.ticks
        self.calls += 1
        self._task = spawn(self._read(service, backend_id, self._after, self._generation),
                           what=f"Reading backend {backend_id}'s log")

    async def _read(self, service: BackendService, backend_id: int, after: int, generation: int) -> None:
        log: BackendLog | BackendServiceError
        try:
            log = await service.backend_log(backend_id, after)
        except BackendServiceError as exc:
            log = exc
        finally:
            if self._task is asyncio.current_task():
                self._task = None
        if generation != self._generation:  # another backend or service meanwhile: its turn now, if due
            self._maybe_call()
        elif isinstance(log, BackendServiceError):
            self._on_read_failed(log)
        else:
            self._on_read(log)

    def _on_read(self, log: BackendLog) -> None:
        self._failures = 0
        self._retry_tick = 0
        lines = log.lines
        if log.last_sequence < self._after:  # the numbers went back: the server restarted
            self._append([RESTART_SEPARATOR])
            self._after = 0
        else:
            lines = tuple(line for line in lines if line.sequence > self._after)  # none twice
        self._append(format_log_line(line) for line in lines)
        self._after = max(self._after, log.last_sequence)
        self._set_reason("" if log.available else log.reason or "This backend has no log to show.")

    def _on_read_failed(self, exc: BackendServiceError) -> None:
        self._failures += 1
        delay = min(MAX_BACKOFF_TICKS, 2 ** self._failures)
        self._retry_tick = self.ticks + delay
        where = self._service.location if self._service is not None else None
        self._set_reason(f"{describe_error(exc, where)} — trying again in {delay} s")

    def _set_reason(self, text: str) -> None:
        self.reason_label.setText(text)
        self.reason_label.setVisible(bool(text))

    def _append(self, lines: Iterable[str]) -> None:
        block = "\n".join(lines)
        if block:
            self.text.appendPlainText(block)
            self._scroll_if_following()

    def _scroll_if_following(self) -> None:
        if self.follow_check.isChecked():
            self.text.moveCursor(QTextCursor.MoveOperation.End)
            self.text.ensureCursorVisible()
        self.text.horizontalScrollBar().setValue(0)  # the left edge stays in view

    # -- slots -------------------------------------------------------------------------------------------

    def _on_tick(self) -> None:
        self.ticks += 1
        self._maybe_call()

    def _on_follow_toggled(self, _checked: bool) -> None:
        self._scroll_if_following()

    def _on_open_clicked(self) -> None:
        if self._path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._path)))

    def _on_record_logged(self, line: str) -> None:
        self._app_lines.append(line)
        if not self.is_live:
            self._append([line])
