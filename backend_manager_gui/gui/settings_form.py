"""A form built from a backend type's settings schema: one widget factory keyed by setting type.

Every editor is a ``_Field``: it shows a stored value, reads back a typed value, and may carry a warning
(the stored value did not fit the type) or an error (client-side validation). Settings the schema does not
describe are passed through unchanged, so an edit never drops a value the server knows about.

Secrets: a secret setting's stored value arrives as ``SECRET_MARKER``. The field stays empty (never showing
the marker) with the placeholder "(unchanged)"; left empty it reads back as ``SECRET_MARKER``, which the
server takes as "keep the old value".
"""

from __future__ import annotations

import html
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpacerItem,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.models import SECRET_MARKER, SettingSpec
from ..core.service import GpuInfo
from ..core.values import (
    DECIMAL_LIMIT,
    INT32_MAX,
    INT32_MIN,
    BadValue,
    ValueKind,
    display_text,
    hint_warning,
    kind_of,
    parse_value,
    split_list,
)
from .icons import icon

DECIMALS = 6

# Hostile schemas: long texts are cut for display (the full text stays in the tooltip up to a larger cap).
_MAX_LABEL = 60
_MAX_HELP = 800
_MAX_TOOLTIP = 4000

_ROW_GAP = 10
_WRAP_COLUMNS = 80
UNCHANGED_PLACEHOLDER = "(unchanged)"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _wrap(text: str, width: int = _WRAP_COLUMNS) -> str:
    """Break long lines at word boundaries (long words too), keeping the text's own line breaks."""
    return "\n".join(textwrap.fill(line, width) if len(line) > width else line for line in text.split("\n"))


def rich_tooltip(text: str) -> str:
    """Plain text as a tooltip: escaped (a name like ``<b>`` must not turn into markup) and wrapped by Qt."""
    body = html.escape(_short(text, _MAX_TOOLTIP), quote=False).replace("\n", "<br>")
    return f"<qt>{body}</qt>"


def _describe(value: Any) -> str:
    """A stored value as a person reads it in a warning (short; never used for secrets)."""
    return _short(repr(value), 60)


# -- editors -------------------------------------------------------------------------------------------


class _WheelGuard(QObject):
    """Spin boxes and combo boxes in a scrolled form ignore the wheel unless focused: scrolling the form
    must not change values under the pointer."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget) and not watched.hasFocus():
            event.ignore()
            return True
        return False


class _DecimalSpinBox(QDoubleSpinBox):
    """Shows 1.5 rather than 1.500000, still keeping 6 decimals."""

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        text = self.locale().toString(value, "f", self.decimals())
        point = self.locale().decimalPoint()
        if point in text:
            text = text.rstrip("0")
            if text.endswith(point):
                text += "0"
        return text


class _Field:
    """One setting's editor. The value it shows is worked out without Qt (``_prepare``), so a field whose
    widgets are not built yet still reads back, warns and validates exactly as an untouched built one would;
    ``build()`` makes the widgets (the form builds them a slice at a time: 10,000 settings must not freeze
    the window). Subclasses implement ``_prepare``/``_create``/``_show``/``_read``.

    Stored values are read with core/values.py's ``parse_value``, the rule the embedded manager checks edits with:
    what the manager would refuse is shown here as the default, with a warning."""

    def __init__(self, spec: SettingSpec) -> None:
        self.spec = spec
        self.widget: QWidget | None = None
        self.warning: str | None = None  # the stored value did not fit: shown under the field
        #: called when an edit may change ``current_warning()`` (set by the form for fields with hints)
        self.on_change: Callable[[], None] | None = None
        self.original: Any = None
        self._initial: Any = None  # what an untouched field reads back
        self._prepared = False

    @property
    def built(self) -> bool:
        return self.widget is not None

    def build(self) -> QWidget:
        if self.widget is None:
            if not self._prepared:
                self.set_value(None)
            self.widget = self._create()
            self._show()
        return self.widget

    def set_value(self, value: Any) -> None:
        self.original = value
        self.warning = None
        self._prepared = True
        self._prepare(value)
        if self.widget is not None:
            self._show()

    def value(self) -> Any:
        if self.widget is None:
            if not self._prepared:
                self.set_value(None)
            return self._initial
        return self._read()

    def error(self) -> str | None:
        return None

    def current_warning(self) -> str | None:
        """What to show under the field now: the stored value did not fit, or the spec's hint about the value."""
        if self.warning or not self.spec.ends_with:
            return self.warning
        return hint_warning(self.spec, self.value())

    def _changed(self, *_args: object) -> None:
        if self.on_change is not None:
            self.on_change()

    def _prepare(self, value: Any) -> None:
        raise NotImplementedError

    def _create(self) -> QWidget:
        raise NotImplementedError

    def _show(self) -> None:
        raise NotImplementedError

    def _read(self) -> Any:
        raise NotImplementedError

    def _fallback(self, value: Any, neutral: Any) -> Any:
        """``value`` read by the spec's rule, or the spec's default (else ``neutral``) with a warning when it
        does not fit."""
        if value is None:
            value = self.spec.default
            if value is None:
                return neutral
        try:
            return parse_value(self.spec, value)
        except BadValue as exc:
            what = exc.expected
        try:
            default = parse_value(self.spec, self.spec.default) if self.spec.default is not None else neutral
        except BadValue:
            default = neutral
        self.warning = f"Stored value {_describe(value)} is not {what}: showing {_describe(default)} instead."
        return default


