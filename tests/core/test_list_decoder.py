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


# Cases mutation testing found unchecked (docs/TESTING.md): the reply as text or with leading space, a change in
# the first entry, the polls after a change, forget(), and the turns a long first load gives the loop.


@pytest.mark.parametrize("form", ["bytes", "bytearray", "str", "leading space"])
async def test_a_reply_in_any_form_decodes_like_json(form):
    text = json.dumps(server_reply(3))
    content = {"bytes": text.encode(), "bytearray": bytearray(text.encode()), "str": text,
               "leading space": (" \n\t" + text).encode()}[form]
    assert await BackendListDecoder().decode(content) == backends_from_wire(json.loads(text))


@pytest.mark.parametrize("changed", [0, 1, 2, 3])
async def test_one_backend_changed_anywhere_in_the_list(changed):
    reply = server_reply(4)
    decoder = BackendListDecoder()
    first = await decoder.decode(json.dumps(reply).encode())
    reply[str(changed)]["status"] = "errored"
    second = await decoder.decode(json.dumps(reply).encode())
    assert second == backends_from_wire(reply)
    assert second[changed].status.value == "errored" and all(second[i] is first[i] for i in first if i != changed)


async def test_unchanged_backends_are_still_reused_in_the_polls_after_a_change():
    reply = server_reply(4)
    decoder = BackendListDecoder()
    polls = [json.dumps(reply, indent=1)]  # indented: every entry's text starts the same way wherever it is
    reply["0"]["status"] = "errored"
    polls.append(json.dumps(reply, indent=1))
    del reply["0"]
    polls += [json.dumps(reply, indent=1)] * 2
    results = [await decoder.decode(text.encode()) for text in polls]
    for text, result in zip(polls, results, strict=True):
        assert result == backends_from_wire(json.loads(text))
    assert all(results[3][i] is results[0][i] for i in (1, 2, 3))


async def test_after_forget_every_entry_is_read_again():
    text = json.dumps(server_reply(3)).encode()
    decoder = BackendListDecoder()
    first = await decoder.decode(text)
    decoder.forget()  # a new session: what the old one sent is not trusted
    again = await decoder.decode(text)
    assert again == first and all(again[i] is not first[i] for i in first)


async def test_a_first_load_of_5000_backends_gives_the_loop_turns_while_it_decodes():
    import asyncio

    text = json.dumps(server_reply(5000)).encode()
    turns = 0
    done = False

    async def ticker():
        nonlocal turns
        while not done:
            turns += 1
            await asyncio.sleep(0)

    task = asyncio.ensure_future(ticker())
    await asyncio.sleep(0)
    turns = 0
    try:
        result = await BackendListDecoder().decode(text)
    finally:
        done = True
        await task
    assert result == backends_from_wire(json.loads(text))
    # at least one turn (decoding 5,000 entries takes far longer than one 5 ms slice on any machine), and no more
    # than one per 32 entries: the decoder only ever yields for a turn, it never sleeps
    assert 1 <= turns <= 5000 // 32 + 1, turns
