"""What a person notices of ``core/local/process.py``, checked whole: why a worker stopped (the Status column's
reason), the manager's own lines in its log, the queue figures, the log file that follows a moved backend, a
worker somebody else runs (its key, its frees, its answers), the orphan guard and the kills run in this process
(the watchdog, the forked watchdog of a bundle, the parent-death signal, the polite signal, a whole tree), and
stopping one worker among others. Mutation testing of the module found these unchecked or checked only in part
(docs/TESTING.md); real processes and real HTTP servers throughout, nothing of the module replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psutil
import pytest
from aiohttp import web

from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.local.process import (
    ExitClues,
    OrphanGuard,
    RotatingLog,
    WorkerState,
    describe_exit,
    kill_tree,
    polite_signal,
)
from backend_manager_gui.core.models import QUEUE_PENDING, QUEUE_RUNNING

from .conftest import FAKE_COMFY, FAST, alive, comfy_settings, wait_for, wait_gone, wait_status

KILLED_FROM_OUTSIDE = "killed by SIGKILL (from outside, by another program or because the system ran out of memory)"


@pytest.mark.parametrize(("code", "tail", "last_error", "reason"), [
    (None, [], None, "exited"),
    (None, ["bye"], None, "exited: bye"),
    (0, [], None, "exited with code 0"),
    (3, ["  ", "first", " second  "], None, "exited with code 3: first / second"),
    (1, ["a", "b", "c"], "RuntimeError: boom", "exited with code 1: RuntimeError: boom / b / c"),
    (1, ["a", "RuntimeError: boom"], "  RuntimeError: boom ", "exited with code 1: a / RuntimeError: boom"),
    (1, [], "RuntimeError: boom", "exited with code 1: RuntimeError: boom"),
    (-signal.SIGKILL, [], None, KILLED_FROM_OUTSIDE),
    (-signal.SIGKILL, ["loading model"], None, f"{KILLED_FROM_OUTSIDE} — last output: loading model"),
    (-signal.SIGTERM, ["x", "y"], None, "killed by SIGTERM — last output: x / y"),
    (-signal.SIGSEGV, [], "Fatal Python error: Segmentation fault",
     "killed by SIGSEGV — last output: Fatal Python error: Segmentation fault"),
    (-200, [], None, "killed by signal 200"),
])
def test_why_a_worker_stopped_is_said_in_one_sentence(code, tail, last_error, reason) -> None:
    assert describe_exit(code, tail, last_error) == reason


def test_a_long_line_in_the_reason_keeps_its_start() -> None:
    assert describe_exit(1, ["x" * 200]) == "exited with code 1: " + "x" * 200
    assert describe_exit(1, ["y" * 201]) == "exited with code 1: " + "y" * 199 + "…"
    assert describe_exit(1, ["z" * 5000, "short"]) == "exited with code 1: " + "z" * 199 + "… / short"


def test_the_clues_are_the_last_three_stderr_lines_and_the_last_error_line_of_either_stream() -> None:
    clues = ExitClues()
    assert list(clues.stderr_tail) == [] and clues.last_error is None
    for line in ["one", "", "   ", "two\n", "three", "four"]:
        clues.see(line, stderr=True)
    assert list(clues.stderr_tail) == ["two", "three", "four"]
    assert clues.last_error is None
    clues.see("on stdout only", stderr=False)
    assert list(clues.stderr_tail) == ["two", "three", "four"]
    clues.see("ValueError: bad checkpoint", stderr=False)
    assert clues.last_error == "ValueError: bad checkpoint"
    assert list(clues.stderr_tail) == ["two", "three", "four"]
    # where an error happened is not what it was: a traceback's own lines are skipped
    for line in ["Traceback (most recent call last):", '  File "error.py", line 3, in raise_error',
                 "During handling of the above exception, another exception occurred:"]:
        clues.see(line, stderr=True)
    assert clues.last_error == "ValueError: bad checkpoint"


@pytest.mark.parametrize("line", [
    "RuntimeError: CUDA error", "!!! Exception during processing !!! boom", "Fatal Python error: Aborted",
    "torch.OutOfMemoryError: CUDA out of memory.", "ERROR: no such model", "an exception", "FATAL",
    "out of memory",
])
def test_an_error_line_is_seen_in_any_case(line) -> None:
    clues = ExitClues()
    clues.see(line, stderr=False)
    assert clues.last_error == line


@pytest.mark.parametrize("line", ["errors=0", "exceptional", "fatalistic", "no problem here", "Errorless run"])
def test_words_that_only_contain_error_are_not_errors(line) -> None:
    clues = ExitClues()
    clues.see(line, stderr=True)
    assert clues.last_error is None and list(clues.stderr_tail) == [line]


def test_the_queue_figures_and_last_used_come_from_a_real_queue_answer(tmp_path: Path) -> None:
    state = WorkerState(log=RotatingLog(tmp_path / "w.log"))
    assert state.queue is None and state.last_used is None
    for not_an_answer in [None, [], "queue", {"queue_running": [], "queue_pending": "none"},
                          {"queue_running": None, "queue_pending": []}, {"queue_pending": []}]:
        state.saw_queue(not_an_answer)
        assert state.queue is None and state.last_used is None
    state.saw_queue({"queue_running": [], "queue_pending": []})
    assert state.queue == (0, 0) and state.last_used is None  # an empty queue is known, but not use
    state.saw_queue({"queue_running": [["p1"]], "queue_pending": []})
    assert state.queue == (1, 0) and state.last_used is not None
    used = state.last_used
    state.saw_queue({"queue_running": [], "queue_pending": [["p2"], ["p3"]]})
    assert state.queue == (0, 2) and state.last_used >= used
    state.saw_queue({"queue_running": [], "queue_pending": []})
    assert state.queue == (0, 0) and state.last_used >= used  # idle again: last used stays


def test_the_managers_own_lines_are_marked_in_the_tail_and_the_log(tmp_path: Path) -> None:
    state = WorkerState(log=RotatingLog(tmp_path / "w.log"))
    state.note("pid 42, port 8188")
    assert list(state.tail) == ["[manager] pid 42, port 8188"]
    state.log.close()
    assert (tmp_path / "w.log").read_text("utf-8").rstrip("\n").endswith(" [manager] pid 42, port 8188")


def test_the_log_follows_a_backend_whose_id_moved(tmp_path: Path) -> None:
    log = RotatingLog(tmp_path / "logs" / "backend-0.log")
    log.write("before the move")
    log.move_to(tmp_path / "logs" / "backend-5.log")
    assert log.path == tmp_path / "logs" / "backend-5.log"
    assert not (tmp_path / "logs" / "backend-0.log").exists()
    log.write("after the move")
    log.close()
    lines = (tmp_path / "logs" / "backend-5.log").read_text("utf-8").splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == ["before the move", "after the move"]


def test_a_moved_log_never_overwrites_a_log_already_there(tmp_path: Path) -> None:
    (tmp_path / "backend-5.log").write_text("the other backend's\n", "utf-8")
    log = RotatingLog(tmp_path / "backend-0.log")
    log.write("mine")
    log.move_to(tmp_path / "backend-5.log")
    assert (tmp_path / "backend-5.log").read_text("utf-8") == "the other backend's\n"
    assert (tmp_path / "backend-0.log").read_text("utf-8").endswith(" mine\n")
    assert log.path == tmp_path / "backend-5.log"


def test_a_log_that_cannot_be_renamed_stays_and_the_next_lines_go_to_the_new_name(tmp_path: Path) -> None:
    log = RotatingLog(tmp_path / "backend-0.log")
    log.write("before")
    log.move_to(tmp_path / "moved" / "backend-5.log")  # its folder does not exist yet: the rename fails, quietly
    assert (tmp_path / "backend-0.log").read_text("utf-8").endswith(" before\n")
    log.write("after")
    log.close()
    assert (tmp_path / "moved" / "backend-5.log").read_text("utf-8").endswith(" after\n")


def test_a_log_that_never_got_a_line_leaves_no_file_and_moves_without_one(tmp_path: Path) -> None:
    log = RotatingLog(tmp_path / "backend-0.log")
    log.move_to(tmp_path / "backend-1.log")
    log.close()
    assert list(tmp_path.iterdir()) == []


def test_a_log_whose_folder_cannot_be_made_drops_lines_quietly(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("", "utf-8")
    log = RotatingLog(tmp_path / "file" / "backend-0.log")  # its folder would be inside a file
    log.write("lost, without taking the supervisor down")
    log.close()
    assert (tmp_path / "file").read_text("utf-8") == ""


async def test_a_worker_somebody_else_runs_is_connecting_until_it_first_answers(svc) -> None:
    with socket.socket() as listener:  # takes connections (the kernel's backlog), never answers a request
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        await svc.add_backend("comfyui_api")
        await svc.edit_backend(0, "", {"Address": f"http://127.0.0.1:{port}"})
        backend = (await svc.list_backends())[0]
        assert (backend.status.value, backend.status_message) == ("waiting", "connecting")
        details = svc.details(0)
        assert (details.pid, details.uptime_s, details.crash_count_recent) == (None, None, 0)
        backend = await wait_status(svc, 0, "errored")  # its first probe timed out
        assert backend.status_message == f"cannot reach http://127.0.0.1:{port} (ReadTimeout)"
        assert svc.details(0).crash_count_recent == 0  # nothing of it crashed: it is not ours


class KeyedComfy:
    """A ComfyUI somebody else runs behind a proxy that wants an API key: ``/queue`` and ``/free`` answer only
    with ``Authorization: Bearer <key>`` (401 otherwise); it keeps the bodies of the frees it accepted."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.status = 200  # what /queue answers with the right key
        self.free_status = 200  # what /free answers with the right key
        self.free_delay = 0.0  # how long a free takes
        self.drop_free = False  # the connection is closed under a free, with no answer
        self.frees: list[dict] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    def _allowed(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.key}"

    async def _queue(self, request: web.Request) -> web.Response:
        if not self._allowed(request):
            return web.Response(status=401)
        return web.json_response({"queue_running": [["p1"]], "queue_pending": [["p2"], ["p3"]]}, status=self.status)

    async def _free(self, request: web.Request) -> web.Response:
        if not self._allowed(request):
            return web.Response(status=401)
        if self.drop_free:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=200)
        await asyncio.sleep(self.free_delay)
        self.frees.append(await request.json())
        return web.Response(status=self.free_status)

    async def __aenter__(self) -> KeyedComfy:
        app = web.Application()
        app.router.add_get("/queue", self._queue)
        app.router.add_post("/free", self._free)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


