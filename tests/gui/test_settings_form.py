"""The settings form built from a type's schema: every type edits and reads back what a person sees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QGroupBox, QLabel, QLineEdit, QSpinBox, QToolButton

from backend_manager_gui.core.models import SECRET_MARKER, SettingSpec, backend_types_from_wire
from backend_manager_gui.gui.settings_form import INT32_MAX, INT32_MIN, SettingsForm
from tests.support.setting_kinds import DROPDOWN, EVERY_KIND, MANAGER

TYPES_JSON = Path(__file__).parents[1] / "support" / "swarmui_backend_types.json"
REAL_TYPES = backend_types_from_wire({"list": json.loads(TYPES_JSON.read_text(encoding="utf-8"))["backend_types"]})
EXPECTED_WIDGET = {
    "text": QLineEdit,
    "integer": QSpinBox,
    "decimal": QDoubleSpinBox,
    "boolean": QCheckBox,
    "dropdown": QComboBox,
    "list": QLineEdit,
}

ALL_KINDS = [
    SettingSpec("Name", "text", placeholder="e.g. main GPU"),
    SettingSpec("Count", "integer"),
    SettingSpec("Ratio", "decimal"),
    SettingSpec("Flag", "boolean"),
    SettingSpec("OldFlag", "bool"),
    SettingSpec("Mode", "dropdown", values=("a", "b", "c"), value_names=("Alpha", "Beta", "Gamma")),
    SettingSpec("Items", "list"),
    SettingSpec("Key", "text", is_secret=True),
    SettingSpec("Odd", "colour"),
]


def _form(qtbot, specs, values) -> SettingsForm:
    form = SettingsForm(specs, values)
    qtbot.addWidget(form)
    return form


@pytest.mark.parametrize("backend_type", REAL_TYPES, ids=lambda t: t.id)
def test_every_real_type_builds_with_the_right_editor_and_round_trips_defaults(qtbot, backend_type) -> None:
    defaults = {s.name: (SECRET_MARKER if s.is_secret else s.default) for s in backend_type.settings}
    form = _form(qtbot, backend_type.settings, defaults)
    for spec in backend_type.settings:
        widget = form.widget_for(spec.name)
        assert isinstance(widget, QLineEdit if spec.is_secret else EXPECTED_WIDGET[spec.type]), spec.name
        if spec.is_secret:
            assert widget.echoMode() == QLineEdit.EchoMode.Password
            assert widget.text() == "" and widget.placeholderText() == "(unchanged)"
    assert form.values() == defaults
    assert form.errors() == {} and form.warnings() == {}


def test_dropdown_shows_value_names_and_stores_values(qtbot) -> None:
    spec = next(t for t in REAL_TYPES if t.id == "comfyui_selfstart").setting("EnablePreviews")
    assert spec is not None
    form = _form(qtbot, [spec], {"EnablePreviews": "taesd"})
    combo = form.widget_for("EnablePreviews")
    assert combo.currentText() == "Enabled HD (slow TAESD)"
    assert [combo.itemText(i) for i in range(combo.count())] == list(spec.value_names)
    combo.setCurrentIndex(0)
    assert combo.currentText() == "Disabled"
    assert form.values() == {"EnablePreviews": "false"}


def test_every_kind_round_trips_values_set_through_the_widgets(qtbot) -> None:
    form = _form(qtbot, ALL_KINDS, {"Key": SECRET_MARKER})
    form.widget_for("Name").setText("main")
    form.widget_for("Count").setValue(INT32_MAX)
    form.widget_for("Ratio").setValue(0.125)
    form.widget_for("Flag").setChecked(True)
    form.widget_for("OldFlag").setChecked(True)
    form.widget_for("Mode").setCurrentIndex(1)
    form.widget_for("Items").setText(" x, y ,, z ")
    qtbot.keyClicks(form.widget_for("Key"), "hunter2")
    qtbot.keyClicks(form.widget_for("Odd"), "teal")
    assert form.values() == {
        "Name": "main", "Count": INT32_MAX, "Ratio": 0.125, "Flag": True, "OldFlag": True, "Mode": "b",
        "Items": ["x", "y", "z"], "Key": "hunter2", "Odd": "teal",
    }


def test_set_values_then_values_round_trips_every_kind(qtbot) -> None:
    form = _form(qtbot, ALL_KINDS, {})
    wanted = {
        "Name": "n", "Count": INT32_MIN, "Ratio": -2.5, "Flag": True, "OldFlag": False, "Mode": "c",
        "Items": ["one", "two"], "Key": SECRET_MARKER, "Odd": "whatever",
    }
    form.set_values(wanted)
    assert form.values() == wanted
    assert form.widget_for("Mode").currentText() == "Gamma"
    assert form.widget_for("Items").text() == "one, two"
    assert form.widget_for("Count").minimum() == INT32_MIN and form.widget_for("Count").maximum() == INT32_MAX


def test_untouched_secret_keeps_the_marker_and_never_shows_it(qtbot) -> None:
    form = _form(qtbot, [SettingSpec("Token", "text", is_secret=True)], {"Token": SECRET_MARKER})
    edit = form.widget_for("Token")
    assert edit.text() == "" and "<secret>" not in edit.displayText()
    reveal = next(b for b in form.findChildren(QToolButton) if b.isCheckable() and b.text() != "Clear")
    reveal.click()  # show/hide toggles the echo mode of what was typed
    assert edit.echoMode() == QLineEdit.EchoMode.Normal and edit.text() == ""
    assert form.values() == {"Token": SECRET_MARKER}
    qtbot.keyClicks(edit, "s3cret")
    assert form.values() == {"Token": "s3cret"}
    edit.clear()
    assert form.values() == {"Token": SECRET_MARKER}  # emptied again = keep the stored one
    clear = next(b for b in form.findChildren(QToolButton) if b.text() == "Clear")
    clear.click()
    assert form.values() == {"Token": ""} and edit.placeholderText() == "(will be removed)"


def test_unknown_type_is_an_editable_text_field_with_a_warning(qtbot) -> None:
    form = _form(qtbot, [SettingSpec("Shade", "colour")], {"Shade": "#fff"})
    edit = form.widget_for("Shade")
    assert isinstance(edit, QLineEdit) and edit.text() == "#fff" and not edit.isReadOnly()
    assert "Unknown setting type 'colour': edited as text" in edit.toolTip()
    marks = [lbl for lbl in form.findChildren(QLabel) if lbl.pixmap() is not None and not lbl.pixmap().isNull()]
    assert len(marks) == 1 and "Unknown setting type" in marks[0].toolTip()
    edit.setText("#000")
    qtbot.keyClicks(edit, "0")
    assert form.values() == {"Shade": "#0000"}


def test_values_that_do_not_fit_fall_back_to_the_default_with_a_visible_warning(qtbot) -> None:
    specs = [
        SettingSpec("Count", "integer", default=7),
        SettingSpec("Ratio", "decimal"),
        SettingSpec("Flag", "boolean", default=True),
        SettingSpec("Huge", "integer"),
    ]
    form = _form(qtbot, specs, {"Count": "abc", "Ratio": "n/a", "Flag": "maybe", "Huge": 2**40})
    form.show()
    assert form.values() == {"Count": 7, "Ratio": 0.0, "Flag": True, "Huge": 0}
    warnings = form.warnings()
    assert set(warnings) == {"Count", "Ratio", "Flag", "Huge"}
    assert "'abc' is not a whole number" in warnings["Count"]
    shown = [lbl.text() for lbl in form.findChildren(QLabel) if lbl.isVisible()]
    assert any("'abc'" in text for text in shown)


def test_dropdown_value_the_server_does_not_offer_is_kept_and_flagged(qtbot) -> None:
    spec = SettingSpec("Mode", "dropdown", values=("a", "b"), value_names=("Alpha", "Beta"))
    form = _form(qtbot, [spec], {"Mode": "legacy"})
    combo = form.widget_for("Mode")
    assert combo.currentText() == "legacy (not offered by the server)"
    assert form.values() == {"Mode": "legacy"}  # not lost
    assert "not one of the choices" in form.errors()["Mode"]
    combo.setCurrentIndex(0)
    assert form.values() == {"Mode": "a"} and form.errors() == {}


def test_group_is_a_titled_section_holding_the_settings_after_it(qtbot) -> None:
    specs = [
        SettingSpec("Top", "text"),
        SettingSpec("Network", "group", description="How to reach it"),
        SettingSpec("Host", "text"),
        SettingSpec("Port", "integer"),
    ]
    form = _form(qtbot, specs, {"Host": "h", "Port": 80})
    boxes = form.findChildren(QGroupBox)
    assert [b.title() for b in boxes] == ["Network"]
    assert boxes[0].isAncestorOf(form.widget_for("Host")) and boxes[0].isAncestorOf(form.widget_for("Port"))
    assert not boxes[0].isAncestorOf(form.widget_for("Top"))
    assert form.values() == {"Top": "", "Host": "h", "Port": 80}


def test_description_is_tooltip_and_help_text_and_names_are_not_markup(qtbot) -> None:
    spec = SettingSpec("<b>Bold</b>", "text", description="First line.\nSecond <i>line</i>.")
    form = _form(qtbot, [spec], {})
    form.show()
    edit = form.widget_for("<b>Bold</b>")
    assert "First line.<br>Second &lt;i&gt;line&lt;/i&gt;." in edit.toolTip()
    texts = {lbl.text(): lbl for lbl in form.findChildren(QLabel) if lbl.isVisible()}
    assert "First line.\nSecond <i>line</i>." in texts
    assert texts["<b>Bold</b>"].textFormat() == Qt.TextFormat.PlainText


def test_untouched_decimal_keeps_precision_the_spin_box_cannot_show(qtbot) -> None:
    form = _form(qtbot, [SettingSpec("Eps", "decimal")], {"Eps": 1e-9})
    assert form.values() == {"Eps": 1e-9}
    form.widget_for("Eps").setValue(0.5)
    assert form.values() == {"Eps": 0.5}


def test_settings_the_schema_does_not_describe_are_passed_through(qtbot) -> None:
    form = _form(qtbot, [SettingSpec("A", "text")], {"A": "x", "Legacy": {"k": 1}})
    assert form.values() == {"A": "x", "Legacy": {"k": 1}}


def test_untouched_text_keeps_a_non_text_value_exactly(qtbot) -> None:
    form = _form(qtbot, [SettingSpec("GPU_ID", "text")], {"GPU_ID": 1})
    assert form.widget_for("GPU_ID").text() == "1"
    assert form.values() == {"GPU_ID": 1}


_names = st.text(min_size=0, max_size=300)
_types = st.one_of(
    st.sampled_from(["text", "integer", "decimal", "boolean", "bool", "dropdown", "list", "group"]), st.text(max_size=30)
)
_specs = st.builds(
    SettingSpec,
    name=_names,
    type=_types,
    description=st.text(max_size=3000),
    placeholder=st.text(max_size=200),
    is_secret=st.booleans(),
    default=st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.text(max_size=50), st.booleans()),
    values=st.one_of(st.none(), st.lists(st.text(max_size=40), max_size=8).map(tuple)),
    value_names=st.one_of(st.none(), st.lists(st.text(max_size=40), max_size=8).map(tuple)),
)
_values = st.one_of(
    st.none(), st.integers(), st.floats(), st.text(max_size=100), st.booleans(), st.lists(st.text(max_size=10)),
    st.just(SECRET_MARKER),
)


# No shrinking: a Qt form per example makes shrinking take minutes; the failing example is printed as drawn.
@settings(
    max_examples=40,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=st.lists(_specs, max_size=25), data=st.data())
def test_hostile_schemas_build_a_form_without_an_exception(qtbot, specs, data) -> None:
    names = [s.name for s in specs]
    values = data.draw(st.dictionaries(st.sampled_from(names) if names else st.text(), _values, max_size=10))
    form = SettingsForm(specs, values)
    qtbot.addWidget(form)
    out = form.values()
    kept = {s.name for s in specs if s.type != "group" or s.is_secret}
    assert kept <= set(out)
    assert all(SECRET_MARKER not in form.widget_for(n).text() for n in kept if isinstance(form.widget_for(n), QLineEdit))
    form.errors()
    form.deleteLater()


def test_thousands_of_settings_with_huge_descriptions_build(qtbot) -> None:
    # 2,000 keeps the suite quick; 10,000 builds the same way (measured by hand: tens of seconds on this busy box).
    kinds = ["text", "integer", "decimal", "boolean", "dropdown", "list", "nonsense"]
    specs = [
        SettingSpec(f"S{i}", kinds[i % len(kinds)], description=("long words " * 20_000) if i % 400 == 0 else "",
                    values=("a", "b"))
        for i in range(2_000)
    ]
    form = _form(qtbot, specs, {"S1": "abc"})
    out = form.values()
    assert len(out) == 2_000 and out["S1"] == 0 and out["S4"] == "a"
    assert "not a whole number" in form.warnings()["S1"]


def test_paths_of_this_computer_get_a_browse_button_that_fills_the_field(qtbot, tmp_path) -> None:
    """The embedded manager's path settings (StartScript…) can be picked in a file dialog; a server's cannot
    (its paths are on the server), even when the schema marks them."""
    from PySide6.QtWidgets import QFileDialog, QPushButton

    from backend_manager_gui.core.local.backend_types.comfyui import ComfySelfStartKind

    selfstart = ComfySelfStartKind.info
    main = tmp_path / "ComfyUI" / "main.py"
    main.parent.mkdir()
    main.write_text("")
    form = SettingsForm(selfstart.settings, {"StartScript": ""}, browse_paths=True)
    qtbot.addWidget(form)
    button = form.widget_for("StartScript").parentWidget().findChild(QPushButton, options=Qt.FindChildOption.FindDirectChildrenOnly)
    assert button is not None and button.text() == "Browse…"
    button.click()
    dialog = form.findChild(QFileDialog, "browseDialog") or form.window().findChild(QFileDialog, "browseDialog")
    assert dialog is not None and dialog.isVisible()  # opened with open(): no nested event loop
    dialog.fileSelected.emit(str(main))  # what choosing the file and pressing Open does
    dialog.close()
    assert form.values()["StartScript"] == str(main)
    # ExtraArgs is no path; GPU_ID neither
    assert form.widget_for("ExtraArgs").parentWidget().findChild(QPushButton, options=Qt.FindChildOption.FindDirectChildrenOnly) is None
    remote = SettingsForm(selfstart.settings, {"StartScript": ""}, browse_paths=False)
    qtbot.addWidget(remote)
    assert remote.widget_for("StartScript").parentWidget().findChild(QPushButton, options=Qt.FindChildOption.FindDirectChildrenOnly) is None


# -- one value rule (core/values.py) for the form and the embedded manager ----------------------------------------

_user_input = {
    "Name": st.text(max_size=30),
    "Count": st.integers(INT32_MIN, INT32_MAX),
    "Ratio": st.floats(min_value=-1e15, max_value=1e15, allow_nan=False),
    "Flag": st.booleans(),
    "OldFlag": st.booleans(),
    "Mode": st.integers(0, 2),
    "Any": st.text(max_size=30),
    "Items": st.text(max_size=40),
    "Key": st.text(max_size=30),
    "Shade": st.text(max_size=30),
}


def _enter(form: SettingsForm, name: str, value: object) -> None:
    """Put ``value`` into setting ``name``'s editor the way a person's input ends up there."""
    widget = form.widget_for(name)
    if isinstance(widget, QLineEdit):
        widget.setText(value)
    elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        widget.setValue(value)
    elif isinstance(widget, QCheckBox):
        widget.setChecked(value)
    elif isinstance(widget, QComboBox) and widget.isEditable():
        widget.setEditText(value)
    else:
        widget.setCurrentIndex(value)


@settings(
    max_examples=30,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(typed=st.fixed_dictionaries({}, optional=_user_input))
def test_what_the_form_produces_the_manager_accepts_and_the_form_shows_back_unchanged(qtbot, typed) -> None:
    """Any input into a real form of every kind → form.values() → the embedded manager's validate() accepts it →
    a form opened on what the manager stored reads back exactly that, with no warning."""
    form = _form(qtbot, EVERY_KIND, {})
    for name, value in typed.items():
        _enter(form, name, value)
    sent = form.values()
    assert form.errors() == {}
    stored = MANAGER.validate(sent)  # raises BackendApiError if the manager refused anything the form produced
    again = _form(qtbot, EVERY_KIND, stored)
    assert again.values() == stored and again.warnings() == {}
    assert again.widget_for("Mode").currentIndex() == typed.get("Mode", 0)
    form.deleteLater()
    again.deleteLater()


_stored_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
    st.sampled_from(["true", "False", "1", "0", "yes", "", " 7 ", "1.0", "2.5", "1e3", "b", "a, b"]),
    st.lists(st.one_of(st.text(max_size=5), st.integers(), st.lists(st.integers(), max_size=1)), max_size=3),
)


@settings(
    max_examples=30,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_form_flags_a_stored_value_exactly_when_the_manager_would_refuse_it(qtbot, data) -> None:
    from backend_manager_gui.core.errors import BackendApiError
    from backend_manager_gui.core.values import display_text, require_value

    checked = [s for s in EVERY_KIND if s.type in ("integer", "decimal", "boolean", "bool", "list", "dropdown")]
    stored = {s.name: data.draw(_stored_values, label=s.name) for s in checked}
    form = _form(qtbot, checked, stored)
    flagged = set(form.warnings()) | set(form.errors())
    refused = set()
    for spec in checked:
        if stored[spec.name] is None:
            continue  # not set: the form shows the default, the manager uses it
        try:
            require_value(spec, stored[spec.name])
        except BackendApiError:
            refused.add(spec.name)
    assert flagged == refused
    assert form.values()[DROPDOWN.name] in (*(DROPDOWN.values or ()), display_text(stored[DROPDOWN.name]))
    form.deleteLater()


def test_the_old_tables_disagreements_are_one_rule_now(qtbot) -> None:
    """1 and "" were true/false in one table and refused by the other; "yes" read as true where SwarmUI reads false."""
    flag = SettingSpec("Flag", "boolean", default=True)
    for stored in (1, 0, "", "1", "yes"):
        form = _form(qtbot, [flag], {"Flag": stored})
        assert form.values() == {"Flag": True} and "is not true or false" in form.warnings()["Flag"], stored
    form = _form(qtbot, [flag], {"Flag": " FALSE "})
    assert form.values() == {"Flag": False} and form.warnings() == {}


def test_a_setting_that_should_end_in_main_py_warns_while_it_does_not_and_does_not_block(qtbot) -> None:
    from backend_manager_gui.core.local.backend_types.comfyui import ComfySelfStartKind

    form = _form(qtbot, ComfySelfStartKind.info.settings, {"StartScript": ""})
    form.show()
    edit = form.widget_for("StartScript")

    def warning_under_the_field() -> str | None:
        labels = [lbl for lbl in form.findChildren(QLabel) if lbl.isVisible() and "should end in" in lbl.text()]
        if not labels:
            return None
        (label,) = labels
        # the warning row is the one right under the field, in the field column
        assert abs(label.mapTo(form, label.rect().topLeft()).y() - edit.mapTo(form, edit.rect().bottomLeft()).y()) < 40
        assert label.mapTo(form, label.rect().topLeft()).x() == edit.mapTo(form, edit.rect().topLeft()).x()
        return label.text()

    assert warning_under_the_field() is None  # empty: not typed yet
    edit.setText("/home/me/ComfyUI/start.sh")
    assert warning_under_the_field() == "StartScript should end in main.py."
    assert form.warnings() == {"StartScript": "StartScript should end in main.py."}
    assert form.errors() == {}  # advice only: Save is not blocked by the form
    edit.setText("/home/me/ComfyUI/main.py")
    assert warning_under_the_field() is None and form.warnings() == {}
    # a stored value is checked as soon as the form opens
    stored = _form(qtbot, ComfySelfStartKind.info.settings, {"StartScript": "/opt/run.py"})
    assert stored.warnings() == {"StartScript": "StartScript should end in main.py."}


def test_a_servers_start_script_gets_neither_the_main_py_warning_nor_browse(qtbot) -> None:
    """SwarmUI's own comfyui_selfstart has a StartScript too (a .sh is fine there): the hints are this app's own."""
    from PySide6.QtWidgets import QPushButton

    swarm = next(t for t in REAL_TYPES if t.id == "comfyui_selfstart")
    # even a spec whose wire data has keys named like the hints, shown with browse_paths on
    marked = [SettingSpec.from_wire({**s.to_wire(), "browse": "file", "ends_with": "main.py"}) for s in swarm.settings]
    form = SettingsForm(marked, {"StartScript": "/srv/swarm/start.sh"}, browse_paths=True)
    qtbot.addWidget(form)
    assert form.warnings() == {}
    box = form.widget_for("StartScript").parentWidget()
    assert box.findChild(QPushButton, options=Qt.FindChildOption.FindDirectChildrenOnly) is None


def test_a_folder_setting_browses_for_a_folder_and_a_file_setting_filters_on_its_ending(qtbot, tmp_path) -> None:
    from PySide6.QtWidgets import QFileDialog, QPushButton

    from backend_manager_gui.core.local.backend_types import KINDS

    def browse(type_id: str, name: str) -> tuple[QFileDialog.FileMode, list[str], str]:
        form = SettingsForm(KINDS[type_id].info.settings, {name: str(tmp_path)}, browse_paths=True)
        qtbot.addWidget(form)
        button = form.widget_for(name).parentWidget().findChild(
            QPushButton, options=Qt.FindChildOption.FindDirectChildrenOnly)
        button.click()
        dialog = form.findChild(QFileDialog, "browseDialog") or form.window().findChild(QFileDialog, "browseDialog")
        assert dialog is not None and dialog.isVisible()
        seen = dialog.fileMode(), dialog.nameFilters(), dialog.directory().absolutePath()
        dialog.close()
        return seen

    assert browse("command", "WorkingDir")[0] == QFileDialog.FileMode.Directory
    assert browse("comfyui_selfstart", "StartScript") == (
        QFileDialog.FileMode.ExistingFile, ["main.py (*main.py)", "All files (*)"], str(tmp_path))
    mode, filters, _start = browse("comfyui_selfstart", "Python")
    assert mode == QFileDialog.FileMode.ExistingFile and "main.py (*main.py)" not in filters


# -- GPU_ID picked from this computer's GPUs (issue 14.1) ----------------------------------------------------------


def test_gpu_id_offers_the_gpus_once_read_and_keeps_free_text(qtbot) -> None:
    from backend_manager_gui.core.local.backend_types import KINDS
    from backend_manager_gui.core.service import GpuInfo

    specs = KINDS["comfyui_selfstart"].info.settings
    gpus = [GpuInfo(0, "NVIDIA GeForce RTX 3060", 0, 12 * 2**30, None, uuid="GPU-aa", pci_bus_id="00000000:01:00.0"),
            GpuInfo(1, "NVIDIA GeForce RTX 4090", 0, 24 * 2**30, None, uuid="GPU-bb", pci_bus_id="00000000:02:00.0")]
    form = SettingsForm(specs, {"GPU_ID": "1"}, browse_paths=True)
    qtbot.addWidget(form)
    combo = form.widget_for("GPU_ID").parentWidget()
    assert isinstance(combo, QComboBox) and combo.isEditable() and combo.count() == 0
    assert combo.currentText() == "1" and form.values()["GPU_ID"] == "1"  # before the GPUs are read: the text
    form.set_gpu_choices(gpus)
    assert combo.currentText() == "1: NVIDIA GeForce RTX 4090 (24 GiB) · GPU-bb"
    assert form.values()["GPU_ID"] == "1"
    combo.setCurrentIndex(0)
    assert form.values()["GPU_ID"] == "0"
    combo.setEditText("0,1")  # several GPUs: typed
    assert form.values()["GPU_ID"] == "0,1"
    form.set_gpu_choices(gpus)  # a later report keeps what was typed
    assert combo.currentText() == "0,1" and form.values()["GPU_ID"] == "0,1"
    # a stored value that names no GPU shows as it is, and an untouched one goes back exactly as it came
    stored = SettingsForm(specs, {"GPU_ID": 3}, browse_paths=True)
    qtbot.addWidget(stored)
    stored.set_gpu_choices(gpus)
    assert stored.widget_for("GPU_ID").text() == "3" and stored.values()["GPU_ID"] == 3
    # a server's GPU_ID (no local hints) stays a text box
    remote = SettingsForm(specs, {"GPU_ID": "1"}, browse_paths=False)
    qtbot.addWidget(remote)
    assert isinstance(remote.widget_for("GPU_ID"), QLineEdit)
    assert not isinstance(remote.widget_for("GPU_ID").parentWidget(), QComboBox)


def test_environment_is_a_box_of_lines_on_this_computer(qtbot) -> None:
    """KEY=VALUE lines (issue 14.4): Enter starts a new line instead of pressing Save; a server's stays a line edit."""
    from PySide6.QtWidgets import QPlainTextEdit

    from backend_manager_gui.core.local.backend_types import KINDS

    specs = KINDS["comfyui_selfstart"].info.settings
    form = SettingsForm(specs, {"Environment": "HF_HOME=/data/hf\nA=1"}, browse_paths=True)
    qtbot.addWidget(form)
    box = form.widget_for("Environment")
    assert isinstance(box, QPlainTextEdit) and box.toPlainText() == "HF_HOME=/data/hf\nA=1"
    assert box.height() >= 3 * box.fontMetrics().lineSpacing()
    box.setFocus()
    box.moveCursor(box.textCursor().MoveOperation.End)
    qtbot.keyClick(box, Qt.Key.Key_Return)
    qtbot.keyClicks(box, "B=2")
    assert form.values()["Environment"] == "HF_HOME=/data/hf\nA=1\nB=2"
    remote = SettingsForm(specs, {"Environment": "A=1"}, browse_paths=False)
    qtbot.addWidget(remote)
    assert isinstance(remote.widget_for("Environment"), QLineEdit)
