"""``RemoteService.backend_log`` against the fake SwarmUI server's log routes (``ListLogTypes``,
``ListRecentLogMessages``), and ``last_error_line``.

What a person following a server backend's log would notice: every line once, in order, none lost while the
backend's process lives, dies and comes back; the newest 1,024 lines when more came in between; a sentence
instead of a log when the account may not read logs or the backend has none; and one request per read.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from backend_manager_gui.core.errors import ServiceUnavailable
from backend_manager_gui.core.logs import (
    NO_BACKEND_LOG,
    NO_LOG_ROUTES,
    NO_PERMISSION,
    last_error_line,
)
from backend_manager_gui.core.models import BackendLog, LogLine
from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.core.service import BackendService
from tests.support.fake_swarm import FakeSwarm


@pytest.fixture
async def fake() -> AsyncIterator[FakeSwarm]:
    async with FakeSwarm() as server:
        yield server


@pytest.fixture
async def svc(fake: FakeSwarm) -> AsyncIterator[RemoteService]:
    async with RemoteService(fake.url) as service:
        yield service


class Follower:
    """Reads a backend's log the way the Log dock does: each read starts where the last one ended."""

    def __init__(self, service: BackendService, backend_id: int) -> None:
        self.service = service
        self.backend_id = backend_id
        self.after = 0
        self.lines: list[LogLine] = []
        self.last: BackendLog | None = None

    async def read(self) -> BackendLog:
        log = await self.service.backend_log(self.backend_id, self.after)
        assert log.last_sequence >= self.after
        self.after = log.last_sequence
        self.lines += log.lines
        self.last = log
        return log

    def texts(self) -> list[str]:
        return [line.text for line in self.lines]


def assert_in_order_once(lines: list[LogLine]) -> None:
    sequences = [line.sequence for line in lines]
    assert sequences == sorted(set(sequences)), "a line came twice or out of order"


async def test_a_running_backends_log_arrives_in_order_once_each_with_one_request_per_read(
    fake: FakeSwarm, svc: RemoteService
) -> None:
    bid = fake.add("comfyui_selfstart", status="running")
    fake.add("comfyui_selfstart", status="running")  # another worker's lines must not show up
    for i in range(5):
        fake.worker_output(bid, f"line {i}")
        fake.worker_output(bid + 1, f"other {i}")
    follower = Follower(svc, bid)

    first = await follower.read()
    assert first.available and first.reason is None
    assert follower.texts() == [f"[STDOUT] line {i}" for i in range(5)]
    assert all(line.level == "" and len(line.time) == len("2026-01-01 12:00:00.000") for line in first.lines)
    assert fake.calls["listlogtypes"] == 1 and fake.calls["listrecentlogmessages"] == 1

    fake.worker_output(bid, "line 5")
    fake.log("Info", "a server line in between")
    fake.worker_output(bid, "To see the GUI go to: http://127.0.0.1:7821", "STDERR")
    await follower.read()
    assert follower.texts()[5:] == ["[STDOUT] line 5", "[STDERR] To see the GUI go to: http://127.0.0.1:7821"]

    quiet = await follower.read()  # nothing new: nothing again
    assert quiet.lines == () and quiet.available
    assert_in_order_once(follower.lines)
    # one ListRecentLogMessages per read; the list of logs was asked for once, before the first
    assert fake.calls["listrecentlogmessages"] == 3 and fake.calls["listlogtypes"] == 1
    assert fake.last_body is not None
    assert fake.last_body["types"] == ["ComfyUI-0"] and fake.last_body["last_sequence_ids"] == {"ComfyUI-0": follower.after}


async def test_more_than_1024_lines_between_reads_give_the_newest_1024(fake: FakeSwarm, svc: RemoteService) -> None:
    bid = fake.add("comfyui_selfstart", status="running")
    fake.worker_output(bid, "before")
    follower = Follower(svc, bid)
    await follower.read()
    for i in range(1500):
        fake.worker_output(bid, f"flood {i}")
    window = await follower.read()
    assert [line.text for line in window.lines] == [f"[STDOUT] flood {i}" for i in range(1500 - 1024, 1500)]
    assert (await follower.read()).lines == ()
    fake.worker_output(bid, "after the flood")
    await follower.read()
    assert follower.texts()[-1] == "[STDOUT] after the flood"
    assert_in_order_once(follower.lines)


async def test_without_the_view_logs_permission_the_log_is_a_reason_not_an_error(
    fake: FakeSwarm, svc: RemoteService
) -> None:
    bid = fake.add("comfyui_selfstart", status="running")
    fake.worker_output(bid, "secret-ish output")
    fake.permissions.discard("view_logs")
    log = await svc.backend_log(bid, 7)
    assert log == BackendLog(last_sequence=7, available=False, reason=NO_PERMISSION)
    assert NO_PERMISSION == "this account may not read the server's logs"

    # granted later: the same service reads it
    fake.permissions.add("view_logs")
    log = await svc.backend_log(bid, 0)
    assert log.available and [line.text for line in log.lines] == ["[STDOUT] secret-ish output"]


