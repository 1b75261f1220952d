"""The main window: the backends table, every action on it, the status bar, docks and connections.

Nothing here waits on I/O: each action is a coroutine started with ``spawn()``, rows with a request in
flight show a busy icon and cannot be acted on until the answer, and the poller refreshes at once after.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, QItemSelectionModel, QModelIndex, QPoint, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent, QHideEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSizePolicy,
    QSystemTrayIcon,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from ..core.errors import BackendServiceError, ServiceUnavailable
from ..core.models import SECRET_MARKER, Backend, BackendStatus, BackendType
from ..core.service import BackendService
from . import icons
from .backends_model import (
    BACKEND_ROLE,
    LOCAL_ONLY_COLUMNS,
    REMOTE_ONLY_COLUMNS,
    BackendsFilterModel,
    BackendsModel,
    Column,
)
from .connections import ConnectDialog, ConnectionKind, ConnectionProfile, ProfileStore, open_service, secret_store
from .poller import Poller
from .tasks import ask, cancel_tasks, describe_error, is_embedded, spawn, wait_dialog

log = logging.getLogger(__name__)

#: Statuses that mean a worker process is (or is about to be) up: what quitting would stop.
LIVE_STATUSES = (BackendStatus.RUNNING, BackendStatus.IDLE, BackendStatus.LOADING, BackendStatus.WAITING)
#: Order of the status summary ("3 running · 1 loading · 1 errored").
SUMMARY_ORDER = (
    BackendStatus.RUNNING,
    BackendStatus.IDLE,
    BackendStatus.LOADING,
    BackendStatus.WAITING,
    BackendStatus.ERRORED,
    BackendStatus.DISABLED,
)
SELFSTART_TYPE = "comfyui_selfstart"

Connector = Callable[..., Awaitable[BackendService]]


def status_summary(backends: Iterable[Backend]) -> str:
    counts: dict[BackendStatus, int] = {}
    for b in backends:
        counts[b.status] = counts.get(b.status, 0) + 1
    if not counts:
        return "no backends yet"
    return " · ".join(f"{counts[s]} {s.value}" for s in SUMMARY_ORDER if counts.get(s))


def _gpu_ids(backend: Backend) -> set[str]:
    raw = backend.settings.get("GPU_ID")
    if raw in (None, ""):
        return set()
    return {part.strip() for part in str(raw).split(",") if part.strip()}


def _copyable_settings(settings: dict[str, Any]) -> dict[str, Any]:
    # a secret comes back as the marker: sent to another backend it would mean "keep *its* (empty) value"
    return {k: v for k, v in settings.items() if v != SECRET_MARKER}


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


class MainWindow(QMainWindow):
    """``MainWindow(service)``; its table model is ``backends_model``."""

    #: The window now talks to another service (after File → Connect…).
    service_changed = Signal(object)
    #: A backend went to errored: (title, message) — also a desktop notification when there is a tray.
    backend_errored = Signal(str, str)
    #: The window was closed for good (after any question about running workers).
    closed = Signal()

    def __init__(
        self,
        service: BackendService,
        *,
        settings: QSettings | None = None,
        profile: ConnectionProfile | None = None,
        connector: Connector = open_service,
        poll_interval: float = 2.0,
        max_poll_interval: float = 10.0,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("main_window")
        self.setWindowIcon(icons.app_icon())
        self.settings = settings if settings is not None else QSettings()
        self.profiles = ProfileStore(self.settings)
        self.profile = profile
        self._connector = connector
        self._poll_interval = (poll_interval, max_poll_interval)
        self.service: BackendService = service
        self.backend_types: dict[str, BackendType] = {}
        self._types_task: asyncio.Task[None] | None = None
        self._busy: set[int] = set()
        self._editing: set[int] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False
        self._shut_down = False
        self._quit_confirmed = False
        self._unreachable_notice = False
        self._previous_status: dict[int, BackendStatus] | None = None
        self.notifications: list[tuple[str, str]] = []
        self._unlisten: Callable[[], None] | None = None
        self._listener_status: dict[int, BackendStatus] = {}

        self.backends_model = BackendsModel(self)
        self.backends_model.toggle_requested.connect(self._on_toggle_requested)
        self.proxy = BackendsFilterModel(self)
        self.proxy.setSourceModel(self.backends_model)

        self._build_table()
        self._build_actions()
        self._build_menus_and_toolbar()
        self._build_status_bar()
        self._build_docks()
        self._build_tray()
        self.poller = self._new_poller(service)
        self._attach(service)
        self._restore_layout()
        self._update_actions()

    # ================================================================== building
    def _build_table(self) -> None:
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        self.message_bar = MessageBar(central)
        layout.addWidget(self.message_bar)
        # above the table, not in the toolbar: a narrow window must not push the filter into an overflow menu
        filter_row = QHBoxLayout()
        self.filter_edit = QLineEdit(central)
        self.filter_edit.setObjectName("filter_edit")
        self.filter_edit.setPlaceholderText("Filter by title, type, status or details (Ctrl+F)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMaximumWidth(360)
        self.filter_edit.textChanged.connect(self._on_filter_changed)
        clear_filter = QAction("Clear filter", self.filter_edit)
        clear_filter.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        clear_filter.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        clear_filter.triggered.connect(self.filter_edit.clear)
        self.filter_edit.addAction(clear_filter)
        self.count_label = QLabel(central)
        self.count_label.setObjectName("count_label")
        filter_row.addWidget(self.filter_edit, 1)
        filter_row.addWidget(self.count_label)
        filter_row.addStretch(1)
        layout.addLayout(filter_row)
        self.table = QTableView(central)
        self.table.setObjectName("backends_table")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(Column.ID, Qt.SortOrder.AscendingOrder)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._on_context_menu_requested)
        self.table.doubleClicked.connect(self._on_row_double_clicked)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        # why a backend is in its state is read at a glance beside its status, and takes the spare width;
        # long texts (model file names, URLs in messages) keep both ends when cut
        header.setStretchLastSection(False)
        header.moveSection(header.visualIndex(Column.DETAILS), header.visualIndex(Column.STATUS) + 1)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        for col, width in ((Column.ID, 40), (Column.TITLE, 170), (Column.TYPE, 150), (Column.STATUS, 100),
                           (Column.DETAILS, 260), (Column.ENABLED, 64), (Column.MODEL, 220), (Column.LAST_USED, 120),
                           (Column.GPU, 44), (Column.PORT, 64)):
            header.resizeSection(col, width)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        # an empty table says what to do next, instead of looking broken (first start, or a filter hiding all)
        self.empty_label = QLabel(self.table.viewport())
        self.empty_label.setObjectName("empty_hint")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setTextFormat(Qt.TextFormat.PlainText)
        self.empty_label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.empty_label.setStyleSheet("color: palette(placeholder-text); padding: 24px;")
        empty_layout = QVBoxLayout(self.table.viewport())
        empty_layout.addWidget(self.empty_label)
        self.empty_label.hide()
        layout.addWidget(self.table, 1)
        self.setCentralWidget(central)

    def _action(self, text: str, slot: Callable[[], None], *, icon: str = "", shortcuts: Iterable[QKeySequence | str] = (),
                tip: str = "", on_table: bool = False) -> QAction:
        act = QAction(text, self)
        if icon:
            act.setIcon(icons.icon(icon))
        keys = _unique_keys(shortcuts)
        if keys:
            act.setShortcuts(keys)
        if tip:
            act.setToolTip(tip + (f" ({keys[0].toString(QKeySequence.SequenceFormat.NativeText)})" if keys else ""))
            act.setStatusTip(tip)
        act.triggered.connect(lambda _checked=False: slot())
        if on_table:
            # keys that mean something while typing (Space, Del, Enter) act only when the table has focus
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.table.addAction(act)
        else:
            self.addAction(act)
        return act

    def _build_actions(self) -> None:
        self.act_add = QAction(icons.icon("add"), "Add", self)
        self.act_add.setToolTip("Add a backend")
        self.act_edit = self._action("Edit…", self._on_edit_triggered, icon="edit", on_table=True,
                                     shortcuts=(Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_F2),
                                     tip="Change the selected backend's title and settings")
        self.act_duplicate = self._action("Duplicate", self._on_duplicate_triggered, icon="duplicate",
                                          shortcuts=("Ctrl+D",), tip="Add a copy of each selected backend, on the next free GPU")
        self.act_delete = self._action("Delete…", self._on_delete_triggered, icon="delete", on_table=True,
                                       shortcuts=(QKeySequence.StandardKey.Delete,), tip="Delete the selected backends")
        self.act_toggle = self._action("Disable", self._on_toggle_triggered, icon="toggle", on_table=True,
                                       shortcuts=(Qt.Key.Key_Space,), tip="Enable or disable the selected backends")
        self.act_restart = self._action("Restart", self._on_restart_triggered, icon="restart", shortcuts=("Ctrl+R",),
                                        tip="Restart the selected backends")
        self.act_restart_all = self._action("Restart all", self._on_restart_all_triggered, shortcuts=("Ctrl+Shift+R",),
                                            tip="Restart every running or errored backend")
        self.act_free = self._action("Free VRAM", lambda: self._on_free_triggered(False), icon="free-memory",
                                     tip="Unload models from GPU memory (selected backends, or all when none is selected)")
        self.act_free_ram = self._action("Free VRAM + RAM", lambda: self._on_free_triggered(True),
                                         tip="Unload models from GPU memory and system memory")
        self.act_refresh = self._action("Refresh", self._on_refresh_triggered, icon="refresh",
                                        shortcuts=("F5",), tip="Read the backend list now")
        self.act_per_gpu = self._action("One backend per GPU", self._on_per_gpu_triggered, icon="gpu",
                                        tip="Add a ComfyUI self-starting backend for every GPU that has none")
        self.act_connect = self._action("Connect…", self._on_connect_triggered, shortcuts=("Ctrl+O",),
                                        tip="Manage this computer's backends or a SwarmUI server's")
        self.act_quit = self._action("Quit", self.close, shortcuts=(QKeySequence.StandardKey.Quit, "Ctrl+Q"))
        self.act_quit.setMenuRole(QAction.MenuRole.QuitRole)
        self.act_about = self._action("About", self._on_about_triggered)
        self.act_filter = self._action("Filter", self._on_filter_shortcut, shortcuts=(QKeySequence.StandardKey.Find,))
        self.add_menu = QMenu("Add", self)
        self.add_menu.setObjectName("add_menu")
        self.add_menu.aboutToShow.connect(self._on_add_menu_about_to_show)
        self.act_add.setMenu(self.add_menu)
        self._fill_add_menu()

    def _build_menus_and_toolbar(self) -> None:
        bar = self.menuBar()
        self.file_menu = bar.addMenu("&File")
        self.file_menu.addAction(self.act_connect)
        self.recent_menu = self.file_menu.addMenu("Recent connections")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.act_quit)
        self.backends_menu = bar.addMenu("&Backends")
        self.backends_menu.addMenu(self.add_menu)
        for act in (self.act_edit, self.act_duplicate, self.act_delete, None, self.act_toggle, self.act_restart,
                    self.act_restart_all, self.act_free, self.act_free_ram, None, self.act_per_gpu, None, self.act_refresh):
            if act is None:
                self.backends_menu.addSeparator()
            else:
                self.backends_menu.addAction(act)
        self.view_menu = bar.addMenu("&View")
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.act_about)

        tb = self.addToolBar("Actions")
        tb.setObjectName("actions_toolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.addAction(self.act_add)
        add_button = tb.widgetForAction(self.act_add)
        if isinstance(add_button, QToolButton):
            add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
            add_button.setObjectName("add_button")
        for act in (self.act_edit, self.act_duplicate, self.act_delete, None, self.act_toggle, self.act_restart,
                    self.act_free, None, self.act_refresh):
            if act is None:
                tb.addSeparator()
            else:
                tb.addAction(act)
        free_button = tb.widgetForAction(self.act_free)
        if isinstance(free_button, QToolButton):
            free_menu = QMenu(free_button)
            free_menu.addAction(self.act_free)
            free_menu.addAction(self.act_free_ram)
            free_button.setMenu(free_menu)
            free_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.toolbar = tb
        self.view_menu.addAction(tb.toggleViewAction())

    def _build_status_bar(self) -> None:
        self.status_label = QLabel("")
        self.status_label.setObjectName("status_summary")
        self.statusBar().addWidget(self.status_label, 1)
        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._update_status_text)

    def _build_docks(self) -> None:
        self.log_dock: QDockWidget | None = None
        self.gpu_dock: QDockWidget | None = None
        try:
            from .log_view import LogDock
        except ModuleNotFoundError as exc:  # C2's dock not there yet: the window works without it
            if exc.name != f"{__package__}.log_view":
                raise
        else:
            self.log_dock = LogDock(self)
            self.log_dock.setObjectName("log_dock")
            self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        try:
            from .gpu_view import GpuDock
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.gpu_view":
                raise
        else:
            self.gpu_dock = GpuDock(self)
            self.gpu_dock.setObjectName("gpu_dock")
            # beside the log, under the table: the table keeps the full width for its columns
            self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.gpu_dock)
            if self.log_dock is not None:
                self.splitDockWidget(self.log_dock, self.gpu_dock, Qt.Orientation.Horizontal)
        docks = [d for d in (self.log_dock, self.gpu_dock) if d is not None]
        for dock in docks:
            self.view_menu.addAction(dock.toggleViewAction())


    def _build_tray(self) -> None:
        self.tray: QSystemTrayIcon | None = None
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        self.tray = QSystemTrayIcon(icons.app_icon(), self)
        menu = QMenu(self)
        menu.addAction("Show window", self._on_tray_show)
        menu.addAction(self.act_refresh)
        menu.addSeparator()
        menu.addAction(self.act_quit)
        self.tray.setContextMenu(menu)
        self.tray.activated.connect(self._on_tray_activated)
        self.tray.show()

    # ================================================================== service
    def _new_poller(self, service: BackendService) -> Poller:
        poller = Poller(service, self, interval=self._poll_interval[0], max_interval=self._poll_interval[1])
        poller.prepare = self.backends_model.prepare
        poller.snapshot_received.connect(self._on_snapshot_received)
        poller.poll_failed.connect(self._on_poll_failed)
        return poller

    @property
    def is_embedded(self) -> bool:
        return is_embedded(self.service)

    def _attach(self, service: BackendService) -> None:
        self.service = service
        embedded = is_embedded(service)
        self.backends_model.set_details_provider(self._local_details if embedded else None)
        self.act_per_gpu.setVisible(embedded)
        for dock in (self.log_dock, self.gpu_dock):
            if dock is not None and hasattr(dock, "set_service"):
                dock.set_service(service)
        self._apply_service_layout()
        where = service.location
        # "<where> — Backend Manager": Qt appends the display name itself unless the title already ends with it
        self.setWindowTitle(f"{where} — Backend Manager")
        self._listen_to(service)
        self.status_label.setText(f"Connecting to {where}…")
        for warning in getattr(service, "warnings", None) or []:
            self.message_bar.show_info(str(warning))

    def _listen_to(self, service: BackendService | None) -> None:
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        self._listener_status = {}
        add_listener = getattr(service, "add_listener", None)
        if service is not None and callable(add_listener):
            self._unlisten = add_listener(self._on_local_status_changed)

    def _local_details(self, backend: Backend) -> tuple[str, str]:
        gpu = ",".join(sorted(_gpu_ids(backend), key=lambda s: (len(s), s)))
        port = ""
        try:
            details = self.service.details(backend.id)  # type: ignore[attr-defined]  # in memory, no I/O
        except BackendServiceError:
            details = None
        if details is not None:
            if getattr(details, "gpu_ids", None):
                gpu = ",".join(str(g) for g in details.gpu_ids)
            if getattr(details, "port", None):
                port = str(details.port)
        return gpu, port

    def start(self) -> None:
        """Begin polling and loading types; called on first show (the qasync loop is running by then)."""
        if self._started or self._shut_down:
            return
        self._started = True
        self.poller.start()
        self._load_types()

    def _load_types(self) -> None:
        if self._types_task is not None and not self._types_task.done():
            return
        self._types_task = self._spawn(self._fetch_types(), "Reading the backend types", quiet=True)

    async def _fetch_types(self) -> None:
        service = self.service
        try:
            types = await service.list_backend_types()
        except BackendServiceError as exc:
            log.info("could not read backend types from %s: %s", service.location, exc)
            return  # retried after the next successful poll
        if service is not self.service:
            return
        self.backend_types = {t.id: t for t in types}
        self.backends_model.set_type_names({t.id: t.name for t in types})
        self._fill_add_menu()

    def _spawn(self, coro: Awaitable[Any], what: str, *, quiet: bool = False) -> asyncio.Task[Any]:
        def _on_error(exc: BaseException) -> None:
            if isinstance(exc, BackendServiceError):
                if not quiet:
                    self.message_bar.show_error(f"{what}: {describe_error(exc, self.service.location)}")
                return
            raise exc  # a bug: to the loop's exception handler (logged and shown by the app, fails a test)

        task = spawn(coro, what=what, on_error=_on_error)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def shutdown(self) -> None:
        """Stop the poller, then close the service (the embedded manager stops its workers)."""
        if self._shut_down:
            return
        self._shut_down = True
        self._countdown.stop()
        self._listen_to(None)
        await self.poller.stop()
        await cancel_tasks(list(self._tasks))
        for dock in (self.log_dock, self.gpu_dock):
            if dock is not None:
                if hasattr(dock, "detach"):
                    dock.detach()  # stop following logs and unhook the log handler
                if hasattr(dock, "set_service"):
                    dock.set_service(None)
        try:
            await self.service.aclose()
        except BackendServiceError as exc:
            log.warning("closing %s: %s", self.service.location, exc)
        if self.tray is not None:
            self.tray.hide()

    async def switch_service(self, service: BackendService, profile: ConnectionProfile | None = None) -> None:
        """Talk to ``service`` from now on; the old one is closed. The one place the table is reset."""
        old = self.service
        await self.poller.stop()
        await cancel_tasks(list(self._tasks))
        self.poller.deleteLater()
        self.backend_types = {}
        self._busy.clear()
        self._previous_status = None
        self._unreachable_notice = False
        self.backends_model.set_type_names({})
        self.backends_model.clear()
        self.message_bar.dismiss()
        self._update_count()
        self.profile = profile
        self.poller = self._new_poller(service)
        was_embedded = is_embedded(old)
        self._attach(service)
        if self.gpu_dock is not None and self.is_embedded and not was_embedded:
            self.gpu_dock.show()  # hidden while on a server, which has no GPU report
        self._fill_add_menu()
        self._update_actions()
        if old is not service:
            try:
                await old.aclose()
            except BackendServiceError as exc:
                log.warning("closing %s: %s", old.location, exc)
        if profile is not None:
            self.profiles.remember(profile)
        self._started = False
        if self.isVisible():
            self.start()
        self.service_changed.emit(service)

    # ================================================================== snapshots and status
    def _on_snapshot_received(self, snapshot: dict[int, Backend]) -> None:
        if self._unreachable_notice:
            self._unreachable_notice = False
            self.message_bar.dismiss()
        self.backends_model.apply(snapshot)
        self._notify_new_errors(snapshot)
        if not self.backend_types:
            self._load_types()
        self._countdown.stop()
        self._update_status_text()
        self._update_count()
        self._update_actions()

    def _on_poll_failed(self, exc: BaseException) -> None:
        if not isinstance(exc, ServiceUnavailable):
            # the service answered but refused (a bad token, say): its own words
            self.message_bar.show_error(describe_error(exc, self.service.location))
        elif self.poller.last_snapshot is None and not self.message_bar.text():
            # never connected: an empty table alone would read as "no backends"
            self._unreachable_notice = True
            self.message_bar.show_error(
                f"{describe_error(exc, self.service.location)}\nRetrying automatically. "
                "File → Connect… chooses another server or this computer."
            )
        self._update_status_text()
        if not self._countdown.isActive():
            self._countdown.start()

    def _update_status_text(self) -> None:
        where = self.service.location
        if self.poller.reachable:
            if self.poller.last_snapshot is None:
                text = f"Connecting to {where}…"
            else:
                text = f"Connected to {where} — {status_summary(self.backends_model.backends().values())}"
        else:
            due = self.poller.next_poll_at
            if due is None:
                text = f"Cannot reach {where} — retrying now…"
            else:
                seconds = max(0, round(due - asyncio.get_event_loop().time()))
                text = f"Cannot reach {where} — retrying in {seconds} s" if seconds else f"Cannot reach {where} — retrying now…"
            if self.poller.last_error is not None:
                self.status_label.setToolTip(str(self.poller.last_error))
        self.status_label.setText(text)
        if self.tray is not None:
            self.tray.setToolTip(f"Backend Manager\n{text}")

    def _notify_new_errors(self, snapshot: dict[int, Backend]) -> None:
        previous = self._previous_status
        self._previous_status = {i: b.status for i, b in snapshot.items()}
        if previous is None or self._unlisten is not None:
            # what was already errored when we connected is in the table, not news; the embedded manager
            # tells us of each change itself (_on_local_status_changed), also while polling is paused
            return
        for backend_id, backend in snapshot.items():
            if backend.status is BackendStatus.ERRORED and previous.get(backend_id) not in (None, BackendStatus.ERRORED):
                self._notify_errored(backend)

    def _on_local_status_changed(self, backend: Backend) -> None:
        """The embedded manager's own change events: a crash is news even while the window is minimized."""
        before = self._listener_status.get(backend.id)
        if before is None:
            known = self.backends_model.backend(backend.id)
            before = known.status if known is not None else None
        self._listener_status[backend.id] = backend.status
        if backend.status is BackendStatus.ERRORED and before not in (None, BackendStatus.ERRORED):
            self._notify_errored(backend)

    def _notify_errored(self, backend: Backend) -> None:
        title = f"{self.backends_model.display_title(backend)} (#{backend.id}) errored"
        message = backend.status_message or "The backend stopped with an error."
        self.notifications.append((title, message))
        if self.tray is not None:
            self.tray.showMessage(title, message, QSystemTrayIcon.MessageIcon.Warning, 10_000)
        self.backend_errored.emit(title, message)

    # ================================================================== selection and enablement
    def selected_backends(self) -> list[Backend]:
        rows = self.table.selectionModel().selectedRows()
        out = [self.proxy.data(idx, BACKEND_ROLE) for idx in sorted(rows, key=lambda i: i.row())]
        return [b for b in out if b is not None]

    def select_backends(self, ids: Iterable[int]) -> None:
        sel = self.table.selectionModel()
        sel.clearSelection()
        first = True
        for backend_id in ids:
            row = self.backends_model.row_of(backend_id)
            if row is None:
                continue
            idx = self.proxy.mapFromSource(self.backends_model.index(row, 0))
            if not idx.isValid():
                continue
            flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
            if first:
                sel.setCurrentIndex(idx, flags)
                first = False
            else:
                sel.select(idx, flags)

    def _on_selection_changed(self, *_args: object) -> None:
        self._update_actions()
        if self.log_dock is not None and hasattr(self.log_dock, "show_backend"):
            chosen = self.selected_backends()
            self.log_dock.show_backend(chosen[0].id if chosen else None)

    def _update_actions(self) -> None:
        chosen = self.selected_backends()
        some = bool(chosen)
        idle = some and not any(b.id in self._busy for b in chosen)
        for act in (self.act_duplicate, self.act_delete, self.act_toggle, self.act_restart):
            act.setEnabled(idle)
        self.act_edit.setEnabled(idle and len(chosen) == 1 and chosen[0].id not in self._editing)
        self.act_free.setEnabled(not some or idle)
        self.act_free_ram.setEnabled(not some or idle)
        # with nothing selected they act on every backend: say so on the button
        self.act_free.setText("Free VRAM" if some else "Free VRAM (all)")
        self.act_free_ram.setText("Free VRAM + RAM" if some else "Free VRAM + RAM (all)")
        self.act_restart_all.setEnabled(self.backends_model.rowCount() > 0 and not self._busy)
        enable = some and not all(b.enabled for b in chosen)
        self.act_toggle.setText("Enable" if enable else "Disable")
        n = len(chosen)
        self.act_delete.setText(f"Delete {n} backends…" if n > 1 else "Delete…")

    def _set_busy(self, ids: Iterable[int], busy: bool) -> None:
        for backend_id in ids:
            if busy:
                self._busy.add(backend_id)
            else:
                self._busy.discard(backend_id)
            self.backends_model.set_busy(backend_id, busy)
        self._update_actions()

    def _names(self, backends: list[Backend], limit: int = 6) -> str:
        names = [f"“{self.backends_model.display_title(b)}” (#{b.id})" for b in backends[:limit]]
        if len(backends) > limit:
            names.append(f"and {len(backends) - limit} more")
        return ", ".join(names)

    async def _on_backends(
        self, verb: str, backends: list[Backend], op: Callable[[Backend], Awaitable[Any]]
    ) -> list[Any]:
        """Run ``op`` on each backend at once; their rows are busy until the refresh that follows."""
        ids = [b.id for b in backends]
        self._set_busy(ids, True)
        try:
            results = await asyncio.gather(*(op(b) for b in backends), return_exceptions=True)
            failed: dict[str, list[Backend]] = {}
            for b, r in zip(backends, results):
                if isinstance(r, BaseException):
                    if not isinstance(r, BackendServiceError):
                        raise r
                    failed.setdefault(describe_error(r, self.service.location), []).append(b)
            if failed:
                self.message_bar.show_error(
                    "\n".join(f"Could not {verb} {self._names(bs)}: {text}" for text, bs in failed.items())
                )
            await self.poller.refresh()
        finally:
            self._set_busy(ids, False)
        return list(results)

    async def _on_all(self, verb: str, op: Callable[[], Awaitable[Any]]) -> Any:
        """One request about every backend ("all"); every row is busy until the refresh after it."""
        ids = list(self.backends_model.backends())
        self._set_busy(ids, True)
        try:
            try:
                result = await op()
            except BackendServiceError as exc:
                self.message_bar.show_error(f"Could not {verb}: {describe_error(exc, self.service.location)}")
                result = None
            await self.poller.refresh()
        finally:
            self._set_busy(ids, False)
        return result

    # ================================================================== actions
    def _on_refresh_triggered(self) -> None:
        self._spawn(self.poller.refresh(), "Refresh")

    def _on_filter_changed(self, text: str) -> None:
        self.proxy.set_filter_text(text)
        self._update_count()

    def _update_count(self) -> None:
        total = self.backends_model.rowCount()
        shown = self.proxy.rowCount()
        if self.filter_edit.text().strip():
            # a filter hiding rows must be obvious, or backends look gone
            self.count_label.setText(f"Showing {shown} of {total} backends")
        else:
            self.count_label.setText(f"{total} backend{'s' if total != 1 else ''}")
        self._update_empty_hint(total, shown)

    def _update_empty_hint(self, total: int, shown: int) -> None:
        text = ""
        if shown == 0 and self.poller.last_snapshot is not None:
            needle = self.filter_edit.text().strip()
            if total and needle:
                text = f"No backend matches “{needle}”. Clear the filter (Esc) to see all {total}."
            elif not total and self.is_embedded:
                text = ("No backends yet.\n\n"
                        "Add → ComfyUI (self-starting): runs a ComfyUI on one of your GPUs (point it at its main.py).\n"
                        "Add → ComfyUI by URL: watches a ComfyUI you start yourself.\n"
                        "Backends → One backend per GPU: one self-starting ComfyUI for each NVIDIA GPU.")
            elif not total:
                text = "This server has no backends yet.\n\nAdd one with Add (the types are the server's)."
        self.empty_label.setText(text)
        self.empty_label.setVisible(bool(text))

    def _on_filter_shortcut(self) -> None:
        self.filter_edit.setFocus()
        self.filter_edit.selectAll()

    def _on_toggle_triggered(self) -> None:
        chosen = [b for b in self.selected_backends() if b.id not in self._busy]
        if not chosen:
            return
        enable = not all(b.enabled for b in chosen)
        self._spawn(self._toggle(chosen, enable), "Enable" if enable else "Disable")

    def _on_toggle_requested(self, backend_id: int, enabled: bool) -> None:
        backend = self.backends_model.backend(backend_id)
        if backend is not None and backend_id not in self._busy:
            self._spawn(self._toggle([backend], enabled), "Enable" if enabled else "Disable")

    async def _toggle(self, backends: list[Backend], enabled: bool) -> None:
        await self._on_backends("enable" if enabled else "disable", backends,
                                lambda b: self.service.toggle_backend(b.id, enabled))

    def _on_restart_triggered(self) -> None:
        chosen = [b for b in self.selected_backends() if b.id not in self._busy]
        if chosen:
            self._spawn(self._restart(chosen), "Restart")

    async def _restart(self, backends: list[Backend]) -> None:
        results = await self._on_backends("restart", backends, lambda b: self.service.restart_backends(b.id))
        restarted = sum(r for r in results if isinstance(r, int))
        if restarted == 0 and not any(isinstance(r, BaseException) for r in results):
            self.message_bar.show_info("Nothing was restarted: only running or errored backends restart.")
        else:
            self.statusBar().showMessage(f"Restarted {restarted} backend{'s' if restarted != 1 else ''}.", 5000)

    def _on_restart_all_triggered(self) -> None:
        self._spawn(self._restart_all(), "Restart all")

    async def _restart_all(self) -> None:
        count = await self._on_all("restart all backends", lambda: self.service.restart_backends("all"))
        if count is not None:
            self.statusBar().showMessage(f"Restarted {count} backend{'s' if count != 1 else ''}.", 5000)

    def _on_free_triggered(self, system_ram: bool) -> None:
        chosen = [b for b in self.selected_backends() if b.id not in self._busy]
        what = "Free VRAM + RAM" if system_ram else "Free VRAM"
        self._spawn(self._free(chosen, system_ram), what)

    async def _free(self, backends: list[Backend], system_ram: bool) -> None:
        what = "GPU and system memory" if system_ram else "GPU memory"
        if backends:
            results = await self._on_backends("free memory of", backends,
                                              lambda b: self.service.free_memory(system_ram=system_ram, backend=b.id))
            if any(isinstance(r, BaseException) for r in results):
                return
            count = sum(results)
        else:
            count = await self._on_all(f"free {what}", lambda: self.service.free_memory(system_ram=system_ram, backend="all"))
            if count is None:
                return
        if count == 0:
            self.message_bar.show_info(f"Nothing to free: no running backend held {what}.")
        else:
            self.statusBar().showMessage(f"Freed {what} on {count} backend{'s' if count != 1 else ''}.", 5000)

    def _on_delete_triggered(self) -> None:
        chosen = [b for b in self.selected_backends() if b.id not in self._busy]
        if chosen:
            self._spawn(self._delete(chosen), "Delete")

    async def _delete(self, backends: list[Backend]) -> None:
        n = len(backends)
        text = f"Delete {self._names(backends, limit=10)}?" if n == 1 else f"Delete these {n} backends?\n\n" + "\n".join(
            f"• {self.backends_model.display_title(b)} (#{b.id})" for b in backends[:15]
        ) + (f"\n• and {n - 15} more" if n > 15 else "")
        informative = "A running backend is stopped first. Its settings are gone for good."
        if not await ask(self, "Delete backends", text, accept="Delete", informative=informative,
                         icon=QMessageBox.Icon.Warning, object_name="confirm_delete"):
            return
        await self._on_backends("delete", backends, lambda b: self.service.delete_backend(b.id))

    def _on_row_double_clicked(self, index: QModelIndex) -> None:
        if index.column() == Column.ENABLED:
            return  # that click was for the check box
        backend = index.data(BACKEND_ROLE)
        if backend is not None and backend.id not in self._busy:
            self._spawn(self.edit_backend(backend), "Edit")

    def _on_edit_triggered(self) -> None:
        chosen = self.selected_backends()
        if len(chosen) == 1 and chosen[0].id not in self._busy:
            self._spawn(self.edit_backend(chosen[0]), "Edit")

    async def edit_backend(self, backend: Backend) -> Backend | None:
        """Open the edit dialog for ``backend``; the table shows the result once saved."""
        if backend.id in self._editing:
            return None
        from .dialogs import edit_backend_dialog

        btype = self.backend_types.get(backend.type)
        if btype is None and not self.backend_types:
            await self._fetch_types()
            btype = self.backend_types.get(backend.type)
        self._editing.add(backend.id)
        self._update_actions()
        try:
            edited = await edit_backend_dialog(self, self.service, backend, btype)
        finally:
            self._editing.discard(backend.id)
            self._update_actions()
        if edited is not None:
            chosen = [b.id for b in self.selected_backends()]
            await self.poller.refresh()
            now = [b.id for b in self.selected_backends()]
            # follow the edited row (its id may have moved), unless the person picked another row meanwhile
            if not now or now == chosen:
                self.select_backends([edited.id])
        return edited

    # ---- add -----------------------------------------------------------------------------------
    def _fill_add_menu(self) -> None:
        menu = self.add_menu
        menu.clear()
        types = list(self.backend_types.values())
        if not types:
            placeholder = menu.addAction("Reading backend types…")
            placeholder.setEnabled(False)
            return
        standard = [t for t in types if t.is_standard]
        advanced = [t for t in types if not t.is_standard]
        for t in standard:
            self._add_type_action(menu, t)
        if advanced:
            menu.addSeparator()
            sub = menu.addMenu(icons.icon("warning"), "Advanced")
            sub.setObjectName("advanced_menu")
            sub.setToolTipsVisible(True)
            for t in advanced:
                self._add_type_action(sub, t)
        menu.setToolTipsVisible(True)

    def _add_type_action(self, menu: QMenu, btype: BackendType) -> None:
        act = menu.addAction(btype.name)
        act.setObjectName(f"add_{btype.id}")
        act.setData(btype.id)
        first_line = btype.description.strip().splitlines()[0] if btype.description.strip() else ""
        act.setToolTip(first_line or btype.id)
        act.setStatusTip(first_line)
        act.triggered.connect(lambda _checked=False, t=btype: self._spawn(self.add_backend(t), f"Add {t.name}"))

    def _on_add_menu_about_to_show(self) -> None:
        if not self.backend_types:
            self._load_types()

    async def add_backend(self, btype: BackendType, *, edit: bool = True) -> Backend | None:
        """Add a backend of ``btype`` (asking first for an advanced type), then open it in the edit dialog."""
        if not btype.is_standard:
            ok = await ask(
                self, "Add an advanced backend",
                f"“{btype.name}” is for advanced users.",
                informative=(btype.description.strip() + "\n\n" if btype.description.strip() else "")
                + "It is not a standard backend type: it may need extra setup and can break generation if misconfigured.",
                accept="Add anyway", icon=QMessageBox.Icon.Warning, object_name="confirm_advanced",
            )
            if not ok:
                return None
        try:
            new = await self.service.add_backend(btype.id)
        except BackendServiceError as exc:
            self.message_bar.show_error(f"Could not add {btype.name}: {describe_error(exc, self.service.location)}")
            return None
        await self.poller.refresh()
        self.select_backends([new.id])
        if edit:
            return await self.edit_backend(self.backends_model.backend(new.id) or new) or new
        return new

    # ---- duplicate -----------------------------------------------------------------------------
    def _on_duplicate_triggered(self) -> None:
        chosen = [b for b in self.selected_backends() if b.id not in self._busy]
        if chosen:
            self._spawn(self._duplicate(chosen), "Duplicate")

    async def _known_gpu_ids(self) -> list[str] | None:
        """The GPUs of this computer (embedded manager), or None where they cannot be known."""
        if not self.is_embedded:
            return None
        report = await self.service.gpus()  # type: ignore[attr-defined]
        return [str(g.index) for g in report.gpus]

    async def _duplicate(self, backends: list[Backend]) -> None:
        gpus = await self._known_gpu_ids()
        used = set().union(*(_gpu_ids(b) for b in self.backends_model.backends().values()))
        made: list[str] = []

        async def one(source: Backend) -> Backend:
            settings = _copyable_settings(source.settings)
            gpu_note = ""
            if "GPU_ID" in source.settings and gpus != []:  # [] = no GPU detected: nothing to offer
                free = _next_free_gpu(used, gpus)
                if free is not None:
                    settings["GPU_ID"] = free
                    used.add(free)
                    gpu_note = f" on GPU {free}"
                else:
                    gpu_note = " on the same GPU (every GPU already has a backend)"
            new = await self.service.add_backend(source.type)
            title = f"{source.title} (copy)" if source.title else ""
            merged = {**new.settings, **settings}
            edited = await self.service.edit_backend(new.id, title, merged)
            made.append(f"#{edited.id} from #{source.id}{gpu_note}")
            return edited

        results = await self._on_backends("duplicate", backends, one)
        new_ids = [r.id for r in results if isinstance(r, Backend)]
        if made:
            self.statusBar().showMessage("Duplicated: " + "; ".join(made), 8000)
            self.select_backends(new_ids)
        if len(new_ids) == 1:
            # one copy: offer its settings (the GPU it was put on above all) for review, as Add does
            await self.poller.refresh()
            copy = self.backends_model.backend(new_ids[0])
            if copy is not None:
                await self.edit_backend(copy)

    # ---- one backend per GPU -------------------------------------------------------------------
    def _on_per_gpu_triggered(self) -> None:
        self._spawn(self.one_backend_per_gpu(), "One backend per GPU")

    async def one_backend_per_gpu(self) -> list[Backend]:
        if not self.is_embedded:
            return []
        report = await self.service.gpus()  # type: ignore[attr-defined]
        if not report.gpus:
            self.message_bar.show_info(f"No NVIDIA GPU detected{': ' + report.reason if report.reason else ''}.")
            return []
        existing = [b for b in self.backends_model.backends().values() if b.type == SELFSTART_TYPE]
        covered = set().union(*(_gpu_ids(b) for b in existing))
        missing = [g for g in report.gpus if str(g.index) not in covered]
        if not missing:
            self.message_bar.show_info("Every GPU already has a ComfyUI backend.")
            return []
        template = _copyable_settings(existing[0].settings) if existing else {}
        added: list[Backend] = []
        for gpu in missing:
            try:
                new = await self.service.add_backend(SELFSTART_TYPE)
                settings = {**new.settings, **template, "GPU_ID": str(gpu.index)}
                added.append(await self.service.edit_backend(new.id, f"GPU {gpu.index} ({gpu.name})", settings))
            except BackendServiceError as exc:
                self.message_bar.show_error(f"Could not add a backend for GPU {gpu.index}: {describe_error(exc, self.service.location)}")
                break
        await self.poller.refresh()
        if added:
            self.statusBar().showMessage(f"Added {len(added)} backend{'s' if len(added) != 1 else ''}, one per GPU.", 8000)
            self.select_backends([b.id for b in added])
        return added

    # ---- connections ---------------------------------------------------------------------------
    def _on_connect_triggered(self) -> None:
        self._spawn(self.connect_dialog(), "Connect")

    async def connect_dialog(self) -> bool:
        store = secret_store()
        current = self.profile
        has_token = current is not None and current.kind is ConnectionKind.SERVER and store.get(current.token_key) is not None
        dialog = ConnectDialog(self, current, has_token=has_token)
        try:
            if await wait_dialog(dialog) != ConnectDialog.DialogCode.Accepted:
                return False
            profile = dialog.profile()
            if profile.kind is ConnectionKind.LOCAL and current is not None and current.kind is ConnectionKind.LOCAL:
                profile = current  # keep the data folder this window was started with
            token = dialog.token()
        finally:
            dialog.deleteLater()
        if token is not None and profile.kind is ConnectionKind.SERVER:
            store.set(profile.token_key, token)
        return await self.connect_to(profile, token=token)

    async def connect_to(self, profile: ConnectionProfile, *, token: str | None = None) -> bool:
        """Switch to ``profile``: asks before stopping running local workers; False when it did not switch."""
        if profile == self.profile:
            return False
        if not await self._confirm_stop_workers("switch"):
            return False
        self.status_label.setText(f"Connecting to {profile.label}…")
        try:
            service = await self._connector(profile, token=token)
        except BackendServiceError as exc:
            self.message_bar.show_error(f"Could not connect to {profile.label}: {describe_error(exc)}")
            self._update_status_text()
            return False
        await self.switch_service(service, profile)
        return True

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.profiles.recent()
        if not recent:
            none = self.recent_menu.addAction("No recent connections")
            none.setEnabled(False)
        for profile in recent:
            act = self.recent_menu.addAction(profile.label)
            act.setCheckable(True)
            act.setChecked(profile == self.profile)
            act.triggered.connect(lambda _c=False, p=profile: self._spawn(self.connect_to(p), f"Connect to {p.label}"))

    # ---- quitting ------------------------------------------------------------------------------
    def live_backends(self) -> list[Backend]:
        return [b for b in self.backends_model.backends().values() if b.status in LIVE_STATUSES]

    async def _confirm_stop_workers(self, what: str) -> bool:
        """For the embedded manager with live workers, ask before stopping them."""
        if not self.is_embedded:
            return True
        live = self.live_backends()
        if not live:
            return True
        n = len(live)
        noun = f"{n} running backend{'s' if n != 1 else ''}"
        if what == "quit":
            question, button = f"Stop {noun} and quit?", "Stop and quit"
        else:
            question, button = f"Stop {noun} and switch connection?", "Stop and switch"
        return await ask(self, "Backends are running", question,
                         informative=f"These run on this computer: {self._names(live)}. They stop when the manager closes.",
                         accept=button, icon=QMessageBox.Icon.Warning, object_name="confirm_quit")

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._quit_confirmed or self._shut_down or not self.is_embedded or not self.live_backends():
            self._save_layout()
            event.accept()
            self.closed.emit()
            return
        event.ignore()
        self._spawn(self._ask_then_close(), "Quit")

    async def _ask_then_close(self) -> None:
        if await self._confirm_stop_workers("quit"):
            self._quit_confirmed = True
            self.close()

    # ---- misc ----------------------------------------------------------------------------------
    def _on_context_menu_requested(self, pos: QPoint) -> None:
        menu = QMenu(self)
        for act in (self.act_edit, self.act_duplicate, self.act_delete, None, self.act_toggle, self.act_restart,
                    self.act_free, self.act_free_ram, None, self.act_refresh):
            if act is None:
                menu.addSeparator()
            else:
                menu.addAction(act)
        menu.addMenu(self.add_menu)
        menu.aboutToHide.connect(menu.deleteLater)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _on_about_triggered(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "About Backend Manager",
                          f"Backend Manager {__version__}\n\nSee and run the GPU backends of a SwarmUI server or of this computer.",
                          QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _on_tray_show(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def _on_tray_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self._on_tray_show()

    # ---- visibility drives polling -------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._started:
            self.start()
        elif not self.isMinimized():
            self.poller.resume()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        if not event.spontaneous():
            self.poller.pause()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.WindowStateChange:
            if self.isMinimized():
                self.poller.pause()
            elif self.isVisible():
                self.poller.resume()

    # ---- layout persistence --------------------------------------------------------------------
    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 700)
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        else:
            docks = [d for d in (self.log_dock, self.gpu_dock) if d is not None]
            if docks:
                # the table is what people come for: the docks start low
                self.resizeDocks(docks[:1], [190], Qt.Orientation.Vertical)
            if len(docks) == 2:
                self.resizeDocks(docks, [780, 400], Qt.Orientation.Horizontal)
        header = self.settings.value("table/header")
        if isinstance(header, QByteArray) and not header.isEmpty():
            self.table.horizontalHeader().restoreState(header)
        # restoreState may have brought back columns and docks this service cannot fill
        self._apply_service_layout()

    def _apply_service_layout(self) -> None:
        embedded = self.is_embedded
        for col in LOCAL_ONLY_COLUMNS:
            self.table.setColumnHidden(col, not embedded)
        for col in REMOTE_ONLY_COLUMNS:
            self.table.setColumnHidden(col, embedded)
        # the spare width goes to the long text each kind of service fills: our manager's reasons, a server's models
        header = self.table.horizontalHeader()
        stretch, other = (Column.DETAILS, Column.MODEL) if embedded else (Column.MODEL, Column.DETAILS)
        header.setSectionResizeMode(other, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
        if self.gpu_dock is not None:
            self.gpu_dock.toggleViewAction().setVisible(embedded)
            if not embedded:
                self.gpu_dock.hide()

    def _save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("table/header", self.table.horizontalHeader().saveState())
        self.settings.sync()


def _unique_keys(shortcuts: Iterable[QKeySequence | QKeySequence.StandardKey | str | Qt.Key]) -> list[QKeySequence]:
    """Expand standard keys and drop duplicates: Qt ignores a shortcut bound twice on one action as "ambiguous"
    (on X11 StandardKey.Quit is Ctrl+Q, so Quit + "Ctrl+Q" made Ctrl+Q do nothing)."""
    out: dict[str, QKeySequence] = {}
    for key in shortcuts:
        seqs = QKeySequence.keyBindings(key) if isinstance(key, QKeySequence.StandardKey) else [QKeySequence(key)]
        for seq in seqs:
            text = seq.toString()
            if text and text not in out:
                out[text] = seq
    return list(out.values())


def _next_free_gpu(used: set[str], gpus: list[str] | None) -> str | None:
    """The lowest GPU no backend uses: among ``gpus`` when known, else one past the highest in use."""
    if gpus is not None:
        for g in gpus:
            if g not in used:
                return g
        return None
    numbers = [int(u) for u in used if u.isdigit()]
    return str(max(numbers) + 1) if numbers else None