class _TextField(_Field):
    edit: QLineEdit

    def _prepare(self, value: Any) -> None:
        if value is None:
            value = self.spec.default
        # A hidden value (the secret marker) is never displayed; left empty it goes back as the marker.
        self._hidden = value == SECRET_MARKER
        self._shown = "" if self._hidden else display_text(value)
        # An unchanged value goes back exactly as it came (a number stays a number).
        self._initial = self.original if self.original is not None else self._shown

    def _create(self) -> QWidget:
        self.edit = QLineEdit()
        if self.spec.ends_with:
            self.edit.textChanged.connect(self._changed)
        return self.edit

    def _show(self) -> None:
        self.edit.setText(self._shown)
        self.edit.setPlaceholderText(UNCHANGED_PLACEHOLDER if self._hidden else _short(self.spec.placeholder, 200))

    def _read(self) -> Any:
        text = self.edit.text()
        return self._initial if text == self._shown else text


class _PathField(_TextField):
    """A path on this computer (a setting whose spec says ``browse``: a file or a folder): typed, or picked with
    Browse… in a file dialog that is opened non-modally (no nested event loop inside the app's asyncio loop)."""

    def _create(self) -> QWidget:
        super()._create()
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setToolTip("Choose a folder" if self.spec.browse == "folder" else "Choose a file")
        self.browse_button.clicked.connect(self._on_browse_clicked)
        row.addWidget(self.edit, 1)
        row.addWidget(self.browse_button)
        return box

    def _on_browse_clicked(self) -> None:
        folder = self.spec.browse == "folder"
        current = Path(self.edit.text().strip()).expanduser() if self.edit.text().strip() else Path.home()
        start = current if current.is_dir() else current.parent
        dialog = QFileDialog(self.browse_button.window(), f"Choose {self.spec.name}", str(start))
        dialog.setObjectName("browseDialog")
        dialog.setFileMode(QFileDialog.FileMode.Directory if folder else QFileDialog.FileMode.ExistingFile)
        if not folder and self.spec.ends_with:
            dialog.setNameFilters([f"{self.spec.ends_with} (*{self.spec.ends_with})", "All files (*)"])
        dialog.fileSelected.connect(self.edit.setText)
        dialog.finished.connect(dialog.deleteLater)
        self.browse_dialog = dialog
        dialog.open()


class _MultilineField(_TextField):
    """A setting whose spec says ``multiline`` (``Environment``: KEY=VALUE lines), on this computer: a box of a few
    lines where Enter starts a new line (in a line edit it would press Save) and Tab moves on."""

    edit: QPlainTextEdit  # type: ignore[assignment]

    def _create(self) -> QWidget:
        self.edit = QPlainTextEdit()
        self.edit.setTabChangesFocus(True)
        self.edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        lines = 4
        margins = self.edit.contentsMargins()
        self.edit.setFixedHeight(int(self.edit.fontMetrics().lineSpacing() * lines
                                     + 2 * self.edit.document().documentMargin()
                                     + margins.top() + margins.bottom() + 2 * self.edit.frameWidth()))
        return self.edit

    def _show(self) -> None:
        self.edit.setPlainText(self._shown)
        self.edit.setPlaceholderText(UNCHANGED_PLACEHOLDER if self._hidden else _short(self.spec.placeholder, 200))

    def _read(self) -> Any:
        text = self.edit.toPlainText()
        return self._initial if text == self._shown else text