async def test_the_api_key_of_a_worker_somebody_else_runs_goes_with_every_request(svc) -> None:
    async with KeyedComfy("sekret") as comfy:
        await svc.add_backend("comfyui_api")
        await svc.edit_backend(0, "", {"Address": comfy.url + "/", "ApiKey": "sekret"})
        backend = await wait_status(svc, 0, "running")
        assert backend.status_message == f"answering at {comfy.url}"
        assert (backend.extra[QUEUE_RUNNING], backend.extra[QUEUE_PENDING]) == (1, 2)
        assert backend.seconds_since_used is not None  # it had work at its last poll
        details = svc.details(0)
        assert details.pid is None and details.crash_count_recent == 0
        assert await svc.free_memory(backend=0) == 1
        assert await svc.free_memory(system_ram=True) == 1
        assert comfy.frees == [{"unload_models": True, "free_memory": False},
                               {"unload_models": True, "free_memory": True}]
        assert svc.log_tail(0)[-2:] == ["[manager] free memory: HTTP 200"] * 2
        comfy.free_delay = 1.5  # unloading models takes a while: longer than a probe may (1 s here)
        assert await svc.free_memory(backend=0) == 1
        comfy.free_delay = 0.0
        comfy.drop_free = True
        assert await svc.free_memory(backend=0) == 0
        assert svc.log_tail(0)[-1] == "[manager] free memory failed: RemoteProtocolError"
        assert len(comfy.frees) == 3
        comfy.drop_free = False
        comfy.free_status = 300  # not a success: not counted as freed
        assert await svc.free_memory(backend=0) == 0
        assert svc.log_tail(0)[-1] == "[manager] free memory: HTTP 300"
        comfy.free_status = 200

        comfy.status = 300  # a queue, but not a success: not an answer to count on
        backend = await wait_status(svc, 0, "errored")
        assert backend.status_message == f"{comfy.url} answered HTTP 300"
        comfy.status = 200
        await wait_status(svc, 0, "running")

        await svc.edit_backend(0, "", {"ApiKey": "wrong"})
        backend = await wait_status(svc, 0, "errored")
        assert backend.status_message == f"{comfy.url} answered HTTP 401"
        assert QUEUE_RUNNING not in backend.extra  # not known any more
        assert await svc.free_memory() == 0  # not running: not asked
        assert len(comfy.frees) == 4
        await svc.edit_backend(0, "", {"AllowIdle": True})
        backend = await wait_status(svc, 0, "idle")
        assert backend.status_message == f"idle: {comfy.url} answered HTTP 401"


