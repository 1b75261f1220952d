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
import math
import textwrap
from dataclasses import replace
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSpacerItem,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.models import SECRET_MARKER, SettingKind, SettingSpec
from .icons import icon

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
DECIMAL_LIMIT = 1e15  # wide enough for any sensible setting, small enough to keep 6 decimals exact
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


# -- value parsers: pure, raise ValueError when the stored value does not fit the type ------------------


def parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a yes/no value")
    if isinstance(value, int):
        out = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not a whole number")
        out = int(value)
    elif isinstance(value, str):
        out = int(value.strip())
    else:
        raise ValueError("not a whole number")
    if not INT32_MIN <= out <= INT32_MAX:
        raise ValueError("outside the 32-bit range")
    return out


def parse_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a yes/no value")
    if isinstance(value, (int, float)):
        out = float(value)
    elif isinstance(value, str):
        out = float(value.strip())
    else:
        raise ValueError("not a number")
    if not math.isfinite(out) or abs(out) > DECIMAL_LIMIT:
        raise ValueError("outside the range")
    return out


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", "1", "0", "on", "off"):
        return value.strip().lower() in ("true", "yes", "1", "on")
    raise ValueError("not true or false")


def parse_list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    raise ValueError("not a list")


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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
    """One setting's editor. Subclasses set ``widget`` and implement ``_show``/``value``."""

    def __init__(self, spec: SettingSpec) -> None:
        self.spec = spec
        self.widget: QWidget = QWidget()
        self.warning: str | None = None  # the stored value did not fit: shown under the field
        self.original: Any = None

    def set_value(self, value: Any) -> None:
        self.original = value
        self.warning = None
        self._show(value)

    def _show(self, value: Any) -> None:
        raise NotImplementedError

    def value(self) -> Any:
        raise NotImplementedError

    def error(self) -> str | None:
        return None

    def _fallback(self, value: Any, parse: Callable[[Any], Any], neutral: Any, what: str) -> Any:
        """``parse(value)``, or the spec's default (else ``neutral``) with a warning when it does not fit."""
        if value is None:
            value = self.spec.default
            if value is None:
                return neutral
        try:
            return parse(value)
        except (ValueError, TypeError, OverflowError):
            pass
        try:
            default = parse(self.spec.default) if self.spec.default is not None else neutral
        except (ValueError, TypeError, OverflowError):
            default = neutral
        self.warning = f"Stored value {_describe(value)} is not {what}: showing {_describe(default)} instead."
        return default


class _TextField(_Field):
    def __init__(self, spec: SettingSpec) -> None:
        super().__init__(spec)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(_short(spec.placeholder, 200))
        self.widget = self.edit
        self._shown = ""

    def _show(self, value: Any) -> None:
        if value is None:
            value = self.spec.default
        # A hidden value (the secret marker) is never displayed; left empty it goes back as the marker.
        self._shown = "" if value == SECRET_MARKER else _as_text(value)
        self.edit.setText(self._shown)
        if value == SECRET_MARKER:
            self.edit.setPlaceholderText(UNCHANGED_PLACEHOLDER)

    def value(self) -> Any:
        # An unchanged value goes back exactly as it came (a number stays a number).
        if self.edit.text() == self._shown and self.original is not None:
            return self.original
        return self.edit.text()


class _UnknownField(_TextField):
    """A type this app does not know: edited as text, with a warning icon so the user knows why."""

    def __init__(self, spec: SettingSpec) -> None:
        super().__init__(spec)
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        mark = QLabel()
        mark.setPixmap(icon("warning").pixmap(16, 16))
        self.note = f"Unknown setting type '{_short(spec.type, 40)}': edited as text"
        mark.setToolTip(rich_tooltip(self.note))
        mark.setAccessibleName(self.note)
        self.edit.setToolTip(rich_tooltip(self.note))
        row.addWidget(self.edit, 1)
        row.addWidget(mark)
        self.mark = mark
        self.widget = box


