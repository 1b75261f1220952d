"""Logs through ``serve``: RemoteService → serve → LocalService → real worker processes (tests/support/fake_comfy.py),
and SwarmUI's own web UI's way of reading them (``logs.js``), replayed over raw requests.

What a person notices: a worker's whole output, once each and in order, through its restarts; the newest 1,024
lines after a flood; the levels carrying serve's own log; and the answers SwarmUI's web UI expects, so that its
Server → Logs tab and "View Logs" button work against serve.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import shlex
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from backend_manager_gui.core.errors import BackendApiError
from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.logs import NO_BACKEND_LOG
from backend_manager_gui.core.models import BackendStatus, LogLine
from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.core.server import PERMISSIONS, ServeRunner
from tests.support.fake_swarm import FakeSwarm

FAKE_COMFY = Path(__file__).resolve().parents[1] / "support" / "fake_comfy.py"
TIMINGS = {"stop_grace": 3.0, "backoff_base": 0.2, "probe_interval": 0.1, "alive_ready_s": 0.3, "queue_interval": 0.5}
LEVELS = ["Verbose", "Debug", "Info", "Init", "Warning", "Error"]
SWARM_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")


def worker_settings(*extra: str) -> dict[str, object]:
    return {
        "Command": shlex.join([sys.executable, str(FAKE_COMFY), "--port", "{port}", *extra]),
        "HealthURL": "http://127.0.0.1:{port}/system_stats",
    }


def as_swarm(text: str) -> str:
    """A tail line (LocalService.log_tail) as backend_log and serve write it."""
    if text.startswith("[err] "):
        return "[STDERR] " + text[6:]
    return text if text.startswith("[manager] ") else "[STDOUT] " + text


async def until(check: Callable[[], Any], what: str, deadline: float = 20.0) -> None:
    """A bounded wait for something the workers do (not a timing assertion)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while not check():
        if loop.time() > end:
            raise AssertionError(f"not {what} within {deadline} s")
        await asyncio.sleep(0.05)


def is_running(local: LocalService, bid: int, not_pid: int | None = None) -> bool:
    """Running (its start-up output all in the tail: the manager notes "running" after it), in a new process."""
    pid = local.details(bid).pid
    return local._snapshot(local._entries[bid]).status is BackendStatus.RUNNING and pid is not None and pid != not_pid


async def restart(local: LocalService, restart_with: Any, bid: int) -> None:
    pid = local.details(bid).pid
    assert await restart_with.restart_backends(bid) == 1
    await until(lambda: is_running(local, bid, not_pid=pid), "running again")


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[tuple[LocalService, ServeRunner]]:
    async with LocalService(tmp_path / "box", **TIMINGS) as local, ServeRunner(local) as srv:
        yield local, srv


@pytest.fixture
async def client(box: tuple[LocalService, ServeRunner]) -> AsyncIterator[RemoteService]:
    async with RemoteService(box[1].url) as svc:
        yield svc


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def session_of(http: aiohttp.ClientSession, url: str) -> tuple[str, list[str]]:
    async with http.post(f"{url}/API/GetNewSession", json={}) as r:
        reply = await r.json()
    return reply["session_id"], reply["permissions"]


