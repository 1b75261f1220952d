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
    for parsed, raw in zip(types, REAL_TYPES):
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