class _GpuField(_TextField):
    """A setting whose spec says ``choose="gpu"`` (``GPU_ID``), on this computer: an editable combo box offering
    the detected GPUs (index, name, memory, UUID), which stores the GPU's index; free text is still taken ("0,1",
    or anything where no GPU is detected). The GPUs arrive later (``set_choices``): reading them never blocks."""

    combo: QComboBox

    def __init__(self, spec: SettingSpec) -> None:
        super().__init__(spec)
        self._choices: list[GpuInfo] = []

    def _create(self) -> QWidget:
        self.combo = QComboBox()
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        line = self.combo.lineEdit()
        assert line is not None
        self.edit = line  # typed text, as in a plain text field
        self._fill()
        return self.combo

    def _fill(self) -> None:
        self.combo.clear()
        for gpu in self._choices:
            label = f"{gpu.label} · {gpu.uuid}" if gpu.uuid else gpu.label
            self.combo.addItem(label, str(gpu.index))
            tip = "\n".join(t for t in (gpu.label, f"UUID {gpu.uuid}" if gpu.uuid else "",
                                         f"PCI bus {gpu.pci_bus_id}" if gpu.pci_bus_id else "") if t)
            self.combo.setItemData(self.combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)

    def _show_text(self, value: str) -> None:
        """``value`` in the box: as its GPU's entry when it names one detected GPU, else as typed text."""
        at = self.combo.findData(value.strip()) if value.strip() else -1
        if at >= 0:
            self.combo.setCurrentIndex(at)
        else:
            self.combo.setCurrentIndex(-1)
            self.combo.setEditText(value)

    def _show(self) -> None:
        super()._show()  # the placeholder
        self._show_text(self._shown)

    def _typed(self) -> str:
        text = self.combo.currentText()
        at = self.combo.findText(text, Qt.MatchFlag.MatchExactly)
        return str(self.combo.itemData(at)) if at >= 0 else text

    def _read(self) -> Any:
        value = self._typed()
        return self._initial if value == self._shown else value

    def set_choices(self, gpus: Sequence[GpuInfo]) -> None:
        self._choices = list(gpus)
        if self.widget is not None:
            value = self._typed()
            self._fill()
            self._show_text(value)


class _UnknownField(_TextField):
    """A type this app does not know: edited as text, with a warning icon so the user knows why."""

    def __init__(self, spec: SettingSpec) -> None:
        super().__init__(spec)
        self.note = f"Unknown setting type '{_short(spec.type, 40)}': edited as text"

    def _create(self) -> QWidget:
        super()._create()
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        mark = QLabel()
        mark.setPixmap(icon("warning").pixmap(16, 16))
        mark.setToolTip(rich_tooltip(self.note))
        mark.setAccessibleName(self.note)
        self.edit.setToolTip(rich_tooltip(self.note))
        row.addWidget(self.edit, 1)
        row.addWidget(mark)
        self.mark = mark
        return box


class _IntegerField(_Field):
    spin: QSpinBox

    def _prepare(self, value: Any) -> None:
        self._initial = self._fallback(value, 0)

    def _create(self) -> QWidget:
        self.spin = QSpinBox()
        self.spin.setRange(INT32_MIN, INT32_MAX)
        self.spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.spin.setMinimumWidth(120)
        self.spin.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        return self.spin

    def _show(self) -> None:
        self.spin.setValue(self._initial)

    def _read(self) -> int:
        return self.spin.value()


class _DecimalField(_Field):
    spin: _DecimalSpinBox

    def _prepare(self, value: Any) -> None:
        self._initial = self._fallback(value, 0.0)

    def _create(self) -> QWidget:
        self.spin = _DecimalSpinBox()
        self.spin.setDecimals(DECIMALS)
        self.spin.setRange(-DECIMAL_LIMIT, DECIMAL_LIMIT)
        self.spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.spin.setMinimumWidth(120)
        self.spin.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        return self.spin

    def _show(self) -> None:
        self.spin.setValue(self._initial)

    def _read(self) -> float:
        # An untouched value goes back exactly (the spin box keeps only DECIMALS places: 1e-7 would become 0).
        shown = round(self.spin.value(), DECIMALS)
        if shown == round(self._initial, DECIMALS):
            return self._initial
        return shown