class _IntegerField(_Field):
    def __init__(self, spec: SettingSpec) -> None:
        super().__init__(spec)
        self.spin = QSpinBox()
        self.spin.setRange(INT32_MIN, INT32_MAX)
        self.spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.spin.setMinimumWidth(120)
        self.spin.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.widget = self.spin

    def _show(self, value: Any) -> None:
        self.spin.setValue(self._fallback(value, parse_int, 0, "a whole number"))

    def value(self) -> int:
        return self.spin.value()


class _DecimalField(_Field):
    def __init__(self, spec: SettingSpec) -> None:
        super().__init__(spec)
        self.spin = _DecimalSpinBox()
        self.spin.setDecimals(DECIMALS)
        self.spin.setRange(-DECIMAL_LIMIT, DECIMAL_LIMIT)
        self.spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.spin.setMinimumWidth(120)
        self.spin.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.widget = self.spin
        self._parsed = 0.0

    def _show(self, value: Any) -> None:
        self._parsed = self._fallback(value, parse_float, 0.0, "a number")
        self.spin.setValue(self._parsed)

    def value(self) -> float:
        # An untouched value goes back exactly (the spin box keeps only DECIMALS places: 1e-7 would become 0).
        shown = round(self.spin.value(), DECIMALS)
        if shown == round(self._parsed, DECIMALS):
            return self._parsed
        return shown


class _BooleanField(_Field):
    def __init__(self, spec: SettingSpec) -> None:
        super().__init__(spec)
        self.check = QCheckBox()
        self.widget = self.check

    def _show(self, value: Any) -> None:
        self.check.setChecked(self._fallback(value, parse_bool, False, "true or false"))

    def value(self) -> bool:
        return self.check.isChecked()


class _DropdownField(_Field):
    """Shows ``value_names``, stores ``values``. A stored value the server does not offer is kept as an
    extra entry (marked) rather than silently replaced; choosing it is reported by ``error()``."""

    def __init__(self, spec: SettingSpec) -> None:
        super().__init__(spec)
        self.combo = QComboBox()
        self.combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(16)
        self.values: tuple[str, ...] = spec.values or ()
        names = spec.value_names if spec.value_names and len(spec.value_names) == len(self.values) else self.values
        # No choices at all: let the user type (an editable combo) instead of offering an empty list.
        self.combo.setEditable(not self.values)
        for stored, shown in zip(self.values, names):
            self.combo.addItem(_short(shown, 120), stored)
            self.combo.setItemData(self.combo.count() - 1, rich_tooltip(shown), Qt.ItemDataRole.ToolTipRole)
        self._extra_index: int | None = None
        self.widget = self.combo

    def _match(self, value: Any) -> str | None:
        text = _as_text(value)
        if text in self.values:
            return text
        lowered = {v.lower(): v for v in self.values}
        return lowered.get(text.lower())

    def _show(self, value: Any) -> None:
        if self._extra_index is not None:
            self.combo.removeItem(self._extra_index)
            self._extra_index = None
        if value is None:
            value = self.spec.default
        if not self.values:
            self.combo.setEditText(_as_text(value))
            return
        match = self._match(value) if value is not None else None
        if match is not None:
            self.combo.setCurrentIndex(self.values.index(match))
        elif value is None:
            self.combo.setCurrentIndex(0)
        else:
            text = _as_text(value)
            self.combo.addItem(f"{_short(text, 80)} (not offered by the server)", text)
            self._extra_index = self.combo.count() - 1
            self.combo.setCurrentIndex(self._extra_index)
            self.warning = f"Stored value {_describe(text)} is not one of the choices the server offers."

    def value(self) -> Any:
        if not self.values:
            return self.combo.currentText()
        data = self.combo.currentData()
        return data if data is not None else self.combo.currentText()

    def error(self) -> str | None:
        if self.values and self._extra_index is not None and self.combo.currentIndex() == self._extra_index:
            return f"{_describe(self.value())} is not one of the choices: pick one."
        return None


