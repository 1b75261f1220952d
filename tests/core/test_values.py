"""One value rule per setting kind (core/values.py): what it accepts, refuses and writes, and that what the settings
form can produce is what the embedded manager's validation accepts and keeps (no Qt here; the form itself is
exercised in tests/gui/test_settings_form.py)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend_manager_gui.core.errors import BackendApiError
from backend_manager_gui.core.local.backend_types import KINDS
from backend_manager_gui.core.models import (
    SECRET_MARKER,
    BackendType,
    SettingKind,
    SettingSpec,
)
from backend_manager_gui.core.values import (
    DECIMAL_LIMIT,
    INT32_MAX,
    INT32_MIN,
    BadValue,
    ValueKind,
    display_text,
    hint_warning,
    infer_kind,
    kind_of,
    parse_value,
    require_value,
    split_list,
)
from tests.support.setting_kinds import (
    BOOLEAN,
    DECIMAL,
    DROPDOWN,
    EVERY_KIND,
    INTEGER,
    LIST,
    MANAGER,
    OLD_BOOLEAN,
    OPEN_DROPDOWN,
    SECRET,
    TEXT,
    UNKNOWN,
)


def test_kinds_of_specs() -> None:
    assert [kind_of(s) for s in EVERY_KIND] == [
        ValueKind.TEXT, ValueKind.INTEGER, ValueKind.DECIMAL, ValueKind.BOOLEAN, ValueKind.BOOLEAN,
        ValueKind.DROPDOWN, ValueKind.DROPDOWN, ValueKind.LIST, ValueKind.SECRET, ValueKind.UNKNOWN,
    ]
    # a type named like one of this app's extra kinds is still a type this app does not know
    assert kind_of(SettingSpec("x", "secret")) is ValueKind.UNKNOWN
    assert kind_of(SettingSpec("x", "unknown")) is ValueKind.UNKNOWN
    assert kind_of(SettingSpec("x", "group")) is ValueKind.GROUP
    assert kind_of(SettingSpec("x", "integer", is_secret=True)) is ValueKind.SECRET


@pytest.mark.parametrize(
    ("spec", "value", "canonical"),
    [
        (TEXT, "hello", "hello"), (TEXT, " spaced ", " spaced "), (TEXT, 1, "1"), (TEXT, 2.5, "2.5"),
        (TEXT, True, "true"), (TEXT, None, ""),
        (INTEGER, 7, 7), (INTEGER, 7.0, 7), (INTEGER, " -7 ", -7), (INTEGER, "+7", 7),
        (INTEGER, INT32_MAX, INT32_MAX), (INTEGER, str(INT32_MIN), INT32_MIN),
        (DECIMAL, 2, 2.0), (DECIMAL, 0.125, 0.125), (DECIMAL, " 1e3 ", 1000.0), (DECIMAL, "-2.5", -2.5),
        (BOOLEAN, True, True), (BOOLEAN, False, False), (BOOLEAN, "true", True), (BOOLEAN, " FALSE ", False),
        (OLD_BOOLEAN, "True", True),
        (DROPDOWN, "a", "a"), (DROPDOWN, "b", "B"), (DROPDOWN, "C", "c"), (OPEN_DROPDOWN, "free", "free"),
        (LIST, ["x", "y"], ["x", "y"]), (LIST, ("x", 1, True), ["x", "1", "true"]), (LIST, " x, y ,, z ", ["x", "y", "z"]),
        (LIST, None, []), (LIST, "", []),
        (SECRET, "hunter2", "hunter2"), (SECRET, SECRET_MARKER, SECRET_MARKER), (SECRET, None, ""),
        (UNKNOWN, {"any": ["thing"]}, {"any": ["thing"]}), (UNKNOWN, 3, 3),
    ],
)
def test_accepted_values_and_their_canonical_form(spec: SettingSpec, value: Any, canonical: Any) -> None:
    out = parse_value(spec, value)
    assert out == canonical and type(out) is type(canonical)
    assert parse_value(spec, out) == out  # the canonical form is accepted as it is


@pytest.mark.parametrize(
    ("spec", "value", "message"),
    [
        (TEXT, ["a"], "Name must be text."),
        (TEXT, {"k": 1}, "Name must be text."),
        (INTEGER, True, "Count must be a whole number."),
        (INTEGER, "1.0", "Count must be a whole number."),
        (INTEGER, 1.5, "Count must be a whole number."),
        (INTEGER, "1_000", "Count must be a whole number."),
        (INTEGER, "eighty", "Count must be a whole number."),
        (INTEGER, None, "Count must be a whole number."),
        (INTEGER, INT32_MAX + 1, f"Count must be a whole number from {INT32_MIN} to {INT32_MAX}."),
        (DECIMAL, False, "Ratio must be a number."),
        (DECIMAL, "n/a", "Ratio must be a number."),
        (DECIMAL, "1_0", "Ratio must be a number."),
        (DECIMAL, math.nan, "Ratio must be a number from -1e+15 to 1e+15."),
        (DECIMAL, "inf", "Ratio must be a number from -1e+15 to 1e+15."),
        (DECIMAL, DECIMAL_LIMIT * 2, "Ratio must be a number from -1e+15 to 1e+15."),
        # the old tables disagreed on these: 1 was true in the form, "" was false in the manager
        (BOOLEAN, 1, "Flag must be true or false."),
        (BOOLEAN, 0, "Flag must be true or false."),
        (BOOLEAN, "", "Flag must be true or false."),
        (BOOLEAN, "1", "Flag must be true or false."),
        (BOOLEAN, "yes", "Flag must be true or false."),
        (BOOLEAN, None, "Flag must be true or false."),
        (DROPDOWN, "d", "Mode must be one of: a, B, c."),
        (DROPDOWN, ["a"], "Mode must be one of the choices."),
        (LIST, [["nested"]], "Items must be a list of text."),
        (LIST, 3, "Items must be a list of text."),
        (SECRET, {"k": 1}, "Key must be text."),
    ],
)
def test_refused_values_name_the_setting(spec: SettingSpec, value: Any, message: str) -> None:
    with pytest.raises(BadValue):
        parse_value(spec, value)
    with pytest.raises(BackendApiError) as caught:
        require_value(spec, value)
    assert caught.value.message == message


# -- what the settings form can produce, per kind (its widgets, or an untouched stored value) ---------------------

_comma_free = st.text(min_size=1, max_size=20).map(lambda t: t.replace(",", " ").strip()).filter(bool)
_stored_float = st.floats(min_value=-DECIMAL_LIMIT, max_value=DECIMAL_LIMIT, allow_nan=False)

FORM_PRODUCES: dict[str, st.SearchStrategy[Any]] = {
    # typed text, or an untouched stored scalar that goes back exactly as it came
    "Name": st.one_of(st.text(), st.integers(INT32_MIN, INT32_MAX), _stored_float, st.booleans()),
    "Count": st.integers(INT32_MIN, INT32_MAX),  # a 32-bit spin box
    "Ratio": st.one_of(_stored_float.map(lambda x: round(x, 6)), _stored_float),  # 6 places, or untouched exact
    "Flag": st.booleans(),
    "OldFlag": st.booleans(),
    "Mode": st.sampled_from(DROPDOWN.values or ()),
    "Any": st.text(),  # an editable combo box when the server offers no choices
    "Items": st.one_of(st.lists(_comma_free, max_size=6), st.lists(st.text(max_size=10), max_size=4)),
    "Key": st.one_of(st.text(), st.just(SECRET_MARKER)),
    "Shade": st.text(),  # an unknown type is edited as text
}


@given(st.fixed_dictionaries(FORM_PRODUCES))
def test_what_the_form_produces_is_accepted_by_the_manager_and_kept_on_a_second_edit(form_values: dict[str, Any]) -> None:
    """form → settings dict → the manager's validate() accepts → the stored values, edited again unchanged, are
    accepted as they are and show the same text."""
    stored = MANAGER.validate(form_values)
    assert MANAGER.validate(stored) == stored
    for spec in EVERY_KIND:
        before, after = form_values[spec.name], stored[spec.name]
        if kind_of(spec) in (ValueKind.TEXT, ValueKind.SECRET):
            assert after == display_text(before)  # a number left in a text field is kept as the text shown
        elif kind_of(spec) is ValueKind.DECIMAL:
            assert after == float(before)
        else:
            assert after == before


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@given(spec=st.sampled_from(EVERY_KIND), value=_json)
def test_any_wire_value_is_refused_with_a_reason_or_made_canonical_once(spec: SettingSpec, value: Any) -> None:
    try:
        canonical = parse_value(spec, value)
    except BadValue as exc:
        assert exc.expected
        with pytest.raises(BackendApiError, match=f"^{spec.name} must be "):
            require_value(spec, value)
        return
    if kind_of(spec) is ValueKind.UNKNOWN:
        assert canonical is value  # not this app's to convert
    else:
        assert parse_value(spec, canonical) == canonical


@given(_json)
def test_an_inferred_kind_keeps_the_value_exactly(value: Any) -> None:
    kind = infer_kind(value)
    if kind is not SettingKind.TEXT:  # text: the form sends an untouched value back as it came
        kept = parse_value(SettingSpec("Guessed", kind.value), value)
        assert kept == value and type(kept) is type(value)


def test_inferred_kinds() -> None:
    assert [infer_kind(v).value for v in (True, 3, 2.5, ["a"], "x", None, 2**40, [1], {"k": 1}, math.inf)] == [
        "boolean", "integer", "decimal", "list", "text", "text", "text", "text", "text", "text",
    ]


def test_split_list() -> None:
    assert split_list(" a, b ,,c ,") == ["a", "b", "c"]


# -- local hints: this app's own types say what is a path and what a value should end in, never on the wire -------


def test_the_managers_types_carry_local_hints_that_never_reach_the_wire() -> None:
    selfstart, command = KINDS["comfyui_selfstart"].info, KINDS["command"].info
    start = selfstart.setting("StartScript")
    assert start is not None and start.browse == "file" and start.ends_with == "main.py"
    assert [s.name for s in selfstart.settings if s.browse] == ["StartScript", "Python", "ModelsFolder"]
    assert [(s.name, s.choose) for s in selfstart.settings if s.choose] == [("GPU_ID", "gpu")]
    assert [(s.name, s.choose) for s in command.settings if s.choose] == [("GPU_ID", "gpu")]
    assert [s.name for s in selfstart.settings if s.multiline] == [s.name for s in command.settings if s.multiline] == [
        "Environment"]
    assert [(s.name, s.browse) for s in command.settings if s.browse] == [("WorkingDir", "folder")]
    for kind in KINDS.values():
        wire = kind.info.to_wire()
        for spec in wire["settings"]:
            assert set(spec) == {"name", "type", "description", "placeholder", "is_secret", "default", "values",
                                 "value_names"}
        back = BackendType.from_wire(wire)
        assert all(s.browse is None and s.ends_with is None and s.choose is None and not s.multiline
                   for s in back.settings)


def test_a_wire_key_named_like_a_hint_stays_an_unknown_key() -> None:
    spec = SettingSpec.from_wire({"name": "StartScript", "type": "text", "browse": "file", "ends_with": "main.py"})
    assert spec.browse is None and spec.ends_with is None
    assert spec.extra == {"browse": "file", "ends_with": "main.py"}
    assert spec.to_wire()["browse"] == "file"  # kept and written back as the server sent it


def test_hint_warning_is_the_managers_main_py_rule() -> None:
    start = KINDS["comfyui_selfstart"].info.setting("StartScript")
    assert start is not None
    assert hint_warning(start, "/home/me/ComfyUI/main.py") is None
    assert hint_warning(start, " C:\\ComfyUI\\main.py ") is None
    assert hint_warning(start, "") is None  # not typed yet: the placeholder shows an example
    assert hint_warning(start, "/home/me/ComfyUI/start.sh") == "StartScript should end in main.py."
    assert hint_warning(TEXT, "anything") is None
    with pytest.raises(BackendApiError, match="StartScript must be ComfyUI's main.py"):
        KINDS["comfyui_selfstart"].validate({"StartScript": "/home/me/ComfyUI/start.sh"})