class _BooleanField(_Field):
    check: QCheckBox

    def _prepare(self, value: Any) -> None:
        self._initial = self._fallback(value, False)

    def _create(self) -> QWidget:
        self.check = QCheckBox()
        return self.check

    def _show(self) -> None:
        self.check.setChecked(self._initial)

    def _read(self) -> bool:
        return self.check.isChecked()


class _DropdownField(_Field):
    """Shows ``value_names``, stores ``values``. A stored value the server does not offer is kept as an
    extra entry (marked) rather than silently replaced; choosing it is reported by ``error()``."""

    combo: QComboBox

    def __init__(self, spec: SettingSpec) -> None:
        super().__init__(spec)
        self.values: tuple[str, ...] = spec.values or ()
        self._index: int | None = None  # the entry shown; None: the extra entry, or typed text (no choices)
        self._extra: str | None = None  # a stored value the server does not offer
        self._extra_index: int | None = None  # where the extra entry is in the built combo box

    def _match(self, value: Any) -> str | None:
        try:
            return str(parse_value(self.spec, value))
        except BadValue:
            return None

    def _prepare(self, value: Any) -> None:
        if value is None:
            value = self.spec.default
        self._index, self._extra = None, None
        if not self.values:
            # no choices: any text, typed into an editable combo box (a value that is no text shows the default)
            self._initial = self._fallback(value, "")
            return
        match = self._match(value) if value is not None else None
        if match is not None:
            self._index = self.values.index(match)
            self._initial = match
        elif value is None:
            self._index = 0
            self._initial = self.values[0]
        else:
            self._extra = self._initial = display_text(value)
            self.warning = f"Stored value {_describe(self._extra)} is not one of the choices the server offers."

    def _create(self) -> QWidget:
        self.combo = QComboBox()
        self.combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(16)
        names = (
            self.spec.value_names
            if self.spec.value_names and len(self.spec.value_names) == len(self.values)
            else self.values
        )
        # No choices at all: let the user type (an editable combo) instead of offering an empty list.
        self.combo.setEditable(not self.values)
        for stored, shown in zip(self.values, names, strict=False):
            self.combo.addItem(_short(shown, 120), stored)
            self.combo.setItemData(self.combo.count() - 1, rich_tooltip(shown), Qt.ItemDataRole.ToolTipRole)
        return self.combo

    def _show(self) -> None:
        if self._extra_index is not None:
            self.combo.removeItem(self._extra_index)
            self._extra_index = None
        if not self.values:
            self.combo.setEditText(self._initial)
        elif self._extra is not None:
            self.combo.addItem(f"{_short(self._extra, 80)} (not offered by the server)", self._extra)
            self._extra_index = self.combo.count() - 1
            self.combo.setCurrentIndex(self._extra_index)
        else:
            self.combo.setCurrentIndex(self._index or 0)

    def _read(self) -> Any:
        if not self.values:
            return self.combo.currentText()
        data = self.combo.currentData()
        return data if data is not None else self.combo.currentText()

    def error(self) -> str | None:
        if self.widget is None:
            chose_extra = self._extra is not None
        else:
            chose_extra = self._extra_index is not None and self.combo.currentIndex() == self._extra_index
        if self.values and chose_extra:
            return f"{_describe(self.value())} is not one of the choices: pick one."
        return None


class _ListField(_Field):
    """A comma-separated line; reads back as a list of stripped, non-empty strings (untouched: the stored list)."""

    edit: QLineEdit

    def _prepare(self, value: Any) -> None:
        self._initial = self._fallback(value, [])
        self._text = ", ".join(self._initial)

    def _create(self) -> QWidget:
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(_short(self.spec.placeholder, 200) or "item 1, item 2, …")
        return self.edit

    def _show(self) -> None:
        self.edit.setText(self._text)

    def _read(self) -> list[str]:
        text = self.edit.text()
        return list(self._initial) if text == self._text else split_list(text)