class _ListField(_Field):
    """A comma-separated line; reads back as a list of stripped, non-empty strings."""

    def __init__(self, spec: SettingSpec) -> None:
        super().__init__(spec)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(_short(spec.placeholder, 200) or "item 1, item 2, …")
        self.widget = self.edit

    def _show(self, value: Any) -> None:
        items = self._fallback(value, parse_list, [], "a list")
        self.edit.setText(", ".join(items))

    def value(self) -> list[str]:
        return parse_list(self.edit.text())


class _SecretField(_Field):
    """A password field with a show/hide button. The stored secret is never displayed: an empty field
    means "keep it" (reads back as ``SECRET_MARKER``); "Clear" removes it."""

    def __init__(self, spec: SettingSpec) -> None:
        super().__init__(spec)
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        self.edit = QLineEdit()
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setAccessibleName(spec.name)
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
        self.widget = box
        self.has_stored = False

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

    def _show(self, value: Any) -> None:
        self.clear.setChecked(False)
        # Only the marker means "a secret is stored". A plain value (a service that hands it out) is
        # shown masked, as typed text would be.
        self.has_stored = value == SECRET_MARKER
        self.edit.setText("" if value is None or self.has_stored else _as_text(value))
        self.clear.setVisible(self.has_stored)
        self._update_placeholder()

    def value(self) -> str:
        if self.clear.isChecked():
            return ""
        text = self.edit.text()
        if not text and self.has_stored:
            return SECRET_MARKER
        return text


_Builder = Callable[[SettingSpec], _Field]

#: The one factory: setting type → editor. Secrets and unknown types are decided in ``build_field``.
FIELD_BUILDERS: dict[str, _Builder] = {
    SettingKind.TEXT.value: _TextField,
    SettingKind.INTEGER.value: _IntegerField,
    SettingKind.DECIMAL.value: _DecimalField,
    SettingKind.BOOLEAN.value: _BooleanField,
    "bool": _BooleanField,  # older servers
    SettingKind.DROPDOWN.value: _DropdownField,
    SettingKind.LIST.value: _ListField,
}


def build_field(spec: SettingSpec) -> _Field:
    if spec.is_secret:
        return _SecretField(spec)
    return FIELD_BUILDERS.get(spec.type, _UnknownField)(spec)