async def post(http: aiohttp.ClientSession, url: str, sid: str, route: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with http.post(f"{url}/API/{route}", json={**body, "session_id": sid}) as r:
        return r.status, json.loads(await r.text())


async def running_worker(local: LocalService, *extra: str) -> int:
    added = await local.add_backend("command")
    await local.edit_backend(added.id, "", worker_settings(*extra))
    await until(lambda: is_running(local, added.id), "running")
    return added.id


class Follower:
    """Reads a backend's log as the Log dock does: each read starts where the last one ended."""

    def __init__(self, service: Any, backend_id: int) -> None:
        self.service, self.backend_id, self.after = service, backend_id, 0
        self.lines: list[LogLine] = []

    async def read(self) -> None:
        log = await self.service.backend_log(self.backend_id, self.after)
        assert log.available and log.last_sequence >= self.after
        self.after = log.last_sequence
        self.lines += log.lines

    def texts(self) -> list[str]:
        return [line.text for line in self.lines]


# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["serve", "the manager itself"])
async def test_a_workers_log_loses_no_line_and_repeats_none_across_restarts(
    box: tuple[LocalService, ServeRunner], client: RemoteService, via: str
) -> None:
    local, _srv = box
    bid = await running_worker(local, "--spam-lines", "30")
    follower = Follower(client if via == "serve" else local, bid)
    await follower.read()
    for _run in range(2):  # two restarts, read while they happen
        pid = local.details(bid).pid
        assert await client.restart_backends(bid) == 1
        await follower.read()  # in the middle of the restart
        await until(functools.partial(is_running, local, bid, not_pid=pid), "running again")
        await follower.read()
    await follower.read()

    # exactly the worker's tail: every line of three runs (and the manager's notes), once each, in order
    assert follower.texts() == [as_swarm(line) for line in local.log_tail(bid)]
    sequences = [line.sequence for line in follower.lines]
    assert sequences == sorted(set(sequences))
    assert sum(1 for text in follower.texts() if text.startswith("[STDOUT] fake_comfy pid=")) == 3
    assert "[manager] restart requested" in follower.texts()
    assert all(SWARM_TIME.match(line.time) and line.level == "" for line in follower.lines)


async def test_a_flood_between_reads_gives_the_newest_1024_lines(
    box: tuple[LocalService, ServeRunner], client: RemoteService
) -> None:
    local, _srv = box
    bid = await running_worker(local, "--spam-lines", "1500")
    await until(lambda: "spam line 1499" in local.log_tail(bid), "the flood")
    log = await client.backend_log(bid, 0)
    tail = [as_swarm(line) for line in local.log_tail(bid)]
    assert len(tail) > 1500 and [line.text for line in log.lines] == tail[-1024:]
    # the local manager itself keeps its 2,000-line tail: all of this run
    direct = await local.backend_log(bid, 0)
    assert [line.text for line in direct.lines] == tail


async def test_the_manager_answers_for_its_own_backends_only(box: tuple[LocalService, ServeRunner]) -> None:
    local, _srv = box
    bid = (await local.add_backend("command")).id
    await local.edit_backend(bid, "", worker_settings("--crash-after", "0.2"))
    await until(lambda: any("crashing with exit code 1" in line for line in local.log_tail(bid)), "the crash")
    log = await local.backend_log(bid)
    assert "[STDERR] fake_comfy: crashing with exit code 1" in [line.text for line in log.lines]
    later = await local.backend_log(bid, log.last_sequence)  # it is restarted with backoff: maybe more lines
    assert all(line.sequence > log.last_sequence for line in later.lines)
    with pytest.raises(BackendApiError, match="Invalid backend ID 9"):
        await local.backend_log(9)


async def test_a_backend_serve_does_not_have_reads_as_no_log(client: RemoteService) -> None:
    log = await client.backend_log(9)
    assert (log.available, log.reason, log.lines) == (False, NO_BACKEND_LOG, ())


async def test_serve_answers_the_log_routes_in_swarmuis_shapes(
    box: tuple[LocalService, ServeRunner], http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="backend_manager_gui")
    local, _quiet = box
    async with ServeRunner(local, access_log=True) as srv:  # one line per request: not in the levels
        worker = await running_worker(local)
        comfy = (await local.add_backend("comfyui_selfstart")).id  # no StartScript: errored, but it has a log
        sid, permissions = await session_of(http, srv.url)
        assert "view_logs" in permissions and "view_logs" in PERMISSIONS

        status, types = await post(http, srv.url, sid, "ListLogTypes", {})
        assert status == 200
        assert [t["name"] for t in types["types_available"]] == [*LEVELS, f"Worker-{worker}", f"ComfyUI-{comfy}"]
        assert types["types_available"][2] == {"name": "Info", "color": "#00FFFF", "identifier": ""}
        assert types["types_available"][-1] == {"name": f"ComfyUI-{comfy}", "color": "#707070",
                                                "identifier": f"backend-{comfy}"}

        # serve's own log goes to the levels (a refusal is logged at INFO); its access log does not
        await post(http, srv.url, sid, "ToggleBackend", {"backend_id": 99, "enabled": True})
        status, recent = await post(http, srv.url, sid, "listrecentlogmessages",
                                    {"types": ["Info", f"Worker-{worker}", "Nope"], "last_sequence_ids": {}})
        assert status == 200 and set(recent) == {"types_available", "last_sequence_id", "data"}
        assert set(recent["data"]) == {"Info", f"Worker-{worker}"}
        info = [m["message"] for m in recent["data"]["Info"]]
        assert "route togglebackend refused: Invalid backend ID 99" in info
        assert not any("POST /API/" in m for m in info)
        messages = recent["data"][f"Worker-{worker}"]
        assert [m["message"] for m in messages] == [as_swarm(line) for line in local.log_tail(worker)]
        assert all(set(m) == {"sequence_id", "time", "message"} and SWARM_TIME.match(m["time"]) for m in messages)
        every = [m["sequence_id"] for lines in recent["data"].values() for m in lines]
        assert len(set(every)) == len(every)  # one counter for every tracker

        # only what is new after the given id; a tracker whose last line is older answers an empty list
        last = messages[-1]["sequence_id"]
        status, again = await post(http, srv.url, sid, "ListRecentLogMessages",
                                   {"types": [f"Worker-{worker}"], "last_sequence_ids": {f"Worker-{worker}": last}})
        assert again["data"] == {f"Worker-{worker}": []} and again["last_sequence_id"] >= last


async def test_serve_and_the_fake_swarmui_refuse_malformed_log_requests_alike(
    box: tuple[LocalService, ServeRunner], http: aiohttp.ClientSession
) -> None:
    local, srv = box
    await local.add_backend("comfyui_selfstart")
    bodies: list[dict[str, Any]] = [
        {},  # no "types": SwarmUI's handler dereferences it
        {"types": "Info", "last_sequence_ids": {}},
        {"types": ["Info"]},  # no "last_sequence_ids" once a type matches
        {"types": ["Info"], "last_sequence_ids": {"Info": "soon"}},
        {"types": ["Nope"]},  # nothing matched: no dereference, an answer
        {"types": [], "last_sequence_ids": {}},
        {"types": ["Info"], "last_sequence_ids": {"Info": "3"}},
    ]
    async with FakeSwarm() as fake:
        fake.add("comfyui_selfstart", status="running")
        fake_sid, _ = await session_of(http, fake.url)
        serve_sid, _ = await session_of(http, srv.url)
        for body in bodies:
            theirs = await post(http, fake.url, fake_sid, "ListRecentLogMessages", body)
            ours = await post(http, srv.url, serve_sid, "ListRecentLogMessages", body)
            assert (ours[0], ours[1].get("error_id")) == (theirs[0], theirs[1].get("error_id")), body


async def test_swarmuis_web_ui_reads_a_worker_through_serve(
    box: tuple[LocalService, ServeRunner], http: aiohttp.ClientSession
) -> None:
    """logs.js's updateLoop, replayed: ListLogTypes once, then ListRecentLogMessages with the per-type last ids
    it keeps; a type seen the first time starts from the reply's global last_sequence_id."""
    local, srv = box
    bid = await running_worker(local, "--spam-lines", "5")
    sid, _ = await session_of(http, srv.url)
    status, types = await post(http, srv.url, sid, "ListLogTypes", {})
    match = [t for t in types["types_available"] if t["identifier"] == f"backend-{bid}"]  # backends.js
    assert status == 200 and len(match) == 1, "the View Logs button would be disabled"
    name = match[0]["name"]
    stored: dict[str, dict[str, Any]] = {}
    last_seq = -1
    shown: list[dict[str, Any]] = []

    async def update_loop() -> None:
        nonlocal last_seq
        last_seqs = {t: d["last_seq_id"] for t, d in stored.items()}
        status, data = await post(http, srv.url, sid, "ListRecentLogMessages",
                                  {"lastSeqId": last_seq, "types": [name], "last_sequence_ids": last_seqs})
        assert status == 200 and "error" not in data
        last_seq = data["last_sequence_id"]
        for t in data["types_available"]:
            messages = data["data"].get(t["name"])
            if messages is None:
                continue
            entry = stored.setdefault(t["name"], {"raw": {}, "last_seq_id": last_seq})
            for message in messages:
                if message["sequence_id"] in entry["raw"]:
                    continue
                entry["raw"][message["sequence_id"]] = message
                entry["last_seq_id"] = message["sequence_id"]
                shown.append(message)

    await update_loop()
    await update_loop()
    await restart(local, local, bid)
    await update_loop()
    assert [m["message"] for m in shown] == [as_swarm(line) for line in local.log_tail(bid)]
    assert sum(1 for m in shown if m["message"].startswith("[STDOUT] fake_comfy pid=")) == 2
