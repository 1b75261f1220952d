"""The backends table as the person sees it: the filter box and row count above it, the hint an empty table
shows, the columns each kind of service fills, and the selection read and set by backend id."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QToolTip,
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
    from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSettings
    from PySide6.QtGui import QHelpEvent, QKeyEvent

    from ..core.models import Backend

#: Starting widths; the header's saved state replaces them once the person has resized.
COLUMN_WIDTHS = ((Column.ID, 40), (Column.TITLE, 170), (Column.TYPE, 150), (Column.STATUS, 100), (Column.DETAILS, 300),
                 (Column.ENABLED, 64), (Column.MODEL, 260), (Column.LAST_USED, 80), (Column.GPU, 110), (Column.PORT, 56),
                 (Column.QUEUE, 140), (Column.URL, 170), (Column.HOST, 170))
#: The empty table's hint; the Add menu's entries (the service's own types) go between its first and last line.
EMPTY_HERE = ("No backends yet.", "Backends → One backend per GPU: one self-starting ComfyUI for each NVIDIA GPU.")
EMPTY_SERVER = ("This server has no backends yet.", "")


class CutTextTooltips(QStyledItemDelegate):
    """A cell whose text is cut ("Remote LLM (Op…") shows the whole text as its tooltip, unless the model has a
    tooltip of its own for it. Painting is Qt's own: only the tooltip event comes to Python."""

    def helpEvent(self, event: QHelpEvent, view: QAbstractItemView, option: QStyleOptionViewItem,
                  index: QModelIndex | QPersistentModelIndex) -> bool:
        if (event is not None and event.type() == QEvent.Type.ToolTip and index.isValid()
                and not index.data(Qt.ItemDataRole.ToolTipRole)):
            text = self.cut_text(option, index, view)
            if text:
                QToolTip.showText(event.globalPos(), text, view)
                return True
        return super().helpEvent(event, view, option, index)

    def cut_text(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex,
                 view: QWidget | None) -> str:
        """The cell's whole text when the cell is too narrow for it (the view draws it cut), else ""."""
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        if not opt.text:
            return ""
        style = view.style() if view is not None else QApplication.style()
        rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt, view)
        # the margin Qt's item painting keeps on each side of the text (QCommonStyle's viewItemDrawText)
        margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1
        return opt.text if opt.fontMetrics.horizontalAdvance(opt.text) > rect.width() - 2 * margin else ""


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
        self.several = False
        #: (name, what it is) of each standard entry of the Add menu, for the empty table's hint
        self._add_choices: list[tuple[str, str]] = []
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
        # why a backend is in its state is read at a glance beside its status; the last column takes the spare width
        header.setStretchLastSection(True)
        header.moveSection(header.visualIndex(Column.DETAILS), header.visualIndex(Column.STATUS) + 1)
        # a cut text keeps its start ("not set up yet: Start…", not "no…starting"); the tooltip has it whole
        table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.tooltips = CutTextTooltips(table)
        table.setItemDelegate(self.tooltips)
        self._header = header
        self.reset_column_widths()
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
    def header_key(self) -> str:
        """Column widths are kept per kind of connection: a server's Model column, this computer's GPU and Port."""
        kind = "several" if self.several else "local" if self.embedded else "server"
        return f"table/header/{kind}"

    def save_header(self, settings: QSettings) -> None:
        settings.setValue(self.header_key(), self._header.saveState())

    def restore_header(self, settings: QSettings) -> bool:
        """The columns as the person last left them for this kind of connection (True), else the starting widths."""
        state = settings.value(self.header_key())
        if isinstance(state, QByteArray) and not state.isEmpty():
            self._header.restoreState(state)
            return True
        self.reset_column_widths()
        return False

    def reset_column_widths(self) -> None:
        """The starting widths (a stretching column keeps taking the spare width)."""
        for col, width in COLUMN_WIDTHS:
            self._header.resizeSection(col, width)

    def show_columns_for(self, embedded: bool, *, remote: bool | None = None, several: bool = False) -> None:
        """The columns the open connections fill: this computer's (``embedded``), a server's (``remote``: by default
        when not embedded), and the Host column while ``several`` connections are open (first, where it is read)."""
        self.embedded = embedded
        self.several = several
        remote = not embedded if remote is None else remote
        for col in LOCAL_ONLY_COLUMNS:
            self.table.setColumnHidden(col, not embedded)
        for col in REMOTE_ONLY_COLUMNS:
            self.table.setColumnHidden(col, not remote)
        self.table.setColumnHidden(Column.HOST, not several)
        header = self.table.horizontalHeader()
        if several and header.visualIndex(Column.HOST) != 0:
            header.moveSection(header.visualIndex(Column.HOST), 0)
        # the long texts (our manager's reasons, a server's models) keep a real width of their own: a stretching
        # column shrinks to nothing once the other columns fill the window; the spare width goes to the last one
        for col in (Column.DETAILS, Column.MODEL):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)

    # ---- filter, count and the empty table's hint -----------------------------------------------
    def set_add_choices(self, choices: Iterable[tuple[str, str]]) -> None:
        """The Add menu's standard entries, (name, what it is), as the service describes its types."""
        self._add_choices = list(choices)
        self.update_count()

    def empty_hint(self) -> str:
        first, last = EMPTY_HERE if self.embedded else EMPTY_SERVER
        lines = [f"Add → {name}: {what}" if what else f"Add → {name}" for name, what in self._add_choices]
        if not lines:
            lines = ["Add one with Add."]
        return "\n".join([first, "", *lines, *([last] if last else [])])

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
        if needle or self.proxy.host_filter is not None:
            # a filter hiding rows must be obvious, or backends look gone
            self.count_label.setText(f"Showing {shown} of {total} backends")
        else:
            self.count_label.setText(f"{total} backend{'s' if total != 1 else ''}")
        text = ""
        if shown == 0 and self.loaded:
            if total and needle:
                text = f"No backend matches “{needle}”. Clear the filter (Esc) to see all {total}."
            elif total:
                text = "This connection has no backends yet. Choose “All connections” to see every one."
            elif not total:
                text = self.empty_hint()
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