class SettingsForm(QWidget):
    """Editors for ``specs``, showing ``values``. Put it in a QScrollArea: long schemas are tall."""

    def __init__(
        self, specs: Sequence[SettingSpec], values: Mapping[str, Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._fields: dict[str, _Field] = {}
        self._warning_labels: dict[str, tuple[QFormLayout, int, QLabel]] = {}
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
        form = self._new_form()
        outer.addLayout(form)
        for spec in specs:
            if spec.type == SettingKind.GROUP.value and not spec.is_secret:
                box = QGroupBox(_short(spec.name, 120) or "(unnamed group)")
                if spec.description:
                    box.setToolTip(rich_tooltip(spec.description))
                form = self._new_form()
                inner = QVBoxLayout(box)
                if spec.description:
                    inner.addWidget(self._help_label(spec.description))
                inner.addLayout(form)
                outer.addWidget(box)
                continue
            if values.get(spec.name) == SECRET_MARKER and not spec.is_secret:
                # The service hides this value, so it is a secret whatever the schema says: never show the marker.
                spec = replace(spec, is_secret=True)
            self._add_row(form, spec)
        outer.addStretch(1)
        self._even_label_columns()
        self.set_values(values)

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

    def _warning_label(self, text: str) -> QLabel:
        label = QLabel(_wrap(text))
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setPalette(self._warning_palette)
        label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        return label

    def _even_label_columns(self) -> None:
        """Give every label of a form the width of the widest one. QFormLayout otherwise sizes the wrapped help
        texts above the widest label for a narrower column, leaving gaps under them (seen with PySide6 6.11)."""
        for form in self.findChildren(QFormLayout):
            labels = [form.itemAt(r, QFormLayout.ItemRole.LabelRole) for r in range(form.rowCount())]
            widgets = [item.widget() for item in labels if item is not None and item.widget() is not None]
            if widgets:
                width = max(w.sizeHint().width() for w in widgets)
                for w in widgets:
                    w.setMinimumWidth(width)

    def _add_row(self, form: QFormLayout, spec: SettingSpec) -> None:
        field = build_field(spec)
        for child in (field.widget, *field.widget.findChildren(QWidget)):
            if isinstance(child, (QSpinBox, QDoubleSpinBox, QComboBox)):
                child.installEventFilter(self._wheel_guard)
        duplicate = spec.name in self._fields
        tooltip = rich_tooltip(spec.description) if spec.description else ""
        label = QLabel(_short(spec.name, _MAX_LABEL) or "(unnamed)")
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        label.setToolTip(rich_tooltip(spec.name + ("\n\n" + spec.description if spec.description else "")))
        if tooltip and not field.widget.toolTip():
            field.widget.setToolTip(tooltip)
        form.addRow(label, field.widget)
        # Warning and help go under the field, in the field column: rows of their own, no container widget
        # (10,000 rows). A hidden warning row is hidden with setRowVisible so it takes no spacing.
        warning = self._warning_label("")
        warning_row = form.rowCount()  # rows are only appended, so this index stays right
        form.setWidget(warning_row, QFormLayout.ItemRole.FieldRole, warning)
        form.setRowVisible(warning_row, False)
        if spec.description.strip():
            form.setWidget(form.rowCount(), QFormLayout.ItemRole.FieldRole, self._help_label(spec.description))
        else:
            form.setItem(form.rowCount(), QFormLayout.ItemRole.FieldRole, QSpacerItem(0, _ROW_GAP))
        if duplicate:
            # Two settings with one name cannot both be saved: the first one wins, this one is inert.
            field.widget.setEnabled(False)
            text = f"Another setting is already named {_describe(spec.name)}: this one is ignored."
            self._show_warning((form, warning_row, warning), text)
            return
        self._fields[spec.name] = field
        self._warning_labels[spec.name] = (form, warning_row, warning)

    @staticmethod
    def _show_warning(where: tuple[QFormLayout, int, QLabel], text: str | None) -> None:
        form, row, label = where
        label.setText(_wrap(text or ""))
        form.setRowVisible(row, bool(text))

    # -- public API ------------------------------------------------------------------------------------

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Show ``values``; names the schema does not describe are kept and sent back unchanged."""
        for name, value in values.items():
            if name not in self._fields:
                self._passthrough[name] = value
        for name, field in self._fields.items():
            if name in values or field.original is None:
                field.set_value(values.get(name))
                self._show_warning(self._warning_labels[name], field.warning)

    def values(self) -> dict[str, Any]:
        out = dict(self._passthrough)
        for name, field in self._fields.items():
            out[name] = field.value()
        return out

    def errors(self) -> dict[str, str]:
        """Client-side validation: setting name → what is wrong, in words."""
        out: dict[str, str] = {}
        for name, field in self._fields.items():
            problem = field.error()
            if problem:
                out[name] = problem
        return out

    def warnings(self) -> dict[str, str]:
        """Stored values that did not fit their type (shown under the field, replaced by the default)."""
        return {name: field.warning for name, field in self._fields.items() if field.warning}

    def widget_for(self, name: str) -> QWidget:
        """The editor of setting ``name`` (the line edit / spin box / check box / combo box itself)."""
        field = self._fields[name]
        for attr in ("edit", "spin", "check", "combo"):
            widget = getattr(field, attr, None)
            if widget is not None:
                return widget
        return field.widget

    def field_names(self) -> list[str]:
        return list(self._fields)
