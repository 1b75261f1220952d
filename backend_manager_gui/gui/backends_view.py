"""The backends table as the person sees it: the filter box and row count above it, the hint an empty table
shows, the columns each kind of service fills, and the selection read and set by backend id."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from .backends_model import (
    BACKEND_ROLE,
    LOCAL_ONLY_COLUMNS,
    REMOTE_ONLY_COLUMNS,
    BackendsFilterModel,
    BackendsModel,
    Column,
)

if TYPE_CHECKING:
    from PySide6.QtGui import QKeyEvent

    from ..core.models import Backend

#: Starting widths; the header's saved state replaces them once the person has resized.
COLUMN_WIDTHS = ((Column.ID, 40), (Column.TITLE, 170), (Column.TYPE, 150), (Column.STATUS, 100), (Column.DETAILS, 260),
                 (Column.ENABLED, 64), (Column.MODEL, 220), (Column.LAST_USED, 120), (Column.GPU, 44), (Column.PORT, 64))
EMPTY_HERE = ("No backends yet.\n\n"
              "Add → ComfyUI (self-starting): runs a ComfyUI on one of your GPUs (point it at its main.py).\n"
              "Add → ComfyUI by URL: watches a ComfyUI you start yourself.\n"
              "Backends → One backend per GPU: one self-starting ComfyUI for each NVIDIA GPU.")
EMPTY_SERVER = "This server has no backends yet.\n\nAdd one with Add (the types are the server's)."


class BackendsView(QWidget):
    """``filter_edit``, ``count_label``, ``table`` (over ``proxy``) and ``empty_label``, top to bottom."""

    def __init__(self, model: BackendsModel, parent: QWidget) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = BackendsFilterModel(self)
        self.proxy.setSourceModel(model)
        #: set by the window: a first snapshot has arrived / the service runs workers here
        self.loaded = False
        self.embedded = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # above the table, not in the toolbar: a narrow window must not push the filter into an overflow menu
        filter_row = QHBoxLayout()
        self.filter_edit = _FilterBox(self)
        self.filter_edit.setObjectName("filter_edit")
        self.filter_edit.setPlaceholderText("Filter by title, type, status or details (Ctrl+F)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMaximumWidth(360)
        self.filter_edit.textChanged.connect(self._on_filter_changed)
        self.count_label = QLabel(self)
        self.count_label.setObjectName("count_label")
        filter_row.addWidget(self.filter_edit, 1)
        filter_row.addWidget(self.count_label)
        filter_row.addStretch(1)
        layout.addLayout(filter_row)
        self.table = self._build_table()
        layout.addWidget(self.table, 1)
        self._empty_label: QLabel | None = None

    def _build_table(self) -> QTableView:
        table = QTableView(self)
        table.setObjectName("backends_table")
        table.setModel(self.proxy)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSortingEnabled(True)
        table.sortByColumn(Column.ID, Qt.SortOrder.AscendingOrder)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        table.verticalHeader().hide()
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        # why a backend is in its state is read at a glance beside its status, and takes the spare width;
        # long texts (model file names, URLs in messages) keep both ends when cut
        header.setStretchLastSection(False)
        header.moveSection(header.visualIndex(Column.DETAILS), header.visualIndex(Column.STATUS) + 1)
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        for col, width in COLUMN_WIDTHS:
            header.resizeSection(col, width)
        return table

    @property
    def empty_label(self) -> QLabel:
        """The hint an empty table shows, made when first needed: PySide6 takes ~8 ms to hand Python the
        table's viewport the first time, which start-up would pay before its first paint (PERFORMANCE.md, P3)."""
        if self._empty_label is None:
            # an empty table says what to do next, instead of looking broken (first start, or a filter hiding all)
            viewport = self.table.viewport()
            label = QLabel(viewport)
            label.setObjectName("empty_hint")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            label.setStyleSheet("color: palette(placeholder-text); padding: 24px;")
            empty_layout = QVBoxLayout(viewport)
            empty_layout.addWidget(label)
            label.hide()
            self._empty_label = label
        return self._empty_label

    # ---- the columns each kind of service fills -------------------------------------------------
    def show_columns_for(self, embedded: bool) -> None:
        self.embedded = embedded
        for col in LOCAL_ONLY_COLUMNS:
            self.table.setColumnHidden(col, not embedded)
        for col in REMOTE_ONLY_COLUMNS:
            self.table.setColumnHidden(col, embedded)
        # the spare width goes to the long text each kind of service fills: our manager's reasons, a server's models
        header = self.table.horizontalHeader()
        stretch, other = (Column.DETAILS, Column.MODEL) if embedded else (Column.MODEL, Column.DETAILS)
        header.setSectionResizeMode(other, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)

    # ---- filter, count and the empty table's hint -----------------------------------------------
    def focus_filter(self) -> None:
        self.filter_edit.setFocus()
        self.filter_edit.selectAll()

    def _on_filter_changed(self, text: str) -> None:
        self.proxy.set_filter_text(text)
        self.update_count()

    def update_count(self) -> None:
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        needle = self.filter_edit.text().strip()
        if needle:
            # a filter hiding rows must be obvious, or backends look gone
            self.count_label.setText(f"Showing {shown} of {total} backends")
        else:
            self.count_label.setText(f"{total} backend{'s' if total != 1 else ''}")
        text = ""
        if shown == 0 and self.loaded:
            if total and needle:
                text = f"No backend matches “{needle}”. Clear the filter (Esc) to see all {total}."
            elif not total:
                text = EMPTY_HERE if self.embedded else EMPTY_SERVER
        if text or self._empty_label is not None:
            self.empty_label.setText(text)
            self.empty_label.setVisible(bool(text))

    # ---- selection by backend id ----------------------------------------------------------------
    def selected_backends(self) -> list[Backend]:
        rows = self.table.selectionModel().selectedRows()
        out = [self.proxy.data(idx, BACKEND_ROLE) for idx in sorted(rows, key=lambda i: i.row())]
        return [b for b in out if b is not None]

    def select_backends(self, ids: Iterable[int]) -> None:
        from PySide6.QtCore import QItemSelectionModel

        sel = self.table.selectionModel()
        sel.clearSelection()
        first = True
        for backend_id in ids:
            row = self.model.row_of(backend_id)
            if row is None:
                continue
            idx = self.proxy.mapFromSource(self.model.index(row, 0))
            if not idx.isValid():
                continue
            flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
            if first:
                sel.setCurrentIndex(idx, flags)
                first = False
            else:
                sel.select(idx, flags)


class _FilterBox(QLineEdit):
    """The filter box: Esc clears it. A key handler rather than a QAction with a QKeySequence, which PySide6
    would build (~2 ms of its classes and enums) before the window's first paint (docs/PERFORMANCE.md, P3)."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and not event.modifiers():
            self.clear()
            event.accept()
            return
        super().keyPressEvent(event)