# ---- the guard and the kills, in this process (test_orphans.py kills a manager in another one) ------------------

POSIX_ONLY = pytest.mark.skipif(os.name == "nt", reason="process groups, signals and the watchdog are POSIX's")
LINUX_ONLY = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")


def _worker(*args: str, **popen: Any) -> tuple[subprocess.Popen, int]:
    """A fake worker with a sleeping child of its own; returns it and the child's pid."""
    proc = subprocess.Popen([sys.executable, str(FAKE_COMFY), "--spawn-child", *args], stdout=subprocess.PIPE,
                            text=True, **popen)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("CHILD_PID="):
            return proc, int(line.split("=")[1])
    raise AssertionError(f"the fake worker exited with {proc.wait()} before starting its child")


def _end(*pids: int) -> None:
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()


@POSIX_ONLY
@pytest.mark.parametrize("bundle", [False, True], ids=["python-watchdog", "forked-watchdog-of-a-bundle"])
async def test_when_the_manager_lets_go_the_watchdog_kills_what_it_was_told_to_guard(monkeypatch, bundle) -> None:
    if bundle:  # in a PyInstaller bundle sys.executable is the app: the watchdog is a fork of the manager
        monkeypatch.setattr(sys, "frozen", True, raising=False)
    guard = OrphanGuard()
    await guard.start()
    watchdog = guard.watchdog_pid
    assert watchdog is not None and alive(watchdog)
    assert psutil.Process(watchdog).ppid() == os.getpid()
    for _ in range(1000):  # its own session (a fork sets it up just after starting): a Ctrl-C in the
        if os.getsid(watchdog) == watchdog:  # manager's terminal does not reach it
            break
        await asyncio.sleep(0.01)
    assert os.getsid(watchdog) == watchdog
    guarded, guarded_child = _worker("--hang", **guard.popen_kwargs())
    forgotten, forgotten_child = _worker("--hang", **guard.popen_kwargs())
    try:
        assert os.getpgid(guarded.pid) == guarded.pid  # its own process group, which the watchdog kills whole
        guard.adopt(guarded.pid)
        guard.adopt(forgotten.pid)
        guard.forget(forgotten.pid)  # it ended as far as the manager knows: not the watchdog's any more
        await guard.close()  # the manager's end of the pipe closes, as when it dies
        assert guard.watchdog_pid is None
        await wait_gone([guarded.pid, guarded_child, watchdog], timeout=10.0)
        with pytest.raises(psutil.NoSuchProcess):
            psutil.Process(watchdog)  # and it was reaped: no zombie left behind
        assert alive(forgotten.pid) and alive(forgotten_child)
    finally:
        _end(guarded.pid, guarded_child, forgotten.pid, forgotten_child)
        guarded.wait()
        forgotten.wait()


