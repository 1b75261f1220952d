"""The main window: lays out the backends table, the menus and toolbar, the status bar and the docks, and
keeps them in step with the service it talks to. What each action does lives in ``gui/actions/``.

Nothing here waits on I/O: actions are coroutines started with ``ActionContext.spawn()``, rows with a request in
flight show a busy icon and cannot be acted on until the answer, and the poller refreshes at once after.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from PySide6.QtCore import QByteArray, QEvent, QPoint, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QHideEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSystemTrayIcon,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from ..core.errors import BackendServiceError, ServiceUnavailable
from ..core.fleet import live
from ..core.links import worker_link
from ..core.models import Backend, BackendStatus, BackendType
from ..core.service import BackendService
from . import icons
from .actions import (
    ActionContext,
    BackendActions,
    ConnectActions,
    Connector,
    confirm_stop_workers,
    make_action,
)
from .backends_model import BackendsModel
from .backends_view import BackendsView
from .connections import ConnectionProfile, ProfileStore, open_service
from .error_watch import ErrorWatch
from .gpu_view import GpuDock
from .local_columns import LocalColumns
from .log_reasons import LogReasons
from .log_view import LogDock
from .message_bar import MessageBar
from .poller import Poller
from .status_line import connection_status
from .tasks import (
    cancel_tasks,
    describe_error,
    is_embedded,
    service_warnings,
)

log = logging.getLogger(__name__)

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
        self._poll_interval = (poll_interval, max_poll_interval)
        self._started = False
        self._shut_down = False
        self._quit_confirmed = False
        self._unreachable_notice = False
        #: (title, message) of each "backend errored" notification shown
        self.notifications: list[tuple[str, str]] = []

        self.backends_model = BackendsModel(self)
        self.error_watch = ErrorWatch(self._shown_status, self._notify_errored)
        self.log_reasons = LogReasons(self.backends_model.set_reason)  # Details from the log when none given
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        self.message_bar = MessageBar(central)
        layout.addWidget(self.message_bar)
        self.view = BackendsView(self.backends_model, central)
        layout.addWidget(self.view, 1)
        self.setCentralWidget(central)
        self.proxy, self.table, self.filter_edit = self.view.proxy, self.view.table, self.view.filter_edit
        self.count_label, self.empty_label = self.view.count_label, self.view.empty_label
        self.table.customContextMenuRequested.connect(self._on_context_menu_requested)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)

        self.ctx = ActionContext(self, self.view, self.message_bar, service, profile, self._new_poller(service))
        self.connect_actions = ConnectActions(self.ctx, self.profiles, connector, self.switch_service, self._show_status)
        self.backend_actions = BackendActions(self.ctx, self.connect_actions)
        a = self.backend_actions
        self.act_add, self.act_edit, self.act_duplicate, self.act_delete = a.act_add, a.act_edit, a.act_duplicate, a.act_delete
        self.act_toggle, self.act_restart, self.act_restart_all = a.act_toggle, a.act_restart, a.act_restart_all
        self.act_free, self.act_free_ram, self.act_refresh = a.act_free, a.act_free_ram, a.act_refresh
        self.act_per_gpu, self.act_connect, self.add_menu = a.act_per_gpu, a.act_connect, a.add_menu
        self.act_open, self.act_copy_url, self.act_models_folder = a.act_open, a.act_copy_url, a.act_models_folder
        self.local_columns = LocalColumns(self.backends_model)  # GPU and Port cells of this computer's workers
        self.act_quit = make_action(self, "Quit", self.close, shortcuts=(QKeySequence.StandardKey.Quit, "Ctrl+Q"))
        self.act_quit.setMenuRole(QAction.MenuRole.QuitRole)
        self.act_about = make_action(self, "About", self._on_about_triggered)
        self.act_filter = make_action(self, "Filter", self.view.focus_filter, shortcuts=(QKeySequence.StandardKey.Find,))
        self._build_menus_and_toolbar()
        self._build_status_bar()
        self._build_docks()
        self._build_tray()
        self._attach(service)
        self._restore_layout()
        self.backend_actions.update()

    # ================================================================== building
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
        _add_all(self.backends_menu, (self.act_edit, self.act_duplicate, self.act_delete, None, self.act_toggle,
                                      self.act_restart, self.act_restart_all, self.act_free, self.act_free_ram, None,
                                      self.act_open, self.act_copy_url, self.act_models_folder, None,
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
                    self.act_free, None, self.act_open, None, self.act_refresh):
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
        self.log_dock = LogDock(self)
        self.log_dock.setObjectName("log_dock")
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.gpu_dock = GpuDock(self)
        self.gpu_dock.setObjectName("gpu_dock")
        self.gpu_dock.report_received.connect(self.local_columns.on_gpu_report)
        # beside the log, under the table: the table keeps the full width for its columns
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.gpu_dock)
        self.splitDockWidget(self.log_dock, self.gpu_dock, Qt.Orientation.Horizontal)
        for dock in (self.log_dock, self.gpu_dock):
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
        return is_embedded(self.service)

    def _new_poller(self, service: BackendService) -> Poller:
        poller = Poller(service, self, interval=self._poll_interval[0], max_interval=self._poll_interval[1])
        poller.prepare = self.backends_model.prepare
        poller.snapshot_received.connect(self._on_snapshot_received)
        poller.poll_failed.connect(self._on_poll_failed)
        return poller

    def _attach(self, service: BackendService) -> None:
        embedded = is_embedded(service)
        self.local_columns.attach(service)
        served_from = None if embedded else service.location
        self.backends_model.set_link_provider(lambda b: worker_link(b, served_from))
        self.act_per_gpu.setVisible(embedded)
        self.log_dock.set_service(service)
        self.log_reasons.set_service(service)
        self.gpu_dock.set_service(service)
        self._apply_service_layout()
        where = service.location
        # "<where> — Backend Manager": Qt appends the display name itself unless the title already ends with it
        self.setWindowTitle(f"{where} — Backend Manager")
        self.error_watch.watch(service)
        self.status_label.setText(f"Connecting to {where}…")
        for warning in service_warnings(service):
            self.message_bar.show_info(warning)

    def start(self) -> None:
        """Begin polling and loading types; called on first show (the qasync loop is running by then)."""
        if self._started or self._shut_down:
            return
        self._started = True
        self.poller.start()
        self.ctx.request_types()
        if self.is_embedded:
            # the GPU column names the GPUs even while the GPUs dock (which reads them every few seconds) is closed
            self.ctx.spawn(self.local_columns.read_gpu_names(), "Reading the GPUs", quiet=True)

    async def shutdown(self) -> None:
        """Stop the poller, then close the service (the embedded manager stops its workers)."""
        if self._shut_down:
            return
        self._shut_down = True
        self._countdown.stop()
        self.error_watch.watch(None)
        await self.poller.stop()
        await cancel_tasks(list(self.ctx.tasks))
        self.log_dock.detach()  # stop following logs and unhook the log handler
        self.log_reasons.set_service(None)
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
        self._save_header()  # the widths the person chose for the kind of connection being left
        self.ctx.reset(service, profile, self._new_poller(service))
        self._attach(service)
        self._restore_header()
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
        self.log_reasons.saw(snapshot)
        if not self.backend_types:
            self.ctx.request_types()
        self._countdown.stop()
        self._update_status_text()
        self._update_count()
        self.backend_actions.update()

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

    def _show_status(self, text: str | None) -> None:
        """A passing line in the status bar (``Connecting to …``); None puts back the usual one."""
        if text is None:
            self._update_status_text()
        else:
            self.status_label.setText(text)

    def _update_status_text(self) -> None:
        text, tooltip = connection_status(self.service.location, self.poller, self.backends_model.backends().values())
        self.status_label.setText(text)
        self.status_label.setToolTip(tooltip)
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
            self.tray.showMessage(title, message, QSystemTrayIcon.MessageIcon.Warning, 10_000)
        self.backend_errored.emit(title, message)

    # ================================================================== selection
    def selected_backends(self) -> list[Backend]:
        return self.view.selected_backends()

    def select_backends(self, ids: Iterable[int]) -> None:
        self.view.select_backends(ids)

    def live_backends(self) -> list[Backend]:
        return live(self.backends_model.backends().values())

    def _on_selection_changed(self, *_args: object) -> None:
        self.backend_actions.update()
        chosen = self.selected_backends()
        if chosen:
            self.log_dock.show_backend(chosen[0].id, self.backends_model.display_title(chosen[0]))
        else:
            self.log_dock.show_backend(None)

    def _fill_recent_menu(self) -> None:
        self.connect_actions.fill_recent_menu(self.recent_menu)

    def _on_context_menu_requested(self, pos: QPoint) -> None:
        menu = QMenu(self)
        _add_all(menu, (self.act_edit, self.act_duplicate, self.act_delete, None, self.act_toggle, self.act_restart,
                        self.act_free, self.act_free_ram, None, self.act_open, self.act_copy_url,
                        self.act_models_folder, None, self.act_refresh))
        menu.addMenu(self.add_menu)
        menu.aboutToHide.connect(menu.deleteLater)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    # ================================================================== quitting, about, tray
    def closeEvent(self, event: QCloseEvent) -> None:
        if self._quit_confirmed or self._shut_down or not self.is_embedded or not self.live_backends():
            self._save_layout()
            event.accept()
            self.closed.emit()
            return
        event.ignore()
        self.ctx.spawn(self._ask_then_close(), "Quit")

    async def _ask_then_close(self) -> None:
        if await confirm_stop_workers(self.ctx, "quit"):
            self._quit_confirmed = True
            self.close()

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
            # the table is what people come for: the docks start low
            self.resizeDocks([self.log_dock], [190], Qt.Orientation.Vertical)
            self.resizeDocks([self.log_dock, self.gpu_dock], [780, 400], Qt.Orientation.Horizontal)
        self._restore_header()
        # restoreState may have brought back docks this service cannot use
        self._apply_service_layout()

    def _save_header(self) -> None:
        self.view.save_header(self.settings)

    def _restore_header(self) -> None:
        self._apply_service_layout()  # the kind's columns first: a stretched width is no width to keep
        if self.view.restore_header(self.settings):
            self._apply_service_layout()  # restoreState may bring back columns this service cannot fill

    def _apply_service_layout(self) -> None:
        embedded = self.is_embedded
        self.view.show_columns_for(embedded)
        self.gpu_dock.toggleViewAction().setVisible(embedded)
        if not embedded:
            self.gpu_dock.hide()

    def _save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self._save_header()
        self.settings.sync()


def _add_all(menu: QMenu, actions: Iterable[QAction | None]) -> None:
    """Add ``actions`` to ``menu`` in order, a separator for each None."""
    for act in actions:
        if act is None:
            menu.addSeparator()
        else:
            menu.addAction(act)