async def test_a_server_without_log_routes_says_so(fake: FakeSwarm, svc: RemoteService) -> None:
    fake.missing_routes.update({"listlogtypes", "listrecentlogmessages"})
    log = await svc.backend_log(0)
    assert (log.available, log.reason, log.lines) == (False, NO_LOG_ROUTES, ())


async def test_a_backend_that_is_not_self_started_has_no_log_and_costs_one_request_per_read(
    fake: FakeSwarm, svc: RemoteService
) -> None:
    bid = fake.add("comfyui_api", status="running")
    running = fake.add("comfyui_selfstart", status="running")
    fake.worker_output(running, "Error: something else's problem", "STDERR")
    for _ in range(3):
        log = await svc.backend_log(bid, 0)
        assert (log.available, log.reason, log.lines) == (False, NO_BACKEND_LOG, ())
    assert fake.calls["listlogtypes"] == 1 and fake.calls["listrecentlogmessages"] == 3
    # an id the server does not have reads the same (the server cannot tell the two apart)
    assert (await svc.backend_log(42)).available is False


async def test_a_backend_whose_process_died_and_came_back_loses_no_line_and_repeats_none(
    fake: FakeSwarm, svc: RemoteService
) -> None:
    bid = fake.add("comfyui_selfstart", status="running")
    follower = Follower(svc, bid)
    fake.worker_output(bid, "Starting server")
    await follower.read()
    # the process writes its last words, then dies: SwarmUI drops its tracker with them
    fake.worker_output(bid, "loading custom nodes")
    traceback = [
        "Traceback (most recent call last):",
        '  File "main.py", line 1, in <module>',
        "    import torch",
        "ModuleNotFoundError: No module named 'torch'",
    ]
    for line in traceback:
        fake.worker_output(bid, line, "STDERR")
    fake.set_status(bid, "errored")

    gone = await follower.read()  # its tracker went away since the last read
    assert (gone.available, gone.reason) == (False, NO_BACKEND_LOG)
    words = await follower.read()  # from the server's own levels, where SwarmUI copied every line
    assert (words.available, words.reason) == (False, NO_BACKEND_LOG)
    assert [line.text for line in words.lines if not line.level] == [
        "[STDOUT] loading custom nodes", *(f"[STDERR] {line}" for line in traceback)]
    about = [line for line in words.lines if line.level]
    assert [line.level for line in about] == ["Info"] and "Self-Start ComfyUI-0 unexpectedly exited" in about[0].text
    assert last_error_line(follower.lines) == "ModuleNotFoundError: No module named 'torch'"
    assert (await follower.read()).lines == ()

    # restarted: a new process, a new tracker; its lines follow on
    fake.set_status(bid, "running")
    fake.worker_output(bid, "Starting server again")
    await follower.read()
    await follower.read()
    fake.worker_output(bid, "ready")
    await follower.read()
    assert follower.last is not None and follower.last.available
    own = [line.text for line in follower.lines if not line.level]
    assert own == ["[STDOUT] Starting server", "[STDOUT] loading custom nodes",
                   *(f"[STDERR] {line}" for line in traceback), "[STDOUT] Starting server again", "[STDOUT] ready"]
    assert_in_order_once(follower.lines)
    assert fake.calls["listlogtypes"] == 1  # never listed again: each read's reply lists the trackers


async def test_a_server_that_restarted_starts_the_follower_over(fake: FakeSwarm, svc: RemoteService) -> None:
    bid = fake.add("comfyui_selfstart", status="running")
    fake.worker_output(bid, "new process, new counter")
    log = await svc.backend_log(bid, 10**6)  # a number from before the server's counter went back
    assert log.lines == () and log.last_sequence == 0
    log = await svc.backend_log(bid, log.last_sequence)
    assert [line.text for line in log.lines] == ["[STDOUT] new process, new counter"]


async def test_a_malformed_log_reply_is_cannot_read_not_a_crash(fake: FakeSwarm, svc: RemoteService) -> None:
    bid = fake.add("comfyui_selfstart", status="running")
    fake.reply_overrides["listrecentlogmessages"] = {"types_available": [], "last_sequence_id": "many", "data": {}}
    with pytest.raises(ServiceUnavailable, match="cannot read"):
        await svc.backend_log(bid)
    fake.reply_overrides["listlogtypes"] = {"types_available": "Info"}
    async with RemoteService(fake.url) as fresh:
        with pytest.raises(ServiceUnavailable, match="cannot read"):
            await fresh.backend_log(bid)


# ---------------------------------------------------------------------------------------------------------------
# The fake's wire, checked against what SwarmUI's AdminAPI.ListRecentLogMessages does