@LINUX_ONLY
def test_a_worker_dies_with_the_thread_that_started_it() -> None:
    """The parent-death signal fires when the thread that forked the worker ends (in the app: the loop's)."""
    started: list[subprocess.Popen] = []

    def start() -> None:
        started.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                                        **OrphanGuard().popen_kwargs()))

    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    try:
        assert started[0].wait(timeout=30) == -signal.SIGKILL
    finally:
        _end(started[0].pid)
        started[0].wait()


@LINUX_ONLY
def test_a_worker_whose_manager_is_already_gone_does_not_start() -> None:
    from backend_manager_gui.core.local.process import _linux_child_setup

    not_the_parent = os.getppid()  # the worker's parent is this process, never this process's parent
    proc = subprocess.Popen([sys.executable, "-c", "print('started')"], stdout=subprocess.PIPE,
                            preexec_fn=_linux_child_setup(not_the_parent))
    out, _ = proc.communicate(timeout=30)
    assert (proc.returncode, out) == (1, b"")


@POSIX_ONLY
async def test_kill_tree_kills_the_worker_its_group_and_the_strays_it_is_given() -> None:
    worker, child = _worker("--hang", start_new_session=True)
    stray = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    try:
        kill_tree(worker.pid, [psutil.Process(stray.pid)])  # it waits for them (and reaps its own children)
        await wait_gone([worker.pid, stray.pid, child])
    finally:
        _end(worker.pid, child, stray.pid)
    kill_tree(worker.pid)  # gone already: nothing to do, nothing raised


