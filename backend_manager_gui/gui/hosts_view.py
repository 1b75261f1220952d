"""The Connections list (a dock at the table's left while more than one connection is open): each connection with
its state ("connected — 3 running · 1 errored", "cannot reach — retrying in 8 s · last seen 40 s ago"); choosing one
shows only its rows, "All connections" every row. Its context menu refreshes or closes a connection."""

from __future__ import annotations

import asyncio
import time
from functools import partial

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QDockWidget, QListWidget, QListWidgetItem, QMenu, QPushButton, QVBoxLayout, QWidget

from ..core.models import BackendStatus
from . import icons
from .hosts import Hosts, host_state

#: The data role that holds a list entry's connection number (-1: all connections).
NUMBER_ROLE = int(Qt.ItemDataRole.UserRole) + 1
ALL = -1
_KIND_ICON = {"ok": BackendStatus.RUNNING, "failing": BackendStatus.LOADING, "down": BackendStatus.ERRORED,
              "connecting": BackendStatus.WAITING}


class ConnectionsDock(QDockWidget):
    """Titled "Connections". ``show_hosts(hosts)`` redraws it; ``chosen`` tells which one the person picked."""

    #: connection number, or None for all connections
    chosen = Signal(object)
    #: the person asked to close this connection / to poll it now / to add one
    close_requested = Signal(int)
    refresh_requested = Signal(int)
    add_requested = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__("Connections", parent)
        self.setObjectName("connections_dock")
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        self.list = QListWidget(body)
        self.list.setObjectName("connections_list")
        self.list.setWordWrap(True)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._on_menu)
        self.list.currentItemChanged.connect(self._on_current_changed)
        layout.addWidget(self.list, 1)
        self.add_button = QPushButton("Add connection…", body)
        self.add_button.setObjectName("add_connection_button")
        self.add_button.clicked.connect(self.add_requested)
        layout.addWidget(self.add_button)
        self.setWidget(body)
        self._filling = False

    def show_hosts(self, hosts: Hosts) -> None:
        """One entry per connection with its state, "All connections" first; the choice is kept."""
        loop_now = asyncio.get_event_loop().time()
        now = time.monotonic()
        wanted: list[tuple[int, str, str, str]] = []
        total = sum(len(h.snapshot or ()) for h in hosts)
        wanted.append((ALL, f"All connections\n{len(hosts)} open · {total} backends", "", "ok"))
        for host in hosts:
            state, kind = host_state(host, loop_now, now)
            tip = host.service.location if host.service.location != host.name else ""
            wanted.append((host.number, f"{host.name}\n{state}", tip, kind))
        current = self.chosen_number()
        self._filling = True
        try:
            while self.list.count() > len(wanted):
                self.list.takeItem(self.list.count() - 1)
            for row, (number, text, tip, kind) in enumerate(wanted):
                item = self.list.item(row)
                if item is None:
                    item = QListWidgetItem(self.list)
                if item.text() != text:
                    item.setText(text)
                item.setToolTip(tip or text)
                item.setData(NUMBER_ROLE, number)
                if number != ALL:
                    item.setIcon(icons.status_icon(_KIND_ICON[kind]))
                    item.setForeground(QBrush(QColor("#6b6b6b")) if kind == "down" else QBrush())
                if (number if number != ALL else None) == current and self.list.currentItem() is not item:
                    self.list.setCurrentItem(item)
            if self.list.currentItem() is None and self.list.count():
                self.list.setCurrentRow(0)
        finally:
            self._filling = False
        if current is not None and current not in {n for n, *_ in wanted}:
            self.chosen.emit(None)  # the chosen connection was closed: every row again

    def chosen_number(self) -> int | None:
        item = self.list.currentItem()
        number = item.data(NUMBER_ROLE) if item is not None else ALL
        return None if number in (None, ALL) else int(number)

    def choose(self, number: int | None) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(NUMBER_ROLE) == (ALL if number is None else number):
                self.list.setCurrentItem(item)
                return

    def _on_current_changed(self, *_args: object) -> None:
        if not self._filling:
            self.chosen.emit(self.chosen_number())

    def _on_menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        number = item.data(NUMBER_ROLE) if item is not None else ALL
        menu = QMenu(self)
        if number not in (None, ALL):
            n = int(number)
            menu.addAction("Refresh now", partial(self.refresh_requested.emit, n))
            close = menu.addAction("Close connection", partial(self.close_requested.emit, n))
            close.setEnabled(self.list.count() > 2)  # "All connections" and at least one other stay
            menu.addSeparator()
        menu.addAction("Add connection…", self.add_requested.emit)
        menu.popup(self.list.viewport().mapToGlobal(pos))
