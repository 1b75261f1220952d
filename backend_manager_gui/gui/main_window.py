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

from ..core.errors import BackendServiceError
from .backends_model import BackendsModel
from .backends_view import BackendsView
from .profiles import ConnectionKind, ConnectionProfile, ProfileStore

if TYPE_CHECKING:
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QCloseEvent, QHideEvent, QPaintEvent, QShowEvent

    from ..core.aggregate import AggregateService
    from ..core.models import Backend, BackendStatus, BackendType
    from ..core.service import BackendService
    from .actions import Connector
    from .hosts import Hosts
    from .hosts_view import ConnectionsDock
    from .message_bar import MessageBar
    from .poller import Poller

log = logging.getLogger(__name__)

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
        if self.view.restore_header(self.settings):  # the widths saved for this kind of connection
            self.view.show_columns_for(embedded)  # restoreState may bring back columns it cannot fill
        self.status_label.setText(f"Opening {where}…" if embedded else f"Connecting to {where}…")
        if service is not None:
            self.complete(service, profile, connector=connector)

    def complete(self, service: BackendService, profile: ConnectionProfile | None = None, *,
                 connector: Connector | None = None) -> None:
        """Everything the frame lacks, on ``service``: actions, menus, toolbar, docks, tray, polling."""
        from PySide6.QtGui import QAction, QKeySequence

        from . import icons, window_chrome
        from .actions import ActionContext, BackendActions, ConnectActions, make_action
        from .connections import open_service
        from .error_watch import ErrorWatch
        from .local_columns import LocalColumns
        from .log_reasons import LogReasons
        from .message_bar import MessageBar
        from .window_hosts import new_hosts

        self.setWindowIcon(icons.app_icon())
        self.message_bar: MessageBar = MessageBar(self._central)
        self._central_layout.insertWidget(0, self.message_bar)
        self.error_watch = ErrorWatch(self._shown_status, self._notify_errored)
        self.log_reasons = LogReasons(self.backends_model.set_reason)  # Details from the log when none given
        self.table.customContextMenuRequested.connect(lambda pos: window_chrome.show_context_menu(self, pos))
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)

        self.ctx = ActionContext(self, self.view, self.message_bar, new_hosts(self, service, profile))
        self.connect_actions = ConnectActions(self.ctx, self.profiles, connector or open_service, self.switch_service,
                                              self._show_status, self.add_connection)
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
        self.act_about = make_action(self, "About", lambda: window_chrome.show_about(self))
        self.act_filter = make_action(self, "Filter", self.view.focus_filter, shortcuts=(QKeySequence.StandardKey.Find,))
        chrome = window_chrome.build_menus_and_toolbar(self)
        self.file_menu, self.recent_menu, self.backends_menu, self.view_menu, self.toolbar = chrome
        self.log_dock, self.gpu_dock = window_chrome.build_docks(self)
        self.connections_dock: ConnectionsDock = window_chrome.build_connections_dock(self)
        self.tray = window_chrome.build_tray(self)
        self._attach()
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
    def _build_status_bar(self) -> None:
        self.status_label = QLabel("")
        self.status_label.setObjectName("status_summary")
        self.statusBar().addWidget(self.status_label, 1)
        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._update_status_text)

    # ================================================================== the service
    @property
    def service(self) -> AggregateService:
        """Every open connection as one service (one connection: it alone), on row keys (``core/aggregate.py``)."""
        return self.ctx.service

    @property
    def hosts(self) -> Hosts:
        """The open connections, each with its own poller."""
        return self.ctx.hosts

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

    def _attach(self, fresh: bool = True) -> None:
        """Hook the table, docks and watchers to the open connections; ``fresh=False`` after one was added or
        closed: the Log dock keeps following its backend and the reasons read from logs are kept."""
        from ..core.links import worker_link
        from .tasks import is_embedded, service_warnings

        service, hosts = self.service, self.hosts
        embedded = is_embedded(service)
        self.local_columns.attach(service)
        self.backends_model.set_host_names(hosts.names() if hosts.several else {})
        if fresh:  # the provider asks the connections as they are: one added or closed needs no new one
            self.backends_model.set_link_provider(lambda b: worker_link(b, self.hosts.served_from(b.id)))
        self.act_per_gpu.setVisible(embedded)
        if fresh:
            self.log_dock.set_service(service)
            self.log_reasons.set_service(service)
        self.gpu_dock.set_service(service)
        self._apply_service_layout()
        where = service.location
        # "<where> — Backend Manager": Qt appends the display name itself unless the title already ends with it
        self.setWindowTitle(f"{where} — Backend Manager")
        self.error_watch.watch(service)
        self.connections_dock.show_hosts(hosts)
        if not hosts.ever_answered:
            self.status_label.setText(f"Connecting to {where}…")
        for warning in service_warnings(service):
            self.message_bar.show_info(warning)

    def start(self) -> None:
        """Begin polling and loading types; called on first show (the qasync loop is running by then)."""
        if self._started or self._shut_down:
            return
        self._started = True
        self.hosts.start()
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
        if not self._complete:
            return  # closed while still opening: no service yet
        from .tasks import cancel_tasks

        self.error_watch.watch(None)
        await self.hosts.stop()
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
        """Talk to ``service`` alone from now on; every other connection is closed. The one place the table is
        reset."""
        from .window_hosts import switch_service

        await switch_service(self, service, profile)

    async def add_connection(self, service: BackendService, profile: ConnectionProfile | None = None) -> int:
        """One more connection beside the open ones (File → Add connection…); its number in row keys."""
        from .window_hosts import add_connection

        return await add_connection(self, service, profile)

    async def close_connection(self, number: int) -> bool:
        """Close one connection (asking first if it runs workers here); the others go on. False: kept open."""
        from .window_hosts import close_connection

        return await close_connection(self, number)

    # ================================================================== snapshots and status
    def _on_snapshot_received(self, snapshot: dict[int, Backend]) -> None:
        if self._unreachable_notice:
            self._unreachable_notice = False
            self.message_bar.dismiss()
        self.backends_model.apply(snapshot)
        self.backend_actions.show_links()
        self.error_watch.saw(snapshot)
        self.log_reasons.saw(snapshot)
        if self.ctx.types_missing():
            self.ctx.request_types()
        if not any(p.unreachable for p in self.hosts.pollers()):
            self._countdown.stop()
        self._update_status_text()
        self._update_count()
        self.backend_actions.update()

    def _on_poll_failed(self, number: int, exc: BaseException) -> None:
        from .window_hosts import poll_failed

        poll_failed(self, number, exc)
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
        from .status_line import connection_status, several_status

        if self.hosts.several:
            self.backends_model.set_stale_hosts(self.hosts.stale())
            text, tooltip = several_status(self.hosts)
        else:
            text, tooltip = connection_status(self.service.location, self.poller, self.backends_model.backends().values())
        self.status_label.setText(text)
        self.status_label.setToolTip(tooltip)
        if self.tray is not None:
            self.tray.setToolTip(f"Backend Manager\n{text}")

    def _update_count(self) -> None:
        self.view.loaded = self.hosts.ever_answered
        self.view.update_count()

    def _shown_status(self, backend_id: int) -> BackendStatus | None:
        known = self.backends_model.backend(backend_id)
        return known.status if known is not None else None

    def _notify_errored(self, backend: Backend) -> None:
        title = f"{self.backends_model.label(backend)} errored"
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
        if chosen:
            self.log_dock.show_backend(chosen[0].id, self.backends_model.display_title(chosen[0]))
        else:
            self.log_dock.show_backend(None)

    def _fill_recent_menu(self) -> None:
        self.connect_actions.fill_recent_menu(self.recent_menu)

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

    # ---- visibility drives polling -------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._complete:
            return  # complete() starts polling
        if not self._started:
            self.start()
        elif not self.isMinimized():
            self.hosts.resume()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        if self._complete and not event.spontaneous():
            self.hosts.pause()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if not self._complete:
            return
        from PySide6.QtCore import QEvent

        if event.type() == QEvent.Type.WindowStateChange:
            if self.isMinimized():
                self.hosts.pause()
            elif self.isVisible():
                self.hosts.resume()

    # ---- layout persistence --------------------------------------------------------------------
    def _restore_frame_layout(self) -> None:
        """The window's size and place: before the first paint."""
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 700)

    def _restore_layout(self) -> None:
        """The toolbar and docks, once they exist."""
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
        embedded, hosts = self.is_embedded, self.hosts
        remote = any(not is_local for is_local in hosts.kinds())
        self.view.show_columns_for(embedded, remote=remote, several=hosts.several)
        self.gpu_dock.toggleViewAction().setVisible(embedded)
        if not embedded:
            self.gpu_dock.hide()
        self.connections_dock.toggleViewAction().setVisible(hosts.several)
        self.connections_dock.setVisible(hosts.several)

    def _save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self._save_header()
        self.settings.sync()