@POSIX_ONLY
async def test_the_polite_stop_signal_reaches_the_worker_and_its_group() -> None:
    worker, child = _worker("--hang", "--report-stop", start_new_session=True)
    try:
        polite_signal(worker.pid)
        out, _ = worker.communicate(timeout=30)
        assert worker.returncode == 0 and "fake_comfy: stopping on SIGTERM" in out
        await wait_gone([child])  # the sleeping child, in the same group, got SIGTERM too
    finally:
        _end(worker.pid, child)
    polite_signal(worker.pid)  # gone already: nothing raised


# ---- one life of a worker, as its log tells it ----------------------------------------------------------------

async def test_the_managers_lines_tell_one_life_of_a_worker(svc, tmp_path: Path) -> None:
    code = "import time; print('hello', flush=True); time.sleep(60)"
    await svc.add_backend("command")
    await svc.edit_backend(0, "", {"Command": f'"{sys.executable}" -c "{code}"', "WorkingDir": str(tmp_path),
                                   "AutoRestart": False})
    running = await wait_status(svc, 0, "running")
    details = svc.details(0)
    pid, port = details.pid, details.port
    assert pid and port and details.uptime_s is not None and details.uptime_s >= 0
    assert running.status_message == f"running at pid {pid}"
    await svc.toggle_backend(0, False)
    await wait_gone([pid])
    details = svc.details(0)
    assert (details.pid, details.uptime_s) == (None, None)
    argv = shlex.join([sys.executable, "-c", code])
    assert [line for line in svc.log_tail(0) if line.startswith("[manager] ")] == [
        "[manager] settings changed (modcount 1)",
        f"[manager] starting: {argv} (in {tmp_path})",
        f"[manager] pid {pid}, port {port}",
        "[manager] loading: waiting for the worker to stay up — 0 s",
        f"[manager] running: running at pid {pid}",
        "[manager] stopped",
    ]
    assert "hello" in svc.log_tail(0)


async def test_a_worker_that_cannot_be_started_says_why_in_full(svc) -> None:
    await svc.add_backend("command")
    await svc.edit_backend(0, "", {"Command": "/nonexistent/worker --port {port}", "AutoRestart": False})
    backend = await wait_status(svc, 0, "errored")
    if os.name != "nt":  # the OS's own words
        assert backend.status_message == "could not start /nonexistent/worker: No such file or directory"
    assert svc.details(0).pid is None and svc.details(0).last_exit_code is None


@POSIX_ONLY
async def test_a_worker_whose_files_cannot_be_written_says_where(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "workers").write_text("a file where the workers' folders go", "utf-8")
    main = tmp_path / "main.py"
    main.write_text("", "utf-8")
    async with LocalService(data, **FAST) as svc:
        await svc.add_backend("comfyui_selfstart")
        await svc.edit_backend(0, "", {"StartScript": str(main), "Python": sys.executable, "AutoRestart": False})
        backend = await wait_status(svc, 0, "errored")
    assert re.fullmatch(rf"cannot write {re.escape(str(data / 'workers'))}/\w+: Not a directory",
                        backend.status_message or ""), backend.status_message


#: A ComfyUI stand-in whose /queue answers badly at first: text that is not JSON, then a connection closed with no
#: answer, then a real queue (one running, none waiting). /object_info says it is ready.
_FLAKY_QUEUE_WORKER = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
port = int(sys.argv[sys.argv.index("--port") + 1])
answers = iter(["not json", "drop"])

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/queue":
            answer = next(answers, None)
            if answer == "drop":
                self.close_connection = True
                return
            body = (answer or json.dumps({"queue_running": [["p1"]], "queue_pending": []})).encode()
        else:
            body = b"{}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


