"""The backends table: one row per backend, updated by diffing snapshots (never a reset on a refresh).

``apply(snapshot)`` compares each new backend with the row it replaces and emits ``dataChanged`` only for
rows whose shown values changed (narrowed to the changed columns), ``rowsInserted``/``rowsRemoved`` for new
and gone ids. Display values are computed once per row in ``apply()`` so ``data()`` is a lookup.
"""

from __future__ import annotations

import bisect
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QModelRoleData,
    QModelRoleDataSpan,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)

from ..core.rowkeys import host_of, split_key
from ..core.status import BackendStatus
from . import icons

if TYPE_CHECKING:
    from PySide6.QtGui import QBrush, QFont

    from ..core.links import WorkerLink
    from ..core.models import Backend


class Column(IntEnum):
    ID = 0
    TITLE = 1
    TYPE = 2
    STATUS = 3
    ENABLED = 4
    MODEL = 5
    LAST_USED = 6
    GPU = 7
    PORT = 8
    #: why the backend is in its state (``status_message``); shown beside Status (see MainWindow)
    DETAILS = 9
    #: prompts running and waiting in the worker's queue (the embedded manager, and ``serve``)
    QUEUE = 10
    #: the worker's web page (Open in browser, Copy URL, double-click)
    URL = 11
    #: the connection the backend is on (shown while more than one is open)
    HOST = 12


HEADERS = {
    Column.ID: "ID",
    Column.TITLE: "Title",
    Column.TYPE: "Type",
    Column.STATUS: "Status",
    Column.ENABLED: "Enabled",
    Column.MODEL: "Model",
    Column.LAST_USED: "Last used",
    Column.GPU: "GPU",
    Column.PORT: "Port",
    Column.DETAILS: "Details",
    Column.QUEUE: "Queue",
    Column.URL: "URL",
    Column.HOST: "Host",
}
#: What a header says about its column when pointed at.
HEADER_TIPS = {
    Column.QUEUE: "Prompts running and waiting in the worker's queue (ComfyUI workers of this app or of serve)",
    Column.URL: "The worker's web page: double-click to open it in the browser",
    Column.HOST: "The connection the backend is on: this computer, a serve box or a SwarmUI server",
}
#: Columns only the embedded manager can fill.
LOCAL_ONLY_COLUMNS = (Column.GPU, Column.PORT)
#: Columns only a server fills (our own manager knows no loaded model).
REMOTE_ONLY_COLUMNS = (Column.MODEL,)

#: The Backend object of a row.
BACKEND_ROLE = int(Qt.ItemDataRole.UserRole) + 1
#: A value that sorts the column sensibly (numbers as numbers, statuses by severity).
SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 2
#: The backend id of a row (any column).
ID_ROLE = int(Qt.ItemDataRole.UserRole) + 3

#: How a person reads each status; the order is the sort order (worst first).
STATUS_TEXT = {
    BackendStatus.ERRORED: "Errored",
    BackendStatus.LOADING: "Loading",
    BackendStatus.WAITING: "Waiting",
    BackendStatus.RUNNING: "Running",
    BackendStatus.IDLE: "Idle",
    BackendStatus.DISABLED: "Disabled",
}
STATUS_ORDER = {status: i for i, status in enumerate(STATUS_TEXT)}
#: Why a status is shown when the service gave no message of its own.
STATUS_HINT = {
    # only a server's backends come without a status_message: say where the reason is
    BackendStatus.ERRORED: "The backend failed to start or crashed. The server gave no reason: "
    "its own log (in SwarmUI: Server → Logs) says why.",
    BackendStatus.LOADING: "The backend is starting up.",
    BackendStatus.WAITING: "Waiting to start.",
    BackendStatus.RUNNING: "Running and ready for work.",
    BackendStatus.IDLE: "Running, nothing to do right now.",
    BackendStatus.DISABLED: "Disabled: it will not start until enabled.",
}

#: The Details of an errored backend whose service said nothing (a SwarmUI server never does).
NO_REASON = "no reason given: see the server's log"
#: The Details tooltip under a reason read from the backend's log (``set_reason``).
FROM_LOG = "(the last error line of its log: the server gave no reason)"

#: Given a backend, (GPU text, port text) for the embedded manager's extra columns.
DetailsProvider = Callable[["Backend"], tuple[str, str]]
#: Given a backend, the link to its page as the app reaches it (core/links.py), or None.
LinkProvider = Callable[["Backend"], "WorkerLink | None"]


