"""The wire value types: parse what a real SwarmUI 0.9.8.2 sends, write it back, and never fail any other way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend_manager_gui.core.errors import BackendApiError
from backend_manager_gui.core.models import (
    SECRET_MARKER,
    Backend,
    BackendStatus,
    BackendType,
    SettingKind,
    SettingSpec,
    backend_types_from_wire,
    backends_from_wire,
)

REAL = json.loads((Path(__file__).parents[1] / "support" / "swarmui_backend_types.json").read_text(encoding="utf-8"))
REAL_TYPES = REAL["backend_types"]

BACKEND_WIRE = {
    "id": 3, "type": "comfyui_selfstart", "status": "running",
    "settings": {"GPU_ID": "0,1", "ExtraArgs": "", "OverQueue": 1, "AutoRestart": True},
    "modcount": 3, "features": ["comfyui", "text2image"], "enabled": True, "title": "",
    "can_load_models": True, "max_usages": 1, "seconds_since_used": 42, "time_since_used": "42 seconds ago",
    "current_model": "sdxl/base.safetensors",
}


def test_every_real_backend_type_round_trips() -> None:
    types = backend_types_from_wire({"list": REAL_TYPES})
    assert [t.id for t in types] == [t["id"] for t in REAL_TYPES]
    for parsed, raw in zip(types, REAL_TYPES, strict=True):
        assert parsed.to_wire() == raw  # unknown keys (can_load_fast, is_t2i) kept and written back
        assert BackendType.from_wire(parsed.to_wire()) == parsed


def test_real_comfyui_selfstart_settings_read_as_documented() -> None:
    comfy = BackendType.from_wire(next(t for t in REAL_TYPES if t["id"] == "comfyui_selfstart"))
    assert comfy.name == "ComfyUI Self-Starting" and comfy.is_standard
    auto_update = comfy.setting("AutoUpdate")
    assert auto_update is not None and auto_update.kind is SettingKind.DROPDOWN
    assert auto_update.values is not None and "aggressive" in auto_update.values
    assert comfy.setting("DisableInternalArgs").kind is SettingKind.BOOLEAN
    assert comfy.setting("OverQueue").kind is SettingKind.INTEGER
    assert "\n" in next(s.description for s in comfy.settings if "\n" in s.description)
    hidden = [t["id"] for t in REAL_TYPES if not BackendType.from_wire(t).is_standard]
    assert hidden == [t["id"] for t in REAL_TYPES if t["is_standard"] is False]


def test_bool_and_boolean_are_the_same_kind() -> None:
    old = SettingSpec.from_wire({"name": "AutoRestart", "type": "bool"})
    new = SettingSpec.from_wire({"name": "AutoRestart", "type": "boolean"})
    assert old.kind is SettingKind.BOOLEAN and new.kind is SettingKind.BOOLEAN
    assert old == new


def test_unknown_setting_type_is_kept_by_its_raw_name() -> None:
    spec = SettingSpec.from_wire({"name": "Curve", "type": "bezier_curve", "is_secret": False, "future": [1]})
    assert spec.kind is None and spec.type == "bezier_curve"
    assert spec.to_wire()["type"] == "bezier_curve" and spec.to_wire()["future"] == [1]


def test_backend_round_trip_keeps_unknown_keys_and_status_message() -> None:
    raw = {**BACKEND_WIRE, "gpu_temp": 71, "status_message": "port 8188 in use"}
    backend = Backend.from_wire(raw)
    assert backend.status is BackendStatus.RUNNING and backend.extra == {"gpu_temp": 71}
    assert backend.status_message == "port 8188 in use"
    assert backend.to_wire() == raw
    assert Backend.from_wire(backend.to_wire()) == backend


def test_backends_from_wire_orders_by_numeric_id() -> None:
    raw = {str(i): {**BACKEND_WIRE, "id": i} for i in (10, 2, 1)}
    assert list(backends_from_wire(raw)) == [1, 2, 10]


@pytest.mark.parametrize(
    ("parser", "raw", "field"),
    [
        (Backend.from_wire, {k: v for k, v in BACKEND_WIRE.items() if k != "id"}, "'id'"),
        (Backend.from_wire, {k: v for k, v in BACKEND_WIRE.items() if k != "status"}, "'status'"),
        (Backend.from_wire, {**BACKEND_WIRE, "status": "on fire"}, "'status'"),
        (Backend.from_wire, {**BACKEND_WIRE, "enabled": "yes"}, "'enabled'"),
        (Backend.from_wire, {**BACKEND_WIRE, "settings": ["a"]}, "'settings'"),
        (Backend.from_wire, {**BACKEND_WIRE, "modcount": "lots"}, "'modcount'"),
        (BackendType.from_wire, {"name": "x"}, "'id'"),
        (BackendType.from_wire, {"id": "x", "name": "x", "settings": {}}, "'settings'"),
        (SettingSpec.from_wire, {"name": "x"}, "'type'"),
        (SettingSpec.from_wire, {"name": "x", "type": "text", "is_secret": "no"}, "'is_secret'"),
        (backend_types_from_wire, {"types": []}, "'list'"),
    ],
)
def test_missing_or_wrong_typed_required_field_is_named(parser, raw, field) -> None:
    with pytest.raises(BackendApiError) as err:
        parser(raw)
    assert field in str(err.value)


@pytest.mark.parametrize("field", ["id", "modcount", "max_usages"])
@pytest.mark.parametrize("value", [True, False])
def test_true_or_false_is_not_an_integer(field, value) -> None:
    # Python's bool is an int: without its own check a backend id of `true` would read as backend 1
    with pytest.raises(BackendApiError) as err:
        Backend.from_wire({**BACKEND_WIRE, field: value})
    assert f"'{field}'" in str(err.value) and "integer" in str(err.value)


def test_an_id_of_true_in_a_list_reply_is_refused_not_read_as_backend_1() -> None:
    with pytest.raises(BackendApiError, match="'id'"):
        backends_from_wire({"1": {**BACKEND_WIRE, "id": True}})


@pytest.mark.parametrize(("raw", "parsed"), [(7, 7), (7.0, 7), ("7", 7), (" 7 ", 7)])
def test_integers_arrive_as_numbers_or_text(raw, parsed) -> None:
    backend = Backend.from_wire({**BACKEND_WIRE, "id": raw})
    assert backend.id == parsed and type(backend.id) is int


def test_backend_repr_never_shows_setting_values() -> None:
    backend = Backend.from_wire({**BACKEND_WIRE, "settings": {"AuthorizationHeader": "Bearer hunter2", "GPU_ID": "0"}})
    assert "hunter2" not in repr(backend) and "hunter2" not in str(backend)
    assert "2 settings" in repr(backend)
    marked = Backend.from_wire({**BACKEND_WIRE, "settings": {"AuthorizationHeader": SECRET_MARKER}})
    assert marked.settings["AuthorizationHeader"] == SECRET_MARKER  # the marker is kept as-is for sending back


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
# values shaped like the wire objects, with any field replaced by anything: reaches the deep branches
backendish = st.fixed_dictionaries(
    {}, optional={k: json_values | st.just(v) for k, v in BACKEND_WIRE.items()}
)
typeish = st.fixed_dictionaries(
    {}, optional={k: json_values | st.just(v) for k, v in REAL_TYPES[-1].items()}
)

PARSERS = [Backend.from_wire, BackendType.from_wire, SettingSpec.from_wire, backends_from_wire, backend_types_from_wire]


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.__qualname__)
@settings(max_examples=100, deadline=None)
@given(value=json_values | backendish | typeish | st.builds(lambda v: {"list": [v]}, typeish)
       | st.builds(lambda v: {"0": v}, backendish))
def test_any_json_value_parses_or_raises_backend_api_error(parser, value) -> None:
    try:
        result = parser(value)
    except BackendApiError as err:
        assert str(err)  # a sentence, fit to show
        return
    assert result is not None
    # what a parser accepts is well typed: integers are ints (never bools), flags are bools, texts are str
    backends = [result] if isinstance(result, Backend) else list(result.values()) if isinstance(result, dict) else []
    for backend in backends:
        for name in ("id", "modcount", "max_usages"):
            assert type(getattr(backend, name)) is int, (name, getattr(backend, name))
        for name in ("enabled", "can_load_models"):
            assert type(getattr(backend, name)) is bool, (name, getattr(backend, name))
        assert isinstance(backend.type, str) and isinstance(backend.status, BackendStatus)
    if isinstance(result, dict):
        assert all(key == backend.id for key, backend in result.items())


# What a person reads when a server sends something malformed: the sentence names the object, the field, what it
# should be and what came. Every branch of the field checks, for each kind of object (mutation testing found the
# sentences unchecked: docs/TESTING.md).
MINIMAL_BACKEND = {"id": 1, "type": "comfyui_selfstart", "status": "idle"}
MINIMAL_TYPE = {"id": "comfyui_selfstart", "name": "ComfyUI Self-Starting"}
MINIMAL_SETTING = {"name": "GPU_ID", "type": "text"}
_B = "Malformed backend from the server: "
_T = "Malformed backend type from the server: "
_S = "Malformed setting from the server: "


@pytest.mark.parametrize(
    ("parser", "raw", "message"),
    [
        (Backend.from_wire, [], _B + "expected an object, got list"),
        (Backend.from_wire, {"type": "x", "status": "idle"}, _B + "missing field 'id'"),
        (Backend.from_wire, {"id": None, "type": "x", "status": "idle"}, _B + "missing field 'id'"),
        (Backend.from_wire, {"id": 1, "status": "idle"}, _B + "missing field 'type'"),
        (Backend.from_wire, {"id": 1, "type": "x"}, _B + "missing field 'status'"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "id": "seven"}, _B + "field 'id' should be an integer, got str"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "id": True}, _B + "field 'id' should be an integer, got bool"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "id": 1.5}, _B + "field 'id' should be an integer, got float"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "id": [1]}, _B + "field 'id' should be an integer, got list"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "type": 5}, _B + "field 'type' should be text, got int"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "status": 5}, _B + "field 'status' should be text, got int"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "status": "on fire"},
         _B + "field 'status' has an unknown value 'on fire'"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "status": "x" * 50},
         _B + f"field 'status' has an unknown value '{'x' * 40}'"),  # a long value is cut at 40 characters
        (Backend.from_wire, {**MINIMAL_BACKEND, "settings": ["a"]}, _B + "field 'settings' should be an object, got list"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "modcount": "lots"}, _B + "field 'modcount' should be an integer, got str"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "max_usages": 2.5}, _B + "field 'max_usages' should be an integer, got float"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "features": "comfyui"}, _B + "field 'features' should be a list, got str"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "features": [{}]},
         _B + "field 'features' should be a list of text, got dict"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "features": [False]},
         _B + "field 'features' should be a list of text, got bool"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "enabled": "yes"}, _B + "field 'enabled' should be true or false, got str"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "can_load_models": 1},
         _B + "field 'can_load_models' should be true or false, got int"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "title": 5}, _B + "field 'title' should be text, got int"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "seconds_since_used": "soon"},
         _B + "field 'seconds_since_used' should be a number, got str"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "seconds_since_used": True},
         _B + "field 'seconds_since_used' should be a number, got bool"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "time_since_used": 5}, _B + "field 'time_since_used' should be text, got int"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "current_model": 5}, _B + "field 'current_model' should be text, got int"),
        (Backend.from_wire, {**MINIMAL_BACKEND, "status_message": 5}, _B + "field 'status_message' should be text, got int"),
        (backends_from_wire, [], "Malformed backend list from the server: expected an object, got list"),
        (backends_from_wire, {"1": 5}, _B + "expected an object, got int"),
        (BackendType.from_wire, "x", _T + "expected an object, got str"),
        (BackendType.from_wire, {"name": "x"}, _T + "missing field 'id'"),
        (BackendType.from_wire, {"id": "x"}, _T + "missing field 'name'"),
        (BackendType.from_wire, {**MINIMAL_TYPE, "id": 5}, _T + "field 'id' should be text, got int"),
        (BackendType.from_wire, {**MINIMAL_TYPE, "name": 5}, _T + "field 'name' should be text, got int"),
        (BackendType.from_wire, {**MINIMAL_TYPE, "description": 5}, _T + "field 'description' should be text, got int"),
        (BackendType.from_wire, {**MINIMAL_TYPE, "settings": {}}, _T + "field 'settings' should be a list, got dict"),
        (BackendType.from_wire, {**MINIMAL_TYPE, "is_standard": "no"},
         _T + "field 'is_standard' should be true or false, got str"),
        (backend_types_from_wire, [], "Malformed backend type list from the server: expected an object, got list"),
        (backend_types_from_wire, {"types": []}, "Malformed backend type list from the server: missing field 'list'"),
        (backend_types_from_wire, {"list": {}},
         "Malformed backend type list from the server: field 'list' should be a list, got dict"),
        (SettingSpec.from_wire, 5, _S + "expected an object, got int"),
        (SettingSpec.from_wire, {"type": "text"}, _S + "missing field 'name'"),
        (SettingSpec.from_wire, {"name": "x"}, _S + "missing field 'type'"),
        (SettingSpec.from_wire, {**MINIMAL_SETTING, "name": 5}, _S + "field 'name' should be text, got int"),
        (SettingSpec.from_wire, {**MINIMAL_SETTING, "type": 5}, _S + "field 'type' should be text, got int"),
        (SettingSpec.from_wire, {**MINIMAL_SETTING, "values": "a"}, _S + "field 'values' should be a list, got str"),
        (SettingSpec.from_wire, {**MINIMAL_SETTING, "values": [None]},
         _S + "field 'values' should be a list of text, got NoneType"),
        (SettingSpec.from_wire, {**MINIMAL_SETTING, "value_names": 5}, _S + "field 'value_names' should be a list, got int"),
        (SettingSpec.from_wire, {**MINIMAL_SETTING, "value_names": [["a"]]},
         _S + "field 'value_names' should be a list of text, got list"),
        (SettingSpec.from_wire, {**MINIMAL_SETTING, "description": 5}, _S + "field 'description' should be text, got int"),
        (SettingSpec.from_wire, {**MINIMAL_SETTING, "placeholder": 5}, _S + "field 'placeholder' should be text, got int"),
        (SettingSpec.from_wire, {**MINIMAL_SETTING, "is_secret": "no"},
         _S + "field 'is_secret' should be true or false, got str"),
    ],
)
def test_a_malformed_reply_is_refused_with_a_sentence_naming_the_field(parser, raw, message) -> None:
    with pytest.raises(BackendApiError) as err:
        parser(raw)
    assert str(err.value) == message


def test_a_backend_with_only_its_required_fields_reads_with_the_documented_defaults() -> None:
    for raw in (MINIMAL_BACKEND, {**MINIMAL_BACKEND, **dict.fromkeys(
            ["settings", "modcount", "features", "enabled", "title", "can_load_models", "max_usages",
             "seconds_since_used", "time_since_used", "current_model", "status_message"])}):  # null reads as absent
        backend = Backend.from_wire(raw)
        assert (backend.id, backend.type, backend.status) == (1, "comfyui_selfstart", BackendStatus.IDLE)
        assert backend.settings == {} and backend.modcount == 0 and backend.features == ()
        assert backend.enabled is True and backend.title == "" and backend.can_load_models is True
        assert backend.max_usages == 0 and backend.seconds_since_used is None and backend.time_since_used is None
        assert backend.current_model is None and backend.status_message is None and backend.extra == {}


def test_every_field_a_backend_sends_is_read() -> None:
    backend = Backend.from_wire({
        "id": 4, "type": "swarmswarmbackend", "status": "Loading", "settings": {"Address": "http://x"},
        "modcount": 9, "features": ["a", 2], "enabled": False, "title": "Second GPU", "can_load_models": False,
        "max_usages": 3, "seconds_since_used": 1.5, "time_since_used": "1 second ago", "current_model": "m",
        "status_message": "warming up",
    })
    assert backend.status is BackendStatus.LOADING  # the status is read whatever its case
    assert backend.settings == {"Address": "http://x"} and backend.modcount == 9 and backend.features == ("a", "2")
    assert backend.enabled is False and backend.title == "Second GPU" and backend.can_load_models is False
    assert backend.max_usages == 3 and backend.seconds_since_used == 1.5 and backend.time_since_used == "1 second ago"
    assert backend.current_model == "m" and backend.status_message == "warming up"


def test_a_backend_type_and_a_setting_with_only_their_required_fields_read_with_the_defaults() -> None:
    kind = BackendType.from_wire(MINIMAL_TYPE)
    assert (kind.id, kind.name, kind.description, kind.settings, kind.is_standard) == (
        "comfyui_selfstart", "ComfyUI Self-Starting", "", (), True)
    spec = SettingSpec.from_wire(MINIMAL_SETTING)
    assert (spec.name, spec.type, spec.description, spec.placeholder, spec.is_secret) == ("GPU_ID", "text", "", "", False)
    assert spec.default is None and spec.values is None and spec.value_names is None
    assert backend_types_from_wire({"list": [MINIMAL_TYPE]}) == [kind]
    assert BackendType.from_wire({**MINIMAL_TYPE, "settings": None, "is_standard": None}).is_standard is True


# ---- the fast reading of a plain backend (a first load of thousands: docs/PERFORMANCE.md, P8) -------------------
plain_backendish = st.fixed_dictionaries(
    {"id": st.integers(), "type": st.text(max_size=8), "status": st.sampled_from([s.value for s in BackendStatus])
     | st.sampled_from(["RUNNING", "Errored", "weird"])},
    optional={
        "settings": st.dictionaries(st.text(max_size=6), json_values, max_size=3) | st.none(),
        "modcount": st.integers() | st.none() | st.floats(allow_nan=False) | st.booleans(),
        "features": st.lists(st.text(max_size=6) | st.integers(), max_size=3) | st.none(),
        "enabled": st.booleans() | st.none() | st.integers(0, 1), "title": st.text(max_size=6) | st.none(),
        "can_load_models": st.booleans() | st.none(), "max_usages": st.integers() | st.none() | st.text(max_size=3),
        "seconds_since_used": st.integers() | st.floats() | st.none() | st.booleans(),
        "time_since_used": st.text(max_size=6) | st.none(), "current_model": st.text(max_size=6) | st.none() | st.integers(),
        "status_message": st.text(max_size=6) | st.none(), "gpu_temp": json_values, "worker_port": st.integers(),
    },
)


@settings(max_examples=400)
@given(raw=plain_backendish | backendish)
def test_the_fast_reading_of_a_plain_backend_is_the_checked_one(raw) -> None:
    """What from_wire gives for any entry is what its field-by-field checking path gives (or raises the same)."""
    try:
        checked = Backend._checked_from_wire(raw)
    except BackendApiError as exc:
        with pytest.raises(BackendApiError) as again:
            Backend.from_wire(raw)
        assert str(again.value) == str(exc)
        return
    got = Backend.from_wire(raw)
    assert vars(got) == vars(checked)  # every field, extra included
    assert got == checked
    assert [type(v) for v in vars(got).values()] == [type(v) for v in vars(checked).values()]