async def test_the_queue_figures_come_back_after_bad_answers_from_the_worker(svc, tmp_path: Path) -> None:
    main = tmp_path / "ComfyUI" / "main.py"
    main.parent.mkdir()
    main.write_text(_FLAKY_QUEUE_WORKER, "utf-8")
    await svc.add_backend("comfyui_selfstart")
    await svc.edit_backend(0, "", comfy_settings(main))
    await wait_status(svc, 0, "running")
    backend = await wait_for(svc, 0, lambda b: QUEUE_RUNNING in b.extra, what="showed its queue")
    assert (backend.extra[QUEUE_RUNNING], backend.extra[QUEUE_PENDING]) == (1, 0)


@POSIX_ONLY
def test_signals_to_a_worker_that_is_gone_raise_nothing() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    gone.wait()  # exited and reaped: no process, no process group by that number
    polite_signal(gone.pid)
    kill_tree(gone.pid)


# ---- stopping one worker -------------------------------------------------------------------------------------

async def test_stopping_one_worker_leaves_the_others_running_and_frees_its_port(svc, comfy_main: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await svc.add_backend("comfyui_selfstart")
    await svc.edit_backend(0, "", comfy_settings(comfy_main, Port=port))
    await svc.add_backend("comfyui_selfstart")
    await svc.edit_backend(1, "", comfy_settings(comfy_main))
    await wait_status(svc, 0, "running")
    await wait_status(svc, 1, "running")
    first, other = svc.details(0).pid, svc.details(1).pid
    assert svc.details(0).port == port and first and other
    await svc.toggle_backend(0, False)
    await wait_gone([first])
    assert alive(other) and svc.details(1).pid == other  # only the stopped worker's own tree was killed
    assert (await svc.list_backends())[1].status.value == "running"
    # its port is free again: another backend that asks for it gets it, with nothing to say
    await svc.add_backend("comfyui_selfstart")
    await svc.edit_backend(2, "", comfy_settings(comfy_main, Port=port))
    started = await wait_status(svc, 2, "running")
    assert svc.details(2).port == port and "in use" not in (started.status_message or "")


async def test_a_worker_that_never_got_ready_is_given_two_seconds_to_stop_not_the_whole_grace(
    data_dir: Path, comfy_main: Path
) -> None:
    async with LocalService(data_dir, **{**FAST, "stop_grace": 5.0}) as svc:
        await svc.add_backend("comfyui_selfstart")
        await svc.edit_backend(0, "", comfy_settings(comfy_main, "--hang --ignore-term", StartTimeout=1,
                                                     AutoRestart=False))
        backend = await wait_status(svc, 0, "errored")
        assert backend.status_message == "did not become ready within 1 s"
        notes = [line for line in svc.log_tail(0) if line.startswith("[manager] ")]
        assert notes[-4:] == ["[manager] did not become ready within 1 s; stopping it",
                              "[manager] still alive 2 s after the stop signal; killing it",
                              "[manager] stopped",
                              "[manager] errored: did not become ready within 1 s"]


@POSIX_ONLY
async def test_stopping_a_worker_kills_a_child_that_left_its_process_group(svc) -> None:
    code = ("import subprocess, sys, time; "
            "child = subprocess.Popen([sys.executable, '-c', 'import os, time; os.setsid(); time.sleep(600)']); "
            "print('CHILD', child.pid, flush=True); time.sleep(600)")
    await svc.add_backend("command")
    await svc.edit_backend(0, "", {"Command": f'"{sys.executable}" -c "{code}"', "AutoRestart": False})
    await wait_status(svc, 0, "running")
    worker = svc.details(0).pid
    assert worker is not None
    line = await _until_line(svc, 0, "CHILD ")
    child = int(line.split()[1])
    for _ in range(1000):  # the child makes its own session just after it starts
        if os.getsid(child) == child:
            break
        await asyncio.sleep(0.01)
    assert os.getsid(child) == child and os.getpgid(child) != os.getpgid(worker)  # the group kill misses it
    try:
        await svc.toggle_backend(0, False)
        await wait_gone([worker, child])
    finally:
        _end(child)


async def _until_line(svc, backend_id: int, start: str) -> str:
    for _ in range(1500):
        found = [line for line in svc.log_tail(backend_id) if line.startswith(start)]
        if found:
            return found[0]
        await asyncio.sleep(0.01)
    raise AssertionError(f"the worker never printed {start!r}")
