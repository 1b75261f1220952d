"""The ListBackends decoder gives exactly what json + backends_from_wire give, and reuses unchanged entries."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend_manager_gui.core.errors import BackendApiError
from backend_manager_gui.core.list_decoder import BackendListDecoder
from backend_manager_gui.core.models import backends_from_wire
from tests.support.fake_swarm import FakeSwarm


def server_reply(n: int = 20) -> dict:
    fake = FakeSwarm()
    for i in range(n):
        fake.add("comfyui_selfstart" if i % 3 == 0 else "comfyui_api", status="running", title=f"wörker {i}",
                 settings={"GPU_ID": str(i % 4)} if i % 3 == 0 else None)
    return {str(b): fake.backend_to_net(b, True) for b in fake.backends}


async def test_same_result_as_json_and_unchanged_entries_are_the_same_objects():
    reply = server_reply()
    decoder = BackendListDecoder()
    first = await decoder.decode(json.dumps(reply).encode())
    assert first == backends_from_wire(reply) and list(first) == sorted(first)
    reply["7"]["status"] = "errored"
    reply["7"]["modcount"] += 1
    second = await decoder.decode(json.dumps(reply).encode())
    assert second == backends_from_wire(reply)
    assert second[7].status.value == "errored" and second[7] is not first[7]
    assert all(second[i] is first[i] for i in first if i != 7)


@pytest.mark.parametrize("text", [
    '{"error": "Settings are locked."}',
    '{"error_id": "invalid_session_id", "error": "Invalid session ID."}',
    '[]', '', '{"1": {"id": 1, "type": "x", "status": "running"}} trailing',
    '{"1": {"id": 1, "type": "x", "status": "running"}, "1": {"id": 1, "type": "y", "status": "idle"}}',
    '{"1": 5}', '{"1": {"id": 1, "type": "x", "status": "running"}',
])
async def test_anything_but_a_plain_list_is_left_to_the_ordinary_path(text):
    assert await BackendListDecoder().decode(text.encode()) is None


async def test_a_malformed_entry_raises_like_the_model_parser():
    with pytest.raises(BackendApiError, match="status"):
        await BackendListDecoder().decode(b'{"1": {"id": 1, "type": "x", "status": "sleepy"}}')


async def test_an_id_of_true_is_refused_not_read_as_backend_1():
    with pytest.raises(BackendApiError, match="'id'"):
        await BackendListDecoder().decode(b'{"1": {"id": true, "type": "x", "status": "running"}}')


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.sampled_from(["running", "idle", "errored"]), st.text(max_size=8)),
                max_size=8), st.sampled_from([None, 0, 2]))
def test_any_spacing_and_order_decodes_like_json(entries, indent):
    import asyncio

    reply = {str(i): {"id": i, "type": "comfyui_api", "status": s, "title": t} for i, s, t in entries}
    text = json.dumps(reply, indent=indent, ensure_ascii=indent == 2)
    decoder = BackendListDecoder()
    for _ in range(2):  # the second time through the reuse path
        got = asyncio.run(decoder.decode(text.encode()))
        assert got == backends_from_wire(json.loads(text)) and list(got) == sorted(got)


_ENTRY = st.tuples(st.integers(0, 30), st.sampled_from(["running", "idle", "errored"]), st.text(max_size=6))


@settings(max_examples=80, deadline=None)
@given(st.lists(_ENTRY, max_size=10), st.lists(_ENTRY, max_size=10), st.sampled_from([None, 1]))
def test_any_reply_after_any_other_decodes_like_json(first, second, indent):
    """Entries added, removed, moved or changed between two polls: the second result is still exactly json's."""
    import asyncio

    decoder = BackendListDecoder()
    for entries in (first, second):
        reply = {str(i): {"id": i, "type": "comfyui_api", "status": s, "title": t} for i, s, t in entries}
        text = json.dumps(reply, indent=indent)
        got = asyncio.run(decoder.decode(text.encode()))
        assert got == backends_from_wire(json.loads(text)) and list(got) == sorted(got)


async def test_a_backend_added_in_the_middle_and_one_removed():
    reply = server_reply(10)
    decoder = BackendListDecoder()
    first = await decoder.decode(json.dumps(reply).encode())
    del reply["3"]
    reply = {**{k: v for k, v in reply.items() if int(k) < 5}, "42": {**reply["4"], "id": 42},
             **{k: v for k, v in reply.items() if int(k) >= 5}}
    second = await decoder.decode(json.dumps(reply).encode())
    assert second == backends_from_wire(reply) and list(second) == sorted(second)
    assert 3 not in second and second[42].id == 42
    assert all(second[i] is first[i] for i in second if i != 42)