async def _raw(fake: FakeSwarm, route: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{fake.url}/API/GetNewSession", json={}) as r:
            session = (await r.json())["session_id"]
        async with http.post(f"{fake.url}/API/{route}", json={**body, "session_id": session}) as r:
            return r.status, json.loads(await r.text())


async def test_the_fakes_log_routes_answer_in_swarmuis_shapes(fake: FakeSwarm) -> None:
    bid = fake.add("comfyui_selfstart", status="running")
    first = fake.worker_output(bid, "hello")
    status, types = await _raw(fake, "ListLogTypes", {})
    assert status == 200
    assert types["types_available"] == [
        {"name": "Verbose", "color": "#606060", "identifier": ""}, {"name": "Debug", "color": "#808080", "identifier": ""},
        {"name": "Info", "color": "#00FFFF", "identifier": ""}, {"name": "Init", "color": "#00FF00", "identifier": ""},
        {"name": "Warning", "color": "#FFFF00", "identifier": ""}, {"name": "Error", "color": "#FF0000", "identifier": ""},
        {"name": "ComfyUI-0", "color": "#707070", "identifier": "backend-0"}]
    status, recent = await _raw(fake, "ListRecentLogMessages",
                                {"types": ["ComfyUI-0", "Debug", "Nope"], "last_sequence_ids": {"Debug": first - 1}})
    assert status == 200 and recent["last_sequence_id"] == first
    data = recent["data"]
    assert isinstance(data, dict) and set(data) == {"ComfyUI-0", "Debug"}  # an unknown type is left out
    assert [m["message"] for m in data["ComfyUI-0"]] == ["[STDOUT] hello"]
    assert [m["message"] for m in data["Debug"]] == []  # its copy is numbered just before the tracker's line
    # SwarmUI's handler dereferences a missing "types", and a missing "last_sequence_ids" once a type matched
    assert (await _raw(fake, "ListRecentLogMessages", {}))[0] == 400
    assert (await _raw(fake, "ListRecentLogMessages", {"types": ["Info"]}))[1]["error_id"] == "internal_error"
    assert (await _raw(fake, "ListRecentLogMessages", {"types": ["Nope"]}))[0] == 200


# ---------------------------------------------------------------------------------------------------------------
# last_error_line


def _lines(*texts: str, level: str = "") -> list[LogLine]:
    return [LogLine(i + 1, "2026-01-01 00:00:00.000", text, level) for i, text in enumerate(texts)]


def test_last_error_line_is_a_tracebacks_exception() -> None:
    lines = _lines("[STDOUT] Starting server", "[STDERR] Traceback (most recent call last):",
                   '[STDERR]   File "main.py", line 3, in <module>', "[STDERR]     raise RuntimeError('CUDA error')",
                   "[STDERR] torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
                   "[STDOUT] Exiting")
    assert last_error_line(lines) == "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"


def test_last_error_line_takes_error_lines_and_skips_what_swarmui_skips() -> None:
    assert last_error_line(_lines("[STDERR] Error: port 8188 is in use", "[STDOUT] shutting down")) == (
        "Error: port 8188 is in use")
    assert last_error_line(_lines("[STDERR] Found comfy_kitchen backend cuda: ImportError: no", "[STDOUT] ok")) is None
    assert last_error_line(_lines("[STDOUT] all good", "[manager] running")) is None
    assert last_error_line([]) is None
    assert last_error_line(_lines("[STDERR] Traceback (most recent call last):", "[STDERR]   File \"x\", line 1",
                                  "[STDERR] KeyboardInterrupt")) == "KeyboardInterrupt"
    # the server's own Error line about the backend counts; a copy's "[ComfyUI-3/STDERR] " prefix is dropped
    server = _lines("Self-Start ComfyUI-3 on port 7823 failed. AutoRestart disabled, treating as fatal error.",
                    level="Error")
    assert last_error_line(server) == server[0].text
    assert last_error_line(_lines("[ComfyUI-3/STDERR] ValueError: bad value")) == "ValueError: bad value"



async def test_a_first_read_without_a_position_starts_at_the_servers_first_line(fake: FakeSwarm) -> None:
    """The Log dock's first read names no position: a backend that failed to start shows the server's lines
    about it from the very first one the server logged."""
    bid = fake.add("comfyui_selfstart", status="running")  # the server's first line: "Self-Start … is loading"
    fake.set_status(bid, "errored")  # its process ended: the server's lines about it are its log now
    async with RemoteService(fake.url) as service:
        log = await service.backend_log(bid)
    assert [(line.sequence, line.text) for line in log.lines] == [
        (1, "Self-Start ComfyUI-0 on port 7820 is loading..."),
        (2, "Self-Start ComfyUI-0 unexpectedly exited (ExitCode=1) (if something failed, change setting `LogLevel` "
            "to `Debug` to see why!)")]
    assert not log.available and log.reason == NO_BACKEND_LOG