class _SecretField(_Field):
    """A password field with a show/hide button. The stored secret is never displayed: an empty field
    means "keep it" (reads back as ``SECRET_MARKER``); "Clear" removes it."""

    edit: QLineEdit

    def __init__(self, spec: SettingSpec) -> None:
        super().__init__(spec)
        self.has_stored = False

    def _prepare(self, value: Any) -> None:
        # Only the marker means "a secret is stored". A plain value (a service that hands it out) is
        # shown masked, as typed text would be.
        self.has_stored = value == SECRET_MARKER
        self._text = "" if value is None or self.has_stored else display_text(value)
        self._initial = SECRET_MARKER if self.has_stored else self._text

    def _create(self) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        self.edit = QLineEdit()
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setAccessibleName(self.spec.name)
        self.reveal = QToolButton()
        self.reveal.setCheckable(True)
        self.reveal.setIcon(icon("show"))
        self.reveal.setToolTip("Show the text you typed")
        self.reveal.toggled.connect(self._on_reveal_toggled)
        self.clear = QToolButton()
        self.clear.setText("Clear")
        self.clear.setToolTip("Remove the stored secret when saving")
        self.clear.setCheckable(True)
        self.clear.toggled.connect(self._on_clear_toggled)
        row.addWidget(self.edit, 1)
        row.addWidget(self.reveal)
        row.addWidget(self.clear)
        return box

    def _on_reveal_toggled(self, shown: bool) -> None:
        self.edit.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)
        self.reveal.setIcon(icon("hide" if shown else "show"))
        self.reveal.setToolTip("Hide the text" if shown else "Show the text you typed")

    def _on_clear_toggled(self, cleared: bool) -> None:
        if cleared:
            self.edit.clear()
        self.edit.setEnabled(not cleared)
        self._update_placeholder()

    def _update_placeholder(self) -> None:
        if self.clear.isChecked():
            self.edit.setPlaceholderText("(will be removed)")
        elif self.has_stored:
            self.edit.setPlaceholderText(UNCHANGED_PLACEHOLDER)
        else:
            self.edit.setPlaceholderText(_short(self.spec.placeholder, 200))

    def _show(self) -> None:
        self.clear.setChecked(False)
        self.edit.setText(self._text)
        self.clear.setVisible(self.has_stored)
        self._update_placeholder()

    def _read(self) -> str:
        if self.clear.isChecked():
            return ""
        text = self.edit.text()
        if not text and self.has_stored:
            return SECRET_MARKER
        return text


_Builder = Callable[[SettingSpec], _Field]

#: The one factory: a setting's value kind (core/values.py) → its editor. Groups are sections, not editors.
FIELD_BUILDERS: dict[ValueKind, _Builder] = {
    ValueKind.TEXT: _TextField,
    ValueKind.INTEGER: _IntegerField,
    ValueKind.DECIMAL: _DecimalField,
    ValueKind.BOOLEAN: _BooleanField,
    ValueKind.DROPDOWN: _DropdownField,
    ValueKind.LIST: _ListField,
    ValueKind.SECRET: _SecretField,
}


def build_field(spec: SettingSpec, *, browse_paths: bool = False) -> _Field:
    """The editor of ``spec``; its widgets are made by ``build()``. ``browse_paths``: the service runs on this
    computer, so the local hints count (only this app's own types have them: they never come over the wire): text
    settings whose spec says ``browse`` get a Browse… button, one that says ``choose="gpu"`` offers the GPUs."""
    kind = kind_of(spec)
    if browse_paths and kind is ValueKind.TEXT and spec.browse is not None:
        return _PathField(spec)
    if browse_paths and kind is ValueKind.TEXT and spec.choose == "gpu":
        return _GpuField(spec)
    if browse_paths and kind is ValueKind.TEXT and spec.multiline:
        return _MultilineField(spec)
    return FIELD_BUILDERS.get(kind, _UnknownField)(spec)


# -- the form ------------------------------------------------------------------------------------------

#: Rows built before the constructor returns: a screenful and more, so the first paint shows a filled form
#: and small schemas (every real SwarmUI type) are complete at once.
EAGER_ROWS = 40
#: Rows per page. Each page is a widget with its own QFormLayout: adding rows re-lays out one page, not
#: every row built so far (QFormLayout's work per insert grows with its row count: 10,000 rows took 16 s).
PAGE_ROWS = 50
#: The longest the form builds in one go before letting the event loop run (input, paint, network).
SLICE_S = 0.008