def queue_text(queue: tuple[int, int] | None) -> str:
    """"1 running · 3 waiting"; "0" for an empty queue; "" while not known."""
    if queue is None:
        return ""
    running, pending = queue
    parts = [f"{running} running" if running else "", f"{pending} waiting" if pending else ""]
    return " · ".join(p for p in parts if p) or "0"


@dataclass(frozen=True)
class _Row:
    backend: Backend
    display: tuple[str, ...]
    sort: tuple[Any, ...]
    tooltip: str
    #: title, type, status and details text, casefolded, for the filter box (one ``in`` per row per keystroke)
    search: str
    #: the worker's page (the URL column), None when it has none
    link: WorkerLink | None = None

    def changed_columns(self, other: _Row) -> list[int]:
        cols = [c for c in range(len(self.display)) if self.display[c] != other.display[c] or self.sort[c] != other.sort[c]]
        if self.tooltip != other.tooltip and Column.STATUS not in cols:
            cols.append(Column.STATUS)
        if self.backend.enabled != other.backend.enabled and Column.ENABLED not in cols:
            cols.append(Column.ENABLED)
        return sorted(cols)


class BackendsModel(QAbstractTableModel):
    """Rows of backends, in id order unless ``sort_rows()`` ordered them by a column. Feed it with ``apply()``;
    read a row's backend with ``BACKEND_ROLE``."""

    #: The person ticked or unticked the Enabled box of a backend: (id, wanted enabled state).
    toggle_requested = Signal(int, bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids: list[int] = []
        self._rows: dict[int, _Row] = {}
        self._type_names: dict[str, str] = {}
        self._busy: set[int] = set()
        self._details: DetailsProvider | None = None
        # backend id -> the Details text standing in for a status_message the service left empty (set_reason)
        self._reasons: dict[int, str] = {}

        self._links: LinkProvider | None = None
        # connection number -> its name (the Host column)
        self._host_names: dict[int, str] = {}
        # row key -> the row it is linked with ("swarm:7801 #3"): a worker used by a SwarmUI backend, and that backend
        self._linked: dict[int, str] = {}
        # connection number -> when it last answered (time.monotonic()), while it does not: its rows are greyed
        self._stale: dict[int, float] = {}
        # rows worked out ahead by prepare(), for apply() to take: backend id -> row
        self._prepared: dict[int, _Row] = {}
        # the order of the rows (sort_rows): a column and descending; ID ascending is id order
        self._sort_column = int(Column.ID)
        self._descending = False
        # backend id -> row while the rows are not in id order (made when asked, dropped when rows move)
        self._row_index: dict[int, int] | None = None

    # ---- feeding -------------------------------------------------------------------------------
    def set_type_names(self, names: Mapping[str, str]) -> None:
        """Type id -> type name, for the Type column and for titles left empty."""
        self._prepared = {}
        self._type_names = dict(names)
        self._recompute_all()

    def set_host_names(self, names: Mapping[int, str]) -> None:
        """Connection number -> name, for the Host column (and the filter box)."""
        if dict(names) != self._host_names:
            self._prepared = {}
            self._host_names = dict(names)
            self._recompute_all()

    def host_name(self, key: int) -> str:
        return self._host_names.get(host_of(key), "")

    def set_stale_hosts(self, stale: Mapping[int, float]) -> None:
        """Grey the rows of the connections in ``stale`` (connection number -> when it last answered, in
        ``time.monotonic()``): they are what was last seen of a connection that does not answer now."""
        old, self._stale = self._stale, dict(stale)
        # Only the rows of a connection that went grey or came back are signalled. The tooltip's "last seen 41 s
        # ago" is worked out when it is shown (stale_reason), so time passing needs no signal. (Signalling every row
        # of every connection each second cost 5-9 ms a time with 10 connections × 500 rows: the filter proxy looks
        # at each signalled row again; PERFORMANCE.md, P9.)
        hosts = old.keys() ^ self._stale.keys()
        if not hosts or not self._ids:
            return
        rows = [r for r, key in enumerate(self._ids) if host_of(key) in hosts]
        runs = _runs(rows)
        if len(runs) > _MANY_CHANGED:  # sorted by a column, the rows are scattered: one span, as apply() does
            runs = [(rows[0], rows[-1])]
        for first, last in runs:
            self.dataChanged.emit(self.index(first, 0), self.index(last, _COLUMN_COUNT - 1),
                                  [Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.ToolTipRole])

    def set_links(self, links: Mapping[int, str]) -> None:
        """Row key -> the row it is linked with, shown after the Host ("this computer ⇄ swarm:7801 #3")."""
        if dict(links) != self._linked:
            self._linked = dict(links)
            self._prepared = {}
            self._recompute_all()

    def linked(self, key: int) -> str | None:
        return self._linked.get(key)

    def stale_reason(self, key: int) -> str | None:
        """Why a row is greyed (its connection does not answer), None while it is live."""
        seen = self._stale.get(host_of(key)) if self._stale else None
        if seen is None:
            return None
        name = self._host_names.get(host_of(key)) or "The connection"
        ago = short_time_since(time.monotonic() - seen, None)
        return f"{name} is not answering: last seen {ago}. This row is what it showed then."

    def label(self, backend: Backend, *, quoted: bool = False) -> str:
        """Title (#3), and "on <connection>" while more than one connection is open; ``quoted``: “Title” (#3)."""
        host, own = split_key(backend.id)
        where = f" on {self._host_names[host]}" if len(self._host_names) > 1 and host in self._host_names else ""
        title = self.display_title(backend)
        return f"“{title}” (#{own}{where})" if quoted else f"{title} (#{own}{where})"

    def set_details_provider(self, provider: DetailsProvider | None) -> None:
        self._prepared = {}
        self._details = provider
        self._recompute_all()

    def set_reason(self, backend_id: int, reason: str | None) -> None:
        """Show ``reason`` (found elsewhere, e.g. the backend's log) in Details while the backend's own
        ``status_message`` is empty; None takes it away. Only that row is worked out again and signalled."""
        if reason:
            if self._reasons.get(backend_id) == reason:
                return
            self._reasons[backend_id] = reason
        elif self._reasons.pop(backend_id, None) is None:
            return
        self._prepared.pop(backend_id, None)
        old = self._rows.get(backend_id)
        if old is None:
            return
        new = self._make_row(old.backend)
        cols = new.changed_columns(old)
        self._rows[backend_id] = new
        row = self.row_of(backend_id)
        if cols and row is not None:
            self.dataChanged.emit(self.index(row, cols[0]), self.index(row, cols[-1]))
        if not self._in_id_order() and new.sort[self._sort_column] != old.sort[self._sort_column]:
            self._reorder()  # sorted by Details: the row moves to its place

    def reason(self, backend_id: int) -> str | None:
        """The reason ``set_reason`` gave for this backend, if any."""
        return self._reasons.get(backend_id)

    def set_link_provider(self, provider: LinkProvider | None) -> None:
        """How a backend's page is reached from here (the URL column); None: no links."""
        self._prepared = {}
        self._links = provider
        self._recompute_all()

    def link(self, backend_id: int) -> WorkerLink | None:
        """The link to a backend's page, as its URL cell shows it."""
        row = self._rows.get(backend_id)
        return row.link if row is not None else None

    def _recompute_all(self) -> None:
        if self._rows:
            self.apply({i: self._rows[i].backend for i in self._ids}, recompute=True)

    async def prepare(self, snapshot: Mapping[int, Backend], *, slice_s: float = 0.005) -> None:
        """Work out the rows of new and changed backends ahead of ``apply()``, giving the loop a turn every
        ``slice_s`` seconds: a first load of 5,000 backends then never freezes the window in one go."""
        import asyncio  # here, not at the top: the window paints before asyncio is imported (PERFORMANCE.md, P3)

        prepared: dict[int, _Row] = {}
        self._prepared = prepared
        deadline = time.perf_counter() + slice_s
        for n, (backend_id, backend) in enumerate(snapshot.items(), 1):
            old = self._rows.get(backend_id)
            if old is None or old.backend is not backend:
                prepared[backend_id] = self._make_row(backend)
            if n % 32 == 0 and time.perf_counter() > deadline:
                await asyncio.sleep(0)
                if self._prepared is not prepared:
                    return  # names or details changed meanwhile: apply() works the rows out itself
                deadline = time.perf_counter() + slice_s
        # a turn for the loop before apply(): the last slice and apply() + the repaint are not one stretch
        await asyncio.sleep(0)

    def _row_for(self, backend: Backend) -> _Row:
        ready = self._prepared.get(backend.id)
        return ready if ready is not None and ready.backend is backend else self._make_row(backend)

    def apply(self, snapshot: Mapping[int, Backend], *, recompute: bool = False) -> None:
        """Bring the rows in line with ``snapshot`` ({id: Backend}) with the fewest signals.

        A row whose backend is the very object it already shows is skipped without a look (the remote
        decoder hands back the same object for an unchanged entry); ``recompute`` looks at every row.
        """
        # the usual poll: the same backends as before (one set comparison instead of three passes at 50,000)
        same_ids = snapshot.keys() == self._rows.keys()
        new_ids = set() if same_ids else set(snapshot)
        # gone rows, from the bottom so earlier row numbers stay valid; contiguous runs in one signal
        gone_rows = [] if same_ids else [r for r, i in enumerate(self._ids) if i not in new_ids]
        for first, last in reversed(_runs(gone_rows)):
            self.beginRemoveRows(QModelIndex(), first, last)
            for i in self._ids[first : last + 1]:
                del self._rows[i]
                self._busy.discard(i)
                self._reasons.pop(i, None)
            del self._ids[first : last + 1]
            self._row_index = None
            self.endRemoveRows()
        in_id_order = self._in_id_order()
        sort_column = self._sort_column
        resort = False  # a changed row's value in the sorted column changed: the rows are ordered again below
        # changed rows
        rows = self._rows
        ids = self._ids
        if recompute:
            candidates: Iterable[int] = range(len(ids))
        else:
            candidates = [r for r, i in enumerate(ids) if snapshot[i] is not rows[i].backend]
        changed: list[tuple[int, list[int]]] = []
        for row in candidates:
            backend_id = ids[row]
            backend = snapshot[backend_id]
            old = rows[backend_id]
            new = self._make_row(backend) if recompute else self._row_for(backend)
            if new == old:
                continue
            rows[backend_id] = new
            cols = new.changed_columns(old)
            if cols:
                changed.append((row, cols))
                if not in_id_order and new.sort[sort_column] != old.sort[sort_column]:
                    resort = True
        if len(changed) > _MANY_CHANGED and changed[-1][0] - changed[0][0] < _DENSE * len(changed):
            # type names arriving, a server restarting every worker: one signal for the whole span (views
            # repaint only what is visible), not thousands of signals each handled on their own. Not for a few
            # hundred rows scattered over 50,000: the filter proxy looks at every row of a span again
            self.dataChanged.emit(self.index(changed[0][0], 0), self.index(changed[-1][0], _COLUMN_COUNT - 1))
        else:
            for row, cols in changed:
                self.dataChanged.emit(self.index(row, cols[0]), self.index(row, cols[-1]))
        # new rows, each at its place in id order; ids that land side by side go in with one signal
        # (a first load of 5,000 rows is one insert, not 5,000)
        added = [] if same_ids else sorted(new_ids.difference(self._rows))
        if added and not in_id_order:
            # rows ordered by a column: the new ones go in at the end, in one signal, and then every row is ordered
            # again in one pass (the first load: straight in their order)
            for backend_id in added:
                self._rows[backend_id] = self._row_for(snapshot[backend_id])
            if self._ids:
                resort = True
            else:
                added = self._ordered(added)
            first = len(self._ids)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            self._ids.extend(added)
            self._row_index = None
            self.endInsertRows()
            added = []
        i = 0
        while i < len(added):
            row = bisect.bisect_left(self._ids, added[i])
            # the run ends where an existing id comes between two new ones
            limit = self._ids[row] if row < len(self._ids) else None
            j = i + 1
            while j < len(added) and (limit is None or added[j] < limit):
                j += 1
            run = added[i:j]
            self.beginInsertRows(QModelIndex(), row, row + len(run) - 1)
            self._ids[row:row] = run
            for backend_id in run:
                self._rows[backend_id] = self._row_for(snapshot[backend_id])
            self.endInsertRows()
            i = j
        self._prepared = {}
        if resort:
            self._reorder()

    def clear(self) -> None:
        """Forget every row at once: only for a switch to another service, never for a refresh."""
        self.beginResetModel()
        self._ids.clear()
        self._rows.clear()
        self._busy.clear()
        self._reasons.clear()
        self._row_index = None
        self.endResetModel()

    def set_busy(self, backend_id: int, busy: bool) -> None:
        """Mark a row whose request is in flight (a busy icon on its Status cell)."""
        if busy == (backend_id in self._busy):
            return
        if busy:
            self._busy.add(backend_id)
        else:
            self._busy.discard(backend_id)
        row = self.row_of(backend_id)
        if row is not None:
            idx = self.index(row, Column.STATUS)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole])

    def is_busy(self, backend_id: int) -> bool:
        return backend_id in self._busy

    # ---- the order of the rows -----------------------------------------------------------------
    def sort_rows(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Order the rows by ``column``'s ``SORT_ROLE`` value (-1: by id), equal values in id order, and keep them
        so as backends come, go and change. One layout change, in one pass of Python's sort over precomputed
        values: a sorting proxy asks a Python lessThan() for every comparison (5,000 rows: 0.2 s; 50,000: 2.8 s)."""
        descending = order == Qt.SortOrder.DescendingOrder
        if column < 0:
            column, descending = int(Column.ID), False
        if (column, descending) == (self._sort_column, self._descending):
            return
        self._sort_column, self._descending = column, descending
        self._reorder()

    def _in_id_order(self) -> bool:
        return self._sort_column == Column.ID and not self._descending

    def _ordered(self, ids: Iterable[int]) -> list[int]:
        """``ids`` in the rows' order: by the sort column's value, equal values by id."""
        by_id = sorted(ids)
        if self._in_id_order():
            return by_id
        column, rows = self._sort_column, self._rows
        try:
            return sorted(by_id, key=lambda i: rows[i].sort[column], reverse=self._descending)
        except TypeError:  # values that do not compare (none of ours): as text
            return sorted(by_id, key=lambda i: str(rows[i].sort[column]), reverse=self._descending)

    def _reorder(self) -> None:
        new_ids = self._ordered(self._ids)
        if new_ids == self._ids:
            return
        self.layoutAboutToBeChanged.emit()
        # what the view and the proxy hold on to (the selection, the current row) follows its backend
        before = self.persistentIndexList()
        old_ids = self._ids
        self._ids = new_ids
        self._row_index = None
        after = [self.index(self._index_of()[old_ids[p.row()]], p.column()) for p in before]
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()

    def _index_of(self) -> dict[int, int]:
        if self._row_index is None:
            self._row_index = {i: r for r, i in enumerate(self._ids)}
        return self._row_index

    # ---- reading -------------------------------------------------------------------------------
    def backends(self) -> dict[int, Backend]:
        """Every backend, in id order (whatever the rows' order)."""
        ids = self._ids if self._in_id_order() else sorted(self._ids)
        return {i: self._rows[i].backend for i in ids}

    def backend(self, backend_id: int) -> Backend | None:
        row = self._rows.get(backend_id)
        return row.backend if row else None

    def row_of(self, backend_id: int) -> int | None:
        if not self._in_id_order():
            return self._index_of().get(backend_id)
        pos = bisect.bisect_left(self._ids, backend_id)
        return pos if pos < len(self._ids) and self._ids[pos] == backend_id else None

    def search_text(self, row: int) -> str:
        """The casefolded title, type, status and details of a row, as the filter box matches them."""
        return self._rows[self._ids[row]].search

    def sort_key(self, row: int, column: int) -> Any:
        """What ``SORT_ROLE`` gives for a cell, without going through Qt."""
        return self._rows[self._ids[row]].sort[column]

    def type_name(self, type_id: str) -> str:
        return self._type_names.get(type_id, type_id)

    def display_title(self, backend: Backend) -> str:
        return backend.title or self.type_name(backend.type)

    def _make_row(self, b: Backend) -> _Row:
        # runs for every new or changed backend (5,000 on a first load): plain locals, no enum indexing
        gpu, port = self._details(b) if self._details is not None else (_gpu_text(b.settings), "")
        last_used = short_time_since(b.seconds_since_used, b.time_since_used)
        title = b.title or self._type_names.get(b.type, b.type)
        type_name = self._type_names.get(b.type, b.type)
        status_text = STATUS_TEXT.get(b.status) or b.status.value
        model = b.current_model or ""
        message = b.status_message or ""
        details = message.split("\n", 1)[0].strip() if message else ""
        reason = self._reasons.get(b.id) if not details else None
        if reason:
            details = reason
        elif not details and b.status is BackendStatus.ERRORED:
            details = NO_REASON
        link = self._links(b) if self._links is not None else None
        queue = b.queue()
        url = link.url if link is not None else ""
        host_name = self._host_names.get(host_of(b.id), "") if self._host_names else ""
        if self._linked and b.id in self._linked:
            host_name = f"{host_name} ⇄ {self._linked[b.id]}"
        display = (str(split_key(b.id)[1]), title, type_name, status_text, "", model, last_used, gpu, port, details,
                   queue_text(queue), url, host_name)
        seconds = b.seconds_since_used if b.seconds_since_used is not None else _NEVER
        if last_used.lower() == "never":
            seconds = _NEVER  # "Never" sorts after every real time
        title_key = title.casefold()
        type_key = type_name.casefold()
        sort = (
            b.id,
            title_key,
            type_key,
            STATUS_ORDER.get(b.status, 99),
            1 if b.enabled else 0,
            model.casefold(),
            seconds,
            _int_or_text(gpu),
            _int_or_text(port),
            details.casefold(),
            (-1, -1) if queue is None else (queue[0] + queue[1], queue[0]),
            url,
            host_name.casefold(),
        )
        tooltip = b.status_message or (f"{reason}\n{FROM_LOG}" if reason else STATUS_HINT.get(b.status, ""))
        search = f"{title_key}\x00{type_key}\x00{status_text.casefold()}\x00{details.casefold()}\x00{host_name.casefold()}"
        return _Row(b, display, sort, tooltip, search, link)

    # ---- QAbstractTableModel -------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else _COLUMN_COUNT

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(Column):
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS[Column(section)]
            if role == Qt.ItemDataRole.ToolTipRole:
                return HEADER_TIPS.get(Column(section))
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        # asked for every visible cell per paint: flags combined once (a Qt flag `|` is a Python call in PySide6)
        if not index.isValid():
            return _NO_FLAGS
        if index.column() == _COL_ENABLED and self._ids[index.row()] not in self._busy:
            return _CHECKABLE_FLAGS
        return _CELL_FLAGS

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # asked ~8 times per visible cell per paint: module constants, no enum attribute chains
        r = index.row()
        if r < 0 or r >= len(self._ids):
            return None
        backend_id = self._ids[r]
        row = self._rows[backend_id]
        col = index.column()
        if role == _DISPLAY:
            return row.display[col] if col != _COL_ENABLED else None
        if self._stale and (role == _FOREGROUND or role == _TOOLTIP) and host_of(backend_id) in self._stale:
            return _placeholder_brush() if role == _FOREGROUND else self.stale_reason(backend_id)
        if role == SORT_ROLE:
            return row.sort[col]
        if role == BACKEND_ROLE:
            return row.backend
        if role == ID_ROLE:
            return backend_id
        if col == _COL_ENABLED:
            if role == _CHECK:
                return _CHECKED if row.backend.enabled else _UNCHECKED
            return None
        if col == _COL_STATUS:
            if role == _DECORATION:
                return icons.busy_icon() if backend_id in self._busy else icons.status_icon(row.backend.status)
            if role == _FOREGROUND:
                return _brush(row.backend.status)
            if role == _TOOLTIP:
                return "Waiting for the answer…" if backend_id in self._busy else row.tooltip
            return None
        if col == _COL_TITLE and row.backend.title == "":
            # the type's name standing in for a missing title must not read as a title someone chose
            if role == _TOOLTIP:
                return "No title set: showing the type's name (Edit to give it one)"
            if role == _FONT:
                return _italic()
            if role == _FOREGROUND:
                return _placeholder_brush()
        if col == _COL_HOST and role == _TOOLTIP and self._linked and backend_id in self._linked:
            return (f"Linked with {self._linked[backend_id]}: a SwarmUI backend and the worker it sends generations to "
                    "(Use in SwarmUI…)")
        if col == _COL_LAST_USED and role == _TOOLTIP:
            return row.backend.time_since_used  # the service's own words ("7 hours 1 minute ago"); the cell is short
        if col == _COL_URL and role == _TOOLTIP and row.link is not None:
            return f"{row.link.url}\n{row.link.hint}" if row.link.hint else f"{row.link.url}\nDouble-click to open it"
        if col == _COL_DETAILS:
            if role == _TOOLTIP:
                return row.tooltip  # the whole message; the cell shows its first line
            if not row.backend.status_message:  # our own words standing in for the service's: set apart
                if role == _FONT:
                    return _italic()
                if role == _FOREGROUND:
                    return _placeholder_brush()
        if role == _ALIGNMENT and (col == _COL_ID or col == _COL_PORT):
            return _RIGHT_ALIGNED
        return None

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        # the box only asks; the row changes when the service's answer arrives with the next snapshot
        if index.isValid() and index.column() == Column.ENABLED and role == Qt.ItemDataRole.CheckStateRole:
            backend_id = self._ids[index.row()]
            if backend_id in self._busy:
                return False
            wanted = Qt.CheckState(value) == Qt.CheckState.Checked if not isinstance(value, bool) else value
            self.toggle_requested.emit(backend_id, wanted)
            return True
        return False


#: Above this many changed rows, apply() signals one span instead of each row, if the span is at most _DENSE
#: times as long as the rows changed (a signal costs the proxy and the view ~25 µs, a row of a span ~0.6 µs).
_MANY_CHANGED = 64
_DENSE = 32
# what data() compares with, looked up once
_COLUMN_COUNT = len(Column)
_COL_ID, _COL_TITLE, _COL_STATUS, _COL_ENABLED, _COL_PORT, _COL_DETAILS, _COL_URL = (
    int(Column.ID), int(Column.TITLE), int(Column.STATUS), int(Column.ENABLED), int(Column.PORT), int(Column.DETAILS),
    int(Column.URL))
_COL_LAST_USED = int(Column.LAST_USED)
_COL_HOST = int(Column.HOST)
_DISPLAY = Qt.ItemDataRole.DisplayRole
_CHECK = Qt.ItemDataRole.CheckStateRole
_DECORATION = Qt.ItemDataRole.DecorationRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_FONT = Qt.ItemDataRole.FontRole
_ALIGNMENT = Qt.ItemDataRole.TextAlignmentRole
_NO_FLAGS = Qt.ItemFlag.NoItemFlags
_CELL_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
_CHECKABLE_FLAGS = _CELL_FLAGS | Qt.ItemFlag.ItemIsUserCheckable
_CHECKED = Qt.CheckState.Checked
_UNCHECKED = Qt.CheckState.Unchecked
_RIGHT_ALIGNED = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

_BRUSHES: dict[BackendStatus, QBrush] = {}


def _brush(status: BackendStatus) -> QBrush:
    brush = _BRUSHES.get(status)
    if brush is None:
        from PySide6.QtGui import QBrush  # here: this module is imported before the first paint (PERFORMANCE.md, P3)

        brush = _BRUSHES[status] = QBrush(icons.status_colour(status))
    return brush


@cache
def _italic() -> QFont:
    from PySide6.QtGui import QFont

    font = QFont()
    font.setItalic(True)
    return font


@cache
def _placeholder_brush() -> QBrush:
    from PySide6.QtGui import QBrush, QColor

    return QBrush(QColor("#6b6b6b"))


_NEVER = float("inf")
_LEADING_NUMBER = re.compile(r"\d{1,18}")


def short_time_since(seconds: float | None, text: str | None) -> str:
    """The Last used cell: "just now", "3 min ago", "7 h ago", "2 d ago", "Never" (the service's own long words,
    "7 hours 1 minute ago", go in the tooltip); the service's text when it gave no seconds."""
    if seconds is None or seconds < 0 or (text is not None and text.strip().lower() == "never"):
        return text or ""  # a server that never used it sends 0 seconds and "Never"
    s = int(seconds)
    if s < 60:
        return "just now"
    if s < 3600:
        return f"{s // 60} min ago"
    if s < 86400:
        return f"{s // 3600} h ago"
    return f"{s // 86400} d ago"


def _load_gpu_text(settings: Mapping[str, Any]) -> str:
    # core.fleet on first use: this module is imported before the window's first paint (PERFORMANCE.md, P3)
    global _gpu_text
    from ..core.fleet import gpu_text

    _gpu_text = gpu_text
    return gpu_text(settings)


#: core.fleet.gpu_text, once a row has needed it
_gpu_text: Callable[[Mapping[str, Any]], str] = _load_gpu_text


@lru_cache(maxsize=4096)  # GPU and port texts repeat across thousands of rows
def _int_or_text(text: str) -> tuple[int, int | str]:
    # numbers before words, numbers in numeric order; a (kind, value) pair keeps the types comparable
    if not text:
        return (2, text)
    number = _LEADING_NUMBER.match(text)  # "1", "0,1", "1: RTX 4090"
    return (0, int(number.group())) if number else (1, text)


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """[1, 2, 3, 7] -> [(1, 3), (7, 7)]"""
    out: list[tuple[int, int]] = []
    for r in rows:
        if out and out[-1][1] == r - 1:
            out[-1] = (out[-1][0], r)
        else:
            out.append((r, r))
    return out


class BackendsFilterModel(QSortFilterProxyModel):
    """Sorts by ``SORT_ROLE`` and keeps rows whose title, type, status or details contain the filter text."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)
        self._needle = ""
        #: only this connection's rows (the Connections list's choice), None: every connection's
        self._host: int | None = None
        self._accepted: list[bool] | None = None
        self._backends: BackendsModel | None = None
        self._sorted_by: tuple[int, Qt.SortOrder] = (-1, Qt.SortOrder.AscendingOrder)

    def setSourceModel(self, model: Any) -> None:  # noqa: N802 - Qt's name
        # the filter and the sort read our own model's precomputed values directly: a Python call per row
        # through Qt's data() would cost tens of milliseconds per keystroke at 5,000 rows
        self._backends = model if isinstance(model, BackendsModel) else None
        super().setSourceModel(model)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sorted_by = (column, order)
        if self._backends is not None:
            # our own model orders its rows itself, in one pass over precomputed values, and this proxy keeps
            # the model's order: no Python lessThan() per comparison, and a filter change never sorts again
            self._backends.sort_rows(column, order)
            super().sort(-1, Qt.SortOrder.AscendingOrder)
            return
        super().sort(column, order)

    def sortColumn(self) -> int:  # noqa: N802 - Qt's name
        return self._sorted_by[0]

    def sortOrder(self) -> Qt.SortOrder:  # noqa: N802 - Qt's name
        return self._sorted_by[1]

    @property
    def host_filter(self) -> int | None:
        return self._host

    def set_host_filter(self, host: int | None) -> None:
        """Show only the rows of connection number ``host`` (None: every connection's), with the filter text."""
        if host != self._host:
            self._host = host
            self._filter_changed(self._needle)

    def set_filter_text(self, text: str) -> None:
        needle = text.strip().casefold()
        if needle == self._needle:
            return
        self._filter_changed(needle)

    def _filter_changed(self, needle: str) -> None:
        if QSortFilterProxyModel.sortColumn(self) < 0:
            # rows in the model's own order (sorted by ID): one layout change, after which the view maps the rows
            # anew, rather than a remove or insert signal per run of rows changing visibility, each handled on its
            # own (clearing "err" at 50,000 rows: ~6,000 signals, 170 ms a keystroke; 45 ms this way; the same at
            # 5,000). Sorted by a column, it would sort every row again in Python (lessThan): the runs are signalled
            self._set_needle(needle)
            self.invalidate()
        elif hasattr(self, "beginFilterChange"):  # Qt >= 6.9; invalidateRowsFilter() is deprecated there
            self.beginFilterChange()
            self._set_needle(needle)
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # pragma: no cover - Qt 6.8
            self._set_needle(needle)
            self.invalidateRowsFilter()
        self._accepted = None

    def _set_needle(self, needle: str) -> None:
        self._needle = needle
        source = self._backends
        # every row's answer in one list comprehension: Qt then asks once per row, and each answer is an index
        host = self._host
        if source is None or (not needle and host is None):
            self._accepted = None
        elif host is None:
            self._accepted = [needle in source._rows[i].search for i in source._ids]
        else:
            self._accepted = [host_of(i) == host and needle in source._rows[i].search for i in source._ids]

    def multiData(self, index: QModelIndex | QPersistentModelIndex, roleDataSpan: QModelRoleDataSpan | QModelRoleData) -> None:  # noqa: N802, N803
        # the view's delegate asks for ~8 roles of a cell in one multiData call; Qt's proxy would answer each
        # with a mapToSource and a data() of its own: map once and let the source answer them all
        # (about an eighth off every repaint of the table)
        source = self.sourceModel()
        if source is not None:
            source.multiData(self.mapToSource(index), roleDataSpan)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if not self._needle and self._host is None:
            return True
        accepted = self._accepted
        if accepted is not None and source_row < len(accepted):  # during set_filter_text
            return accepted[source_row]
        source = self._backends
        if source is not None:  # a table: source_parent is always the root; 5,000 calls per keystroke
            key = source._ids[source_row]
            return (self._host is None or host_of(key) == self._host) and self._needle in source._rows[key].search
        model = self.sourceModel()
        for col in (Column.TITLE, Column.TYPE, Column.STATUS):
            text = model.data(model.index(source_row, col, source_parent), Qt.ItemDataRole.DisplayRole)
            if text and self._needle in str(text).casefold():
                return True
        return False

    def lessThan(self, left: QModelIndex | QPersistentModelIndex, right: QModelIndex | QPersistentModelIndex) -> bool:
        if self._backends is not None:
            column = left.column()
            a = self._backends.sort_key(left.row(), column)
            b = self._backends.sort_key(right.row(), column)
        else:
            a = left.data(SORT_ROLE)
            b = right.data(SORT_ROLE)
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)
