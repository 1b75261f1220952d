"""The main window's menus, toolbar, docks, tray icon, context menu and About box: built by ``MainWindow.complete()``
after the window's first paint, so this module and what it imports are not needed before it
(docs/PERFORMANCE.md, P3). Each builder hands back what it made; the window keeps it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu, QMessageBox, QSystemTrayIcon, QToolBar, QToolButton

from .. import __version__
from . import icons
from .gpu_view import GpuDock
from .log_view import LogDock

if TYPE_CHECKING:
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QAction

    from .hosts_view import ConnectionsDock
    from .main_window import MainWindow


def build_menus_and_toolbar(w: MainWindow) -> tuple[QMenu, QMenu, QMenu, QMenu, QToolBar]:
    """(File menu, Recent connections menu, Backends menu, View menu, toolbar)."""
    bar = w.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(w.act_connect)
    file_menu.addAction(w.backend_actions.act_add_connection)
    file_menu.addAction(w.backend_actions.act_close_connection)
    recent_menu = file_menu.addMenu("Recent connections")
    recent_menu.aboutToShow.connect(w._fill_recent_menu)
    file_menu.addSeparator()
    file_menu.addAction(w.act_quit)
    backends_menu = bar.addMenu("&Backends")
    backends_menu.addMenu(w.add_menu)
    add_all(backends_menu, (w.act_edit, w.act_duplicate, w.act_delete, None, w.act_toggle, w.act_restart,
                            w.act_restart_all, w.act_free, w.act_free_ram, None, w.act_open, w.act_copy_url,
                            w.act_models_folder, w.backend_actions.act_use_in_swarm, None, w.act_per_gpu, None,
                            w.act_refresh))
    view_menu = bar.addMenu("&View")
    help_menu = bar.addMenu("&Help")
    help_menu.addAction(w.act_about)

    tb = w.addToolBar("Actions")
    tb.setObjectName("actions_toolbar")
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    tb.addAction(w.act_add)
    add_button = tb.widgetForAction(w.act_add)
    if isinstance(add_button, QToolButton):
        add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        add_button.setObjectName("add_button")
    for act in (w.act_edit, w.act_duplicate, w.act_delete, None, w.act_toggle, w.act_restart, w.act_free, None,
                w.act_open, None, w.act_refresh):
        if act is None:
            tb.addSeparator()
        else:
            tb.addAction(act)
    free_button = tb.widgetForAction(w.act_free)
    if isinstance(free_button, QToolButton):
        free_menu = QMenu(free_button)
        free_menu.addAction(w.act_free)
        free_menu.addAction(w.act_free_ram)
        free_button.setMenu(free_menu)
        free_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
    view_menu.addAction(tb.toggleViewAction())
    return file_menu, recent_menu, backends_menu, view_menu, tb


def build_connections_dock(w: MainWindow) -> ConnectionsDock:
    """The Connections list at the table's left (shown while more than one connection is open)."""
    from .hosts_view import ConnectionsDock

    dock = ConnectionsDock(w)
    w.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
    w.view_menu.addAction(dock.toggleViewAction())
    dock.hide()

    def chosen(number: int | None) -> None:
        w.view.proxy.set_host_filter(number)
        w.view.update_count()
        w.backend_actions.update()

    dock.chosen.connect(chosen)
    dock.close_requested.connect(lambda n: w.ctx.spawn(w.close_connection(n), "Close connection"))
    dock.refresh_requested.connect(lambda n: w.ctx.spawn(w.hosts.refresh([n]), "Refresh"))
    dock.add_requested.connect(lambda: w.ctx.spawn(w.connect_actions.add_dialog(), "Add connection"))
    w.connect_actions.close_requested.connect(lambda n: w.ctx.spawn(w.close_connection(n), "Close connection"))
    return dock


def build_docks(w: MainWindow) -> tuple[LogDock, GpuDock]:
    log_dock = LogDock(w)
    log_dock.setObjectName("log_dock")
    w.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, log_dock)
    gpu_dock = GpuDock(w)
    gpu_dock.setObjectName("gpu_dock")
    gpu_dock.report_received.connect(w.local_columns.on_gpu_report)
    # beside the log, under the table: the table keeps the full width for its columns
    w.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, gpu_dock)
    w.splitDockWidget(log_dock, gpu_dock, Qt.Orientation.Horizontal)
    for dock in (log_dock, gpu_dock):
        w.view_menu.addAction(dock.toggleViewAction())
    return log_dock, gpu_dock


def build_tray(w: MainWindow) -> QSystemTrayIcon | None:
    """The tray icon and its menu, where the desktop has a tray."""
    if not QSystemTrayIcon.isSystemTrayAvailable():
        return None
    tray = QSystemTrayIcon(icons.app_icon(), w)
    menu = QMenu(w)
    menu.addAction("Show window", lambda: show_window(w))
    menu.addAction(w.act_refresh)
    menu.addSeparator()
    menu.addAction(w.act_quit)
    tray.setContextMenu(menu)

    def activated(reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            show_window(w)

    tray.activated.connect(activated)
    tray.show()
    return tray


def show_window(w: MainWindow) -> None:
    w.showNormal()
    w.raise_()
    w.activateWindow()


def show_context_menu(w: MainWindow, pos: QPoint) -> None:
    menu = QMenu(w)
    add_all(menu, (w.act_edit, w.act_duplicate, w.act_delete, None, w.act_toggle, w.act_restart, w.act_free,
                   w.act_free_ram, None, w.act_open, w.act_copy_url, w.act_models_folder,
                   w.backend_actions.act_use_in_swarm, None, w.act_refresh))
    menu.addMenu(w.add_menu)
    menu.aboutToHide.connect(menu.deleteLater)
    menu.popup(w.table.viewport().mapToGlobal(pos))


def show_about(w: MainWindow) -> None:
    box = QMessageBox(QMessageBox.Icon.Information, "About Backend Manager",
                      f"Backend Manager {__version__}\n\nSee and run the GPU backends of a SwarmUI server or of this computer.",
                      QMessageBox.StandardButton.Ok, w)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()


def add_all(menu: QMenu, actions: Iterable[QAction | None]) -> None:
    """Add ``actions`` to ``menu`` in order, a separator for each None."""
    for act in actions:
        if act is None:
            menu.addSeparator()
        else:
            menu.addAction(act)