class _Section:
    """Where rows go: the top of the form or one group box, as a column of pages with even label columns.

    A page is filled while hidden and joins the column whole (``close_page``): a shown page that gets rows one
    by one is re-laid out as each new widget appears."""

    def __init__(self, form: SettingsForm, column: QVBoxLayout) -> None:
        self._form = form
        self.column = column
        self._page: QWidget | None = None
        self._layout: QFormLayout | None = None
        self._rows_in_page = 0
        self._first_labels: list[QLabel] = []
        self._label_width = 0

    def add_label(self, label: QLabel) -> QFormLayout:
        """The layout the row of ``label`` goes into (a new page when none is open or it is full)."""
        if self._layout is None or self._rows_in_page >= PAGE_ROWS:
            self.close_page()
            self._page = QWidget(self.column.parentWidget())  # hidden until close_page adds it
            self._layout = self._form._new_form()
            self._layout.setContentsMargins(0, 0, 0, 0)
            self._page.setLayout(self._layout)
            self._rows_in_page = 0
            # The widest label of the section sets every page's label column: the first label of each page
            # carries it as its minimum width (growing it touches one label per page, not every label).
            self._first_labels.append(label)
            label.setMinimumWidth(self._label_width)
        self._rows_in_page += 1
        width = label.sizeHint().width()
        if width > self._label_width:
            self._label_width = width
            for first in self._first_labels:
                first.setMinimumWidth(width)
        return self._layout

    def close_page(self) -> None:
        if self._page is not None:
            self.column.addWidget(self._page)
        self._page, self._layout = None, None


#: Qt takes a null label (a row with only a field); PySide6's type stubs do not say so.
_NO_LABEL = cast(QWidget, None)


def _row_of(layout: QFormLayout, widget: QWidget) -> int:
    at, _role = cast(tuple[int, QFormLayout.ItemRole], layout.getWidgetPosition(widget))
    return at


class _Row:
    """One setting's place in the form: built or still waiting."""

    __slots__ = ("duplicate", "field", "layout", "section", "warning_label")

    def __init__(self, field: _Field, section: _Section, duplicate: bool) -> None:
        self.field = field
        self.section = section
        self.duplicate = duplicate
        self.layout: QFormLayout | None = None
        self.warning_label: QLabel | None = None


