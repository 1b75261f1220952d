"""GPU assignment and fleet planning (core/fleet.py): one GPU_ID grammar, one-per-GPU and duplicate plans."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend_manager_gui.core.fleet import (
    GpuIdError,
    format_gpu_ids,
    gpu_ids,
    gpu_text,
    live,
    next_free_gpu,
    parse_gpu_ids,
    per_gpu_type,
    plan_duplicates,
    plan_one_per_gpu,
)
from backend_manager_gui.core.local.backend_types import KINDS, gpu_env, gpu_id
from backend_manager_gui.core.models import (
    SECRET_MARKER,
    Backend,
    BackendStatus,
    BackendType,
    SettingSpec,
)


def _b(i: int, gpu: object = None, *, type_id: str = "comfyui_selfstart", title: str = "", **settings: object) -> Backend:
    s = dict(settings)
    if gpu is not None:
        s["GPU_ID"] = gpu
    return Backend(i, type_id, BackendStatus.RUNNING, s, title=title)


@pytest.mark.parametrize(("value", "ids"), [
    (None, ()), ("", ()), ("  ", ()), ("0", (0,)), ("1, 3", (1, 3)), (" 2 ,0 ", (2, 0)), ("0,0,1", (0, 1)),
    ("10", (10,)), (1, (1,)), (0, (0,)),
])
def test_gpu_id_grammar_accepts(value, ids):
    assert parse_gpu_ids(value) == ids


@pytest.mark.parametrize("value", ["0;1", "0 1", "1,", ",1", "-1", "gpu0", "0,,1", "٣", True, False, -2, 1.0, ["0"]])
def test_gpu_id_grammar_refuses(value):
    with pytest.raises(GpuIdError):
        parse_gpu_ids(value)


@given(st.lists(st.integers(min_value=0, max_value=4096), max_size=8), st.sampled_from(["", " ", "  "]))
def test_a_formatted_list_parses_back(ids, pad):
    text = (pad + "," + pad).join(str(i) for i in ids)
    assert parse_gpu_ids(text) == tuple(dict.fromkeys(ids))
    assert parse_gpu_ids(format_gpu_ids(parse_gpu_ids(text))) == parse_gpu_ids(text)


@given(st.text(max_size=12))
def test_any_text_parses_to_gpu_numbers_or_is_refused(text):
    try:
        ids = parse_gpu_ids(text)
    except GpuIdError:
        return
    assert all(isinstance(i, int) and i >= 0 for i in ids)
    assert set(format_gpu_ids(ids)) <= set("0123456789,")


def test_the_manager_pins_workers_with_the_same_grammar():
    # what the table shows is what CUDA_VISIBLE_DEVICES gets
    settings = {"GPU_ID": " 1 , 0 "}
    assert gpu_text(settings) == "1,0" == gpu_id(settings)
    assert gpu_env(gpu_id(settings))["CUDA_VISIBLE_DEVICES"] == "1,0"
    assert gpu_id({"GPU_ID": ""}) == "" and gpu_env("") == {}


def test_the_table_shows_a_bad_value_as_it_is_and_counts_no_gpu_for_it():
    assert gpu_text({"GPU_ID": "0;1"}) == "0;1"
    assert gpu_ids({"GPU_ID": "0;1"}) == ()
    assert gpu_text({}) == "" and gpu_text({"GPU_ID": 2}) == "2"


def test_next_free_gpu():
    assert next_free_gpu({0, 1}, [0, 1, 2, 3]) == 2
    assert next_free_gpu({0, 1}, [0, 1]) is None
    assert next_free_gpu({0, 3}, None) == 4  # GPUs unknown (a server): one past the highest in use
    assert next_free_gpu(set(), None) is None


def test_duplicate_puts_each_copy_on_the_next_free_gpu():
    table = [_b(0, "0", title="Big GPU", ExtraArgs="--lowvram"), _b(1, "1"), _b(2, type_id="comfyui_api")]
    copies = plan_duplicates([table[0], table[1], table[2]], table, [0, 1, 2])
    assert [c.settings.get("GPU_ID") for c in copies] == ["2", "1", None]
    assert [c.note for c in copies] == [" on GPU 2", " on the same GPU (every GPU already has a backend)", ""]
    assert copies[0].title == "Big GPU (copy)" and copies[1].title == ""
    assert copies[0].settings["ExtraArgs"] == "--lowvram"


def test_duplicate_on_a_server_counts_past_the_highest_gpu_and_with_no_gpu_keeps_the_source():
    table = [_b(0, "0"), _b(1, "1, 3")]
    assert [c.settings["GPU_ID"] for c in plan_duplicates(table, table, None)] == ["4", "5"]
    no_gpu = plan_duplicates([table[0]], table, [])
    assert no_gpu[0].settings["GPU_ID"] == "0" and no_gpu[0].note == ""


def test_a_copy_never_carries_the_secret_marker():
    source = _b(0, "0", Token=SECRET_MARKER, Address="http://x")
    (copy,) = plan_duplicates([source], [source], None)
    assert "Token" not in copy.settings and copy.settings["Address"] == "http://x"


def test_one_per_gpu_fills_only_the_gpus_without_a_worker_with_the_first_workers_settings():
    table = [_b(0, "1", StartScript="/c/main.py", Secret=SECRET_MARKER), _b(1, "0", type_id="command")]
    plan = plan_one_per_gpu([(0, "RTX A"), (1, "RTX B"), (2, "RTX C")], table, "comfyui_selfstart")
    assert [(w.gpu, w.title) for w in plan] == [(0, "GPU 0 (RTX A)"), (2, "GPU 2 (RTX C)")]
    assert plan[0].settings == {"StartScript": "/c/main.py", "GPU_ID": "0"}
    assert plan_one_per_gpu([(1, "RTX B")], table, "comfyui_selfstart") == []
    assert plan_one_per_gpu([(0, "X")], [], "comfyui_selfstart")[0].settings == {"GPU_ID": "0"}


def test_the_per_gpu_type_is_decided_from_the_type_list():
    assert per_gpu_type([k.info for k in KINDS.values()]).id == "comfyui_selfstart"
    plain = BackendType("plain", "Plain", settings=(SettingSpec("Address", "text"),))
    advanced = BackendType("adv", "Adv", settings=(SettingSpec("GPU_ID", "text"),), is_standard=False)
    assert per_gpu_type([plain, advanced]) is None


def test_live_backends_are_those_whose_worker_is_up_or_coming_up():
    statuses = list(BackendStatus)
    table = [Backend(i, "t", s, {}) for i, s in enumerate(statuses)]
    assert {b.status for b in live(table)} == {BackendStatus.RUNNING, BackendStatus.IDLE, BackendStatus.LOADING,
                                                BackendStatus.WAITING}


@pytest.mark.parametrize("value", ["0 1", "0;1", "1,"])
def test_the_manager_refuses_what_the_table_cannot_read(value):
    # "0 1" used to reach CUDA_VISIBLE_DEVICES as "01" (GPU 1 alone): now it is refused on save
    from backend_manager_gui.core.errors import BackendApiError
    from backend_manager_gui.core.local.backend_types import check_gpu_id

    with pytest.raises(BackendApiError, match="GPU_ID must be"):
        check_gpu_id(value)
