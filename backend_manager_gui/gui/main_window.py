"""The main window: lays out the backends table, the menus and toolbar, the status bar and the docks, and
keeps them in step with the service it talks to. What each action does lives in ``gui/actions/``.

Nothing here waits on I/O: actions are coroutines started with ``ActionContext.spawn()``, rows with a request in
flight show a busy icon and cannot be acted on until the answer, and the poller refreshes at once after.

The window is built in two steps so that start-up paints it before importing most of the app
(docs/PERFORMANCE.md, P3): ``MainWindow(None, profile=...)`` is the frame (the table with its columns and saved
widths, the filter box, the status bar, the saved geometry), which needs only this module, the table's model and
view; ``complete(service)`` adds the rest (actions, menus, toolbar, docks, tray, polling). ``MainWindow(service)``
does both at once. The modules only the second step needs are imported in the methods that use them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEventLoop, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QMainWindow, QVBoxLayout, QWidget

from .. import __version__
from ..core.errors import BackendServiceError, ServiceUnavailable
from ..core.status import BackendStatus
from .backends_model import BackendsModel
from .backends_view import BackendsView
from .profiles import ConnectionKind, ConnectionProfile, ProfileStore

if TYPE_CHECKING:
    from PySide6.QtCore import QEvent, QPoint
    from PySide6.QtGui import QAction, QCloseEvent, QHideEvent, QPaintEvent, QShowEvent
    from PySide6.QtWidgets import QMenu, QSystemTrayIcon

    from ..core.models import Backend, BackendType
    from ..core.service import BackendService
    from .actions import Connector
    from .message_bar import MessageBar
    from .poller import Poller

log = logging.getLogger(__name__)

#: Order of the status summary ("3 running · 1 loading · 1 errored").
SUMMARY_ORDER = (BackendStatus.RUNNING, BackendStatus.IDLE, BackendStatus.LOADING, BackendStatus.WAITING,
                 BackendStatus.ERRORED, BackendStatus.DISABLED)


def status_summary(backends: Iterable[Backend]) -> str:
    counts: dict[BackendStatus, int] = {}
    for b in backends:
        counts[b.status] = counts.get(b.status, 0) + 1
    if not counts:
        return "no backends yet"
    return " · ".join(f"{counts[s]} {s.value}" for s in SUMMARY_ORDER if counts.get(s))


class MainWindow(QMainWindow):
    """``MainWindow(service)``; its table model is ``backends_model``."""

    #: The window now talks to another service (after File → Connect…).
    service_changed = Signal(object)
    #: A backend went to errored: (title, message) — also a desktop notification when there is a tray.
    backend_errored = Signal(str, str)
    #: The window was closed for good (after any question about running workers).
    closed = Signal()

    #: The window has painted for the first time (start-up waits for it before importing the rest).
    first_painted = Signal()

    def __init__(
        self,
        service: BackendService | None,
        *,
        settings: QSettings | None = None,
        profile: ConnectionProfile | None = None,
        connector: Connector | None = None,
        poll_interval: float = 2.0,
        max_poll_interval: float = 10.0,
        parent: QWidget | None = None,
    ) -> None:
        """The window on ``service``; with None, only its frame until ``complete(service)`` (start-up)."""
        super().__init__(parent)
        self.setObjectName("main_window")
        self.settings = settings if settings is not None else QSettings()
        self.profiles = ProfileStore(self.settings)
        self._poll_interval = (poll_interval, max_poll_interval)
        self._started = False
        self._shut_down = False
        self._quit_confirmed = False
        self._unreachable_notice = False
        self._complete = False
        #: when the window first painted (``time.perf_counter()``), None before
        self.first_painted_at: float | None = None
        #: (title, message) of each "backend errored" notification shown
        self.notifications: list[tuple[str, str]] = []

        # ---- the frame: what the first paint shows -----------------------------------------------
        self.backends_model = BackendsModel(self)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        self._central, self._central_layout = central, layout  # the message bar goes on top in complete()
        self.view = BackendsView(self.backends_model, central)
        layout.addWidget(self.view, 1)
        self.setCentralWidget(central)
        self.proxy, self.table, self.filter_edit = self.view.proxy, self.view.table, self.view.filter_edit
        self.count_label = self.view.count_label
        self._build_status_bar()
        self._restore_frame_layout()
        # until the service is open: where the window is going, in its title, columns and status line
        embedded = profile is None or profile.kind is ConnectionKind.LOCAL
        where = "this computer" if embedded or profile is None else profile.target
        self.setWindowTitle(f"{where} — Backend Manager")
        self.view.show_columns_for(embedded)
        self.status_label.setText(f"Opening {where}…" if embedded else f"Connecting to {where}…")
        if service is not None:
            self.complete(service, profile, connector=connector)

    def complete(self, service: BackendService, profile: ConnectionProfile | None = None, *,
                 connector: Connector | None = None) -> None:
        """Everything the frame lacks, on ``service``: actions, menus, toolbar, docks, tray, polling."""
        from PySide6.QtGui import QAction, QKeySequence

        from . import icons
        from .actions import ActionContext, BackendActions, ConnectActions, make_action
        from .connections import open_service
        from .error_watch import ErrorWatch
        from .message_bar import MessageBar

        self.setWindowIcon(icons.app_icon())
        self.message_bar: MessageBar = MessageBar(self._central)
        self._central_layout.insertWidget(0, self.message_bar)
        self.error_watch = ErrorWatch(self._shown_status, self._notify_errored)
        self.table.customContextMenuRequested.connect(self._on_context_menu_requested)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)

        self.ctx = ActionContext(self, self.view, self.message_bar, service, profile, self._new_poller(service))
        self.connect_actions = ConnectActions(self.ctx, self.profiles, connector or open_service, self.switch_service,
                                              self._show_status)
        self.backend_actions = BackendActions(self.ctx, self.connect_actions)
        a = self.backend_actions
        self.act_add, self.act_edit, self.act_duplicate, self.act_delete = a.act_add, a.act_edit, a.act_duplicate, a.act_delete
        self.act_toggle, self.act_restart, self.act_restart_all = a.act_toggle, a.act_restart, a.act_restart_all
        self.act_free, self.act_free_ram, self.act_refresh = a.act_free, a.act_free_ram, a.act_refresh
        self.act_per_gpu, self.act_connect, self.add_menu = a.act_per_gpu, a.act_connect, a.add_menu
        self.act_quit = make_action(self, "Quit", self.close, shortcuts=(QKeySequence.StandardKey.Quit, "Ctrl+Q"))
        self.act_quit.setMenuRole(QAction.MenuRole.QuitRole)
        self.act_about = make_action(self, "About", self._on_about_triggered)
        self.act_filter = make_action(self, "Filter", self.view.focus_filter, shortcuts=(QKeySequence.StandardKey.Find,))
        self._build_menus_and_toolbar()
        self._build_docks()
        self._build_tray()
        self._attach(service)
        self._restore_layout()
        self.backend_actions.update()
        self._complete = True
        if self.isVisible() and not self.isMinimized():
            self.start()

    @property
    def empty_label(self) -> QLabel:
        """The hint an empty table shows (made when first needed)."""
        return self.view.empty_label

    @property
    def is_complete(self) -> bool:
        """``complete()`` has run: the window has its service, actions and docks."""
        return self._complete

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.first_painted_at is None:
            self.first_painted_at = time.perf_counter()
            self.first_painted.emit()

    def wait_until_painted(self, timeout_s: float = 0.5) -> bool:
        """Let Qt show and paint the window (at most ``timeout_s``; no input is handled meanwhile): start-up
        calls it before importing the rest, so the person sees the window, not an empty frame, meanwhile."""
        if self.first_painted_at is None:
            loop = QEventLoop(self)
            self.first_painted.connect(loop.quit)
            QTimer.singleShot(int(timeout_s * 1000), loop.quit)
            loop.exec(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
            self.first_painted.disconnect(loop.quit)
            loop.deleteLater()
        return self.first_painted_at is not None

    # ================================================================== building
    def _build_menus_and_toolbar(self) -> None:
        from PySide6.QtWidgets import QMenu, QToolButton

        bar = self.menuBar()
        self.file_menu = bar.addMenu("&File")
        self.file_menu.addAction(self.act_connect)
        self.recent_menu = self.file_menu.addMenu("Recent connections")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.act_quit)
        self.backends_menu = bar.addMenu("&Backends")
        self.backends_menu.addMenu(self.add_menu)
        _add_all(self.backends_menu, (self.act_edit, self.act_duplicate, self.act_delete, None, self.act_toggle,
                                      self.act_restart, self.act_restart_all, self.act_free, self.act_free_ram, None,
                                      self.act_per_gpu, None, self.act_refresh))
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
        from .gpu_view import GpuDock
        from .log_view import LogDock

        self.log_dock = LogDock(self)
        self.log_dock.setObjectName("log_dock")
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.gpu_dock = GpuDock(self)
        self.gpu_dock.setObjectName("gpu_dock")
        # beside the log, under the table: the table keeps the full width for its columns
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.gpu_dock)
        self.splitDockWidget(self.log_dock, self.gpu_dock, Qt.Orientation.Horizontal)
        for dock in (self.log_dock, self.gpu_dock):
            self.view_menu.addAction(dock.toggleViewAction())

    def _build_tray(self) -> None:
        from PySide6.QtWidgets import QMenu, QSystemTrayIcon

        self.tray: QSystemTrayIcon | None = None
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        from . import icons

        self.tray = QSystemTrayIcon(icons.app_icon(), self)
        menu = QMenu(self)
        menu.addAction("Show window", self._on_tray_show)
        menu.addAction(self.act_refresh)
        menu.addSeparator()
        menu.addAction(self.act_quit)
        self.tray.setContextMenu(menu)
        self.tray.activated.connect(self._on_tray_activated)
        self.tray.show()

    # ================================================================== the service
    @property
    def service(self) -> BackendService:
        return self.ctx.service

    @property
    def profile(self) -> ConnectionProfile | None:
        return self.ctx.profile

    @property
    def poller(self) -> Poller:
        return self.ctx.poller

    @property
    def backend_types(self) -> dict[str, BackendType]:
        return self.ctx.types

    @property
    def is_embedded(self) -> bool:
        from .tasks import is_embedded

        return is_embedded(self.service)

    def _new_poller(self, service: BackendService) -> Poller:
        from .poller import Poller

        poller = Poller(service, self, interval=self._poll_interval[0], max_interval=self._poll_interval[1])
        poller.prepare = self.backends_model.prepare
        poller.snapshot_received.connect(self._on_snapshot_received)
        poller.poll_failed.connect(self._on_poll_failed)
        return poller

    def _attach(self, service: BackendService) -> None:
        from .tasks import is_embedded, service_warnings

        embedded = is_embedded(service)
        self.backends_model.set_details_provider(self._local_details if embedded else None)
        self.act_per_gpu.setVisible(embedded)
        self.log_dock.set_service(service)
        self.gpu_dock.set_service(service)
        self._apply_service_layout()
        where = service.location
        # "<where> — Backend Manager": Qt appends the display name itself unless the title already ends with it
        self.setWindowTitle(f"{where} — Backend Manager")
        self.error_watch.watch(service)
        self.status_label.setText(f"Connecting to {where}…")
        for warning in service_warnings(service):
            self.message_bar.show_info(warning)

    def _local_details(self, backend: Backend) -> tuple[str, str]:
        """The GPU and port columns of the embedded manager's rows (its details are in memory: no I/O)."""
        from ..core.fleet import gpu_text
        from .tasks import worker_host

        host = worker_host(self.service)
        try:
            details = host.details(backend.id) if host is not None else None
        except BackendServiceError:
            details = None
        return gpu_text(backend.settings), str(details.port) if details is not None and details.port else ""

    def start(self) -> None:
        """Begin polling and loading types; called on first show (the qasync loop is running by then)."""
        if self._started or self._shut_down:
            return
        self._started = True
        self.poller.start()
        self.ctx.request_types()

    async def shutdown(self) -> None:
        """Stop the poller, then close the service (the embedded manager stops its workers)."""
        if self._shut_down:
            return
        self._shut_down = True
        self._countdown.stop()
        if not self._complete:
            return  # closed while still opening: no service yet
        from .tasks import cancel_tasks

        self.error_watch.watch(None)
        await self.poller.stop()
        await cancel_tasks(list(self.ctx.tasks))
        self.log_dock.detach()  # stop following logs and unhook the log handler
        for dock in (self.log_dock, self.gpu_dock):
            dock.set_service(None)
        try:
            await self.service.aclose()
        except BackendServiceError as exc:
            log.warning("closing %s: %s", self.service.location, exc)
        if self.tray is not None:
            self.tray.hide()

    async def switch_service(self, service: BackendService, profile: ConnectionProfile | None = None) -> None:
        """Talk to ``service`` from now on; the old one is closed. The one place the table is reset."""
        from .tasks import cancel_tasks, is_embedded

        old = self.service
        await self.poller.stop()
        await cancel_tasks(list(self.ctx.tasks))
        self.poller.deleteLater()
        self._unreachable_notice = False
        self.backends_model.set_type_names({})
        self.backends_model.clear()
        self.message_bar.dismiss()
        self._update_count()
        was_embedded = is_embedded(old)
        self.ctx.reset(service, profile, self._new_poller(service))
        self._attach(service)
        if self.is_embedded and not was_embedded:
            self.gpu_dock.show()  # hidden while on a server, which has no GPU report
        self.backend_actions.update()
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
        self.error_watch.saw(snapshot)
        if not self.backend_types:
            self.ctx.request_types()
        self._countdown.stop()
        self._update_status_text()
        self._update_count()
        self.backend_actions.update()

    def _on_poll_failed(self, exc: BaseException) -> None:
        from .tasks import describe_error

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

    def _show_status(self, text: str | None) -> None:
        """A passing line in the status bar (``Connecting to …``); None puts back the usual one."""
        if text is None:
            self._update_status_text()
        else:
            self.status_label.setText(text)

    def _update_status_text(self) -> None:
        where = self.service.location
        if self.poller.reachable:
            if self.poller.last_snapshot is None:
                text = f"Connecting to {where}…"
            else:
                text = f"Connected to {where} — {status_summary(self.backends_model.backends().values())}"
        else:
            import asyncio

            due = self.poller.next_poll_at
            seconds = 0 if due is None else max(0, round(due - asyncio.get_event_loop().time()))
            text = f"Cannot reach {where} — retrying in {seconds} s" if seconds else f"Cannot reach {where} — retrying now…"
            if self.poller.last_error is not None:
                self.status_label.setToolTip(str(self.poller.last_error))
        self.status_label.setText(text)
        if self.tray is not None:
            self.tray.setToolTip(f"Backend Manager\n{text}")

    def _update_count(self) -> None:
        self.view.loaded = self.poller.last_snapshot is not None
        self.view.update_count()

    def _shown_status(self, backend_id: int) -> BackendStatus | None:
        known = self.backends_model.backend(backend_id)
        return known.status if known is not None else None

    def _notify_errored(self, backend: Backend) -> None:
        title = f"{self.backends_model.display_title(backend)} (#{backend.id}) errored"
        message = backend.status_message or "The backend stopped with an error."
        self.notifications.append((title, message))
        if self.tray is not None:
            from PySide6.QtWidgets import QSystemTrayIcon

            self.tray.showMessage(title, message, QSystemTrayIcon.MessageIcon.Warning, 10_000)
        self.backend_errored.emit(title, message)

    # ================================================================== selection
    def selected_backends(self) -> list[Backend]:
        return self.view.selected_backends()

    def select_backends(self, ids: Iterable[int]) -> None:
        self.view.select_backends(ids)

    def live_backends(self) -> list[Backend]:
        from ..core.fleet import live

        return live(self.backends_model.backends().values())

    def _on_selection_changed(self, *_args: object) -> None:
        self.backend_actions.update()
        chosen = self.selected_backends()
        self.log_dock.show_backend(chosen[0].id if chosen else None)

    def _fill_recent_menu(self) -> None:
        self.connect_actions.fill_recent_menu(self.recent_menu)

    def _on_context_menu_requested(self, pos: QPoint) -> None:
        from PySide6.QtWidgets import QMenu

        menu = QMenu(self)
        _add_all(menu, (self.act_edit, self.act_duplicate, self.act_delete, None, self.act_toggle, self.act_restart,
                        self.act_free, self.act_free_ram, None, self.act_refresh))
        menu.addMenu(self.add_menu)
        menu.aboutToHide.connect(menu.deleteLater)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    # ================================================================== quitting, about, tray
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._complete:  # closed while still opening: nothing runs yet, and the layout is not all there
            event.accept()
            self.closed.emit()
            return
        if self._quit_confirmed or self._shut_down or not self.is_embedded or not self.live_backends():
            self._save_layout()
            event.accept()
            self.closed.emit()
            return
        event.ignore()
        self.ctx.spawn(self._ask_then_close(), "Quit")

    async def _ask_then_close(self) -> None:
        from .actions import confirm_stop_workers

        if await confirm_stop_workers(self.ctx, "quit"):
            self._quit_confirmed = True
            self.close()

    def _on_about_triggered(self) -> None:
        from PySide6.QtWidgets import QMessageBox

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
        from PySide6.QtWidgets import QSystemTrayIcon

        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self._on_tray_show()

    # ---- visibility drives polling -------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._complete:
            return  # complete() starts polling
        if not self._started:
            self.start()
        elif not self.isMinimized():
            self.poller.resume()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        if self._complete and not event.spontaneous():
            self.poller.pause()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if not self._complete:
            return
        from PySide6.QtCore import QEvent

        if event.type() == QEvent.Type.WindowStateChange:
            if self.isMinimized():
                self.poller.pause()
            elif self.isVisible():
                self.poller.resume()

    # ---- layout persistence --------------------------------------------------------------------
    def _restore_frame_layout(self) -> None:
        """The window's size and place, and the table's columns: before the first paint."""
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 700)
        header = self.settings.value("table/header")
        if isinstance(header, QByteArray) and not header.isEmpty():
            self.table.horizontalHeader().restoreState(header)

    def _restore_layout(self) -> None:
        """The toolbar and docks, once they exist."""
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        else:
            # the table is what people come for: the docks start low
            self.resizeDocks([self.log_dock], [190], Qt.Orientation.Vertical)
            self.resizeDocks([self.log_dock, self.gpu_dock], [780, 400], Qt.Orientation.Horizontal)
        # restoreState may have brought back columns and docks this service cannot fill
        self._apply_service_layout()

    def _apply_service_layout(self) -> None:
        embedded = self.is_embedded
        self.view.show_columns_for(embedded)
        self.gpu_dock.toggleViewAction().setVisible(embedded)
        if not embedded:
            self.gpu_dock.hide()

    def _save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("table/header", self.table.horizontalHeader().saveState())
        self.settings.sync()


def _add_all(menu: QMenu, actions: Iterable[QAction | None]) -> None:
    """Add ``actions`` to ``menu`` in order, a separator for each None."""
    for act in actions:
        if act is None:
            menu.addSeparator()
        else:
            menu.addAction(act)