class SettingsForm(QWidget):
    """Editors for ``specs``, showing ``values``. Put it in a QScrollArea: long schemas are tall.

    The first ``EAGER_ROWS`` settings are built at once; the rest a slice (≤ ``SLICE_S``) at a time from the
    event loop, so a schema of 10,000 settings never freezes the window. Until its row is built a setting
    reads back, warns and validates as its untouched editor would; ``widget_for`` builds on demand.
    """

    def __init__(
        self, specs: Sequence[SettingSpec], values: Mapping[str, Any], parent: QWidget | None = None,
        *, browse_paths: bool = False,
    ) -> None:
        super().__init__(parent)
        self._browse_paths = browse_paths
        self._gpu_choices: list[GpuInfo] = []
        self._fields: dict[str, _Field] = {}
        self._rows: list[_Row] = []
        self._row_of: dict[str, int] = {}
        self._passthrough: dict[str, Any] = {}
        self._wheel_guard = _WheelGuard(self)
        self._help_font = self.font()
        self._help_font.setPointSizeF(max(self._help_font.pointSizeF() * 0.9, 7.0))
        self._help_palette = self.palette()
        self._help_palette.setColor(QPalette.ColorRole.WindowText, self.palette().color(QPalette.ColorRole.PlaceholderText))
        self._warning_palette = self.palette()
        self._warning_palette.setColor(QPalette.ColorRole.WindowText, QColor("#a36b00"))
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        # The form grows as slices add rows. Without this its layout runs at the old, too small height before the
        # scroll area enlarges it: every page squeezed, then stretched back — each slice re-laid out every row.
        outer.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        self._outer = outer
        # Groups are made as the build reaches them (in order): (row index they come before, group spec, section).
        self._groups: list[tuple[int, SettingSpec, _Section]] = []
        self._section = _Section(self, self._new_column())
        outer.addLayout(self._section.column)
        # The schema is read into fields a slice at a time too (10,000 fields take ~0.1 s of pure Python); anything
        # that needs every field (values(), errors(), set_values()…) reads the rest first.
        self._specs = list(specs)
        self._initial_values = dict(values)
        self._next_spec = 0
        self._stretch_added = False
        self._next_row = 0
        self._next_group = 0
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._on_build_slice)
        self._build(EAGER_ROWS - 1)
        if not self.fully_built():
            self._timer.start()

    def _read_specs(self, rows: int, deadline: float | None = None) -> None:
        """Turn specs into fields until there are ``rows`` rows (or the deadline passes, or none are left)."""
        values = self._initial_values
        while self._next_spec < len(self._specs) and len(self._rows) < rows:
            if deadline is not None and self._next_spec % 64 == 0 and time.perf_counter() >= deadline:
                return
            spec = self._specs[self._next_spec]
            self._next_spec += 1
            if kind_of(spec) is ValueKind.GROUP:
                self._section = _Section(self, self._new_column())
                self._groups.append((len(self._rows), spec, self._section))
                continue
            stored = values.get(spec.name)
            if stored == SECRET_MARKER and not spec.is_secret:
                # The service hides this value, so it is a secret whatever the schema says: never show the marker.
                spec = replace(spec, is_secret=True)
            field = build_field(spec, browse_paths=self._browse_paths)
            if isinstance(field, _GpuField) and self._gpu_choices:
                field.set_choices(self._gpu_choices)
            duplicate = spec.name in self._fields
            if not duplicate:
                self._fields[spec.name] = field
                self._row_of[spec.name] = len(self._rows)
                field.set_value(stored)
            self._rows.append(_Row(field, self._section, duplicate))
        if self._next_spec >= len(self._specs) and self._initial_values:
            # Every field exists now: stored values no setting describes are sent back unchanged.
            for name, value in values.items():
                if name not in self._fields:
                    self._passthrough[name] = value
            self._initial_values = {}

    def _read_all_specs(self) -> None:
        self._read_specs(len(self._specs) + 1)

    def _new_column(self) -> QVBoxLayout:
        column = QVBoxLayout()
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)  # as QFormLayout's vertical spacing: pages join without a seam
        return column

    @staticmethod
    def _new_form() -> QFormLayout:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setVerticalSpacing(2)  # the gap between settings comes from _ROW_GAP under each one
        return form

    def _help_label(self, text: str) -> QLabel:
        # Wrapped here, not by QLabel: word-wrapped labels make QFormLayout size rows by height-for-width at a
        # guessed width, leaving gaps under the help texts inside a scroll area (and cost time with 10,000 rows).
        label = QLabel(_wrap(_short(text.strip(), _MAX_HELP)))
        label.setTextFormat(Qt.TextFormat.PlainText)
        # A palette and a shared font, not a style sheet: per-widget style sheets cost ~1 ms each (10,000 rows).
        label.setFont(self._help_font)
        label.setPalette(self._help_palette)
        label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        label.setContentsMargins(0, 0, 0, _ROW_GAP)  # close under its field, apart from the next setting
        return label

    # -- building --------------------------------------------------------------------------------------

    def fully_built(self) -> bool:
        """Whether every setting's editor exists (a big schema is built a slice at a time after the first paint)."""
        return (
            self._next_spec >= len(self._specs)
            and self._next_row >= len(self._rows)
            and self._next_group >= len(self._groups)
        )

    def _on_build_slice(self) -> None:
        deadline = time.perf_counter() + SLICE_S
        if self._next_spec < len(self._specs):
            self._read_specs(len(self._specs) + 1, deadline)
            return
        self._build(len(self._rows), deadline=deadline)
        if self.fully_built():
            self._timer.stop()

    def _build(self, through: int, deadline: float | None = None) -> None:
        """Build rows in order through row ``through`` (and the groups before them), or with a ``deadline``
        as many as fit before it."""
        self._read_specs(through + 1)
        open_sections: set[_Section] = set()
        try:
            while True:
                while self._next_group < len(self._groups) and self._groups[self._next_group][0] <= self._next_row:
                    self._add_group(*self._groups[self._next_group][1:])
                    self._next_group += 1
                if self._next_row >= len(self._rows) or (deadline is None and self._next_row > through):
                    break
                if deadline is not None and time.perf_counter() >= deadline:
                    break
                row = self._rows[self._next_row]
                self._build_row(row)
                open_sections.add(row.section)
                self._next_row += 1
        finally:
            # Each slice ends its pages: the next slice's rows go to new (hidden) pages.
            for section in open_sections:
                section.close_page()
            if self.fully_built() and not self._stretch_added:
                self._outer.addStretch(1)
                self._stretch_added = True

    def _add_group(self, spec: SettingSpec, section: _Section) -> None:
        box = QGroupBox(_short(spec.name, 120) or "(unnamed group)")
        if spec.description:
            box.setToolTip(rich_tooltip(spec.description))
        inner = QVBoxLayout(box)
        if spec.description:
            inner.addWidget(self._help_label(spec.description))
        inner.addLayout(section.column)
        self._outer.addWidget(box)

    def _build_row(self, row: _Row) -> None:
        field, spec = row.field, row.field.spec
        widget = field.build()
        wheeled = getattr(field, "spin", None) or getattr(field, "combo", None)
        if wheeled is not None:
            wheeled.installEventFilter(self._wheel_guard)
        label = QLabel(_short(spec.name, _MAX_LABEL) or "(unnamed)")
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        label.setToolTip(rich_tooltip(spec.name + ("\n\n" + spec.description if spec.description else "")))
        if spec.description and not widget.toolTip():
            widget.setToolTip(rich_tooltip(spec.description))
        layout = row.section.add_label(label)
        layout.addRow(label, widget)
        row.layout = layout
        # Help goes under the field, in the field column, as a row of its own (no container widget per setting).
        # The warning row between them is only made when there is a warning.
        if spec.description.strip():
            layout.setWidget(layout.rowCount(), QFormLayout.ItemRole.FieldRole, self._help_label(spec.description))
        else:
            layout.setItem(layout.rowCount(), QFormLayout.ItemRole.FieldRole, QSpacerItem(0, _ROW_GAP))
        if row.duplicate:
            # Two settings with one name cannot both be saved: the first one wins, this one is inert.
            widget.setEnabled(False)
            self._show_warning(row, f"Another setting is already named {_describe(spec.name)}: this one is ignored.")
        else:
            if spec.ends_with:
                # the spec's hint about the value (a file name it should end in) is shown while typing
                field.on_change = lambda: self._show_warning(row, field.current_warning())
            self._show_warning(row, field.current_warning())

    def _show_warning(self, row: _Row, text: str | None) -> None:
        if row.layout is None:
            return  # not built yet: the row shows the field's warning when it is
        if row.warning_label is None:
            if not text:
                return
            label = QLabel()
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setPalette(self._warning_palette)
            label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            assert row.field.widget is not None
            row.layout.insertRow(_row_of(row.layout, row.field.widget) + 1, _NO_LABEL, label)
            row.warning_label = label
        row.warning_label.setText(_wrap(text or ""))
        row.layout.setRowVisible(_row_of(row.layout, row.warning_label), bool(text))

    # -- public API ------------------------------------------------------------------------------------

    def set_gpu_choices(self, gpus: Sequence[GpuInfo]) -> None:
        """The GPUs this computer has, offered by every setting whose spec says ``choose="gpu"`` (``GPU_ID``)."""
        self._gpu_choices = list(gpus)
        for field in self._fields.values():
            if isinstance(field, _GpuField):
                field.set_choices(gpus)

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Show ``values``; names the schema does not describe are kept and sent back unchanged."""
        self._read_all_specs()
        for name, value in values.items():
            if name not in self._fields:
                self._passthrough[name] = value
        for name, field in self._fields.items():
            if name in values or field.original is None:
                field.set_value(values.get(name))
                self._show_warning(self._rows[self._row_of[name]], field.current_warning())

    def values(self) -> dict[str, Any]:
        self._read_all_specs()
        out = dict(self._passthrough)
        for name, field in self._fields.items():
            out[name] = field.value()
        return out

    def errors(self) -> dict[str, str]:
        """Client-side validation: setting name → what is wrong, in words."""
        self._read_all_specs()
        out: dict[str, str] = {}
        for name, field in self._fields.items():
            problem = field.error()
            if problem:
                out[name] = problem
        return out

    def warnings(self) -> dict[str, str]:
        """What is shown under the fields: stored values that did not fit their type (replaced by the default),
        and the specs' hints about the values now in the fields (advice: saving is not blocked)."""
        self._read_all_specs()
        out: dict[str, str] = {}
        for name, field in self._fields.items():
            warning = field.current_warning()
            if warning:
                out[name] = warning
        return out

    def widget_for(self, name: str) -> QWidget:
        """The editor of setting ``name`` (the line edit / spin box / check box / combo box itself); built now
        (with the rows before it) if the slices have not reached it yet."""
        self._read_all_specs()
        field = self._fields[name]
        if not field.built:
            self._build(self._row_of[name])
        for attr in ("edit", "spin", "check", "combo"):
            widget = getattr(field, attr, None)
            if widget is not None:
                return widget
        assert field.widget is not None
        return field.widget

    def is_built(self, name: str) -> bool:
        """Whether the editor of setting ``name`` exists yet (``widget_for`` would not have to build it)."""
        field = self._fields.get(name)
        return field is not None and field.built

    def field_names(self) -> list[str]:
        self._read_all_specs()
        return list(self._fields)
