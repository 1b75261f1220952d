"""Supervision with real processes: crashes, backoff, crash loops, start timeouts, ports, stop, logs."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.local.process import RotatingLog, SupervisorConfig
from backend_manager_gui.core.models import Backend
from tests.support import load as machine

from .conftest import (
    FAST,
    alive,
    comfy_settings,
    log_text,
    wait_for,
    wait_gone,
    wait_status,
)


def _errored_events(svc: LocalService) -> list[tuple[float, Backend]]:
    events: list[tuple[float, Backend]] = []
    svc.add_listener(lambda b: events.append((time.monotonic(), b)) if b.status.value == "errored" else None)
    return events


@pytest.mark.skipif(os.name == "nt", reason="a kill by a signal, and its message, are POSIX's (on Windows a killed "
                                             "worker exits with a code: the chaos test kills workers there)")
async def test_crash_is_reported_within_a_second_then_restarts(svc: LocalService, comfy_main: Path) -> None:
    await svc.add_backend("comfyui_selfstart")
    await svc.edit_backend(0, "", comfy_settings(comfy_main))
    await wait_status(svc, 0, "running")
    errored = _errored_events(svc)
    pid = svc.details(0).pid
    assert pid
    # 1 s on an idle machine; the exit travels kernel -> loop -> supervisor: a few wake-ups on a busy one
    within = (await machine.ameasure()).bound(1.0, wakeups=5)
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    while not errored and time.monotonic() - killed_at < within:
        await asyncio.sleep(0.01)
    within = max(within, (await machine.ameasure()).bound(1.0, wakeups=5))  # the load may have risen meanwhile
    assert errored, f"no errored status within {within:.2f} s of the crash"
    assert errored[0][0] - killed_at <= within
    message = errored[0][1].status_message or ""
    # a kill is said to come from outside; what the worker printed last is not passed off as the reason
    assert message.startswith("killed by SIGKILL (from outside")
    assert message.endswith("ran out of memory)") or " — last output: " in message
    back = await wait_status(svc, 0, "running")
    details = svc.details(0)
    assert details.pid != pid and details.restart_count == 1 and details.last_exit_code == -signal.SIGKILL
    assert back.status_message and "running at" in back.status_message


async def test_exit_code_and_last_stderr_line_in_the_message(svc: LocalService, comfy_main: Path) -> None:
    await svc.add_backend("comfyui_selfstart")
    errored = _errored_events(svc)
    await svc.edit_backend(0, "", comfy_settings(comfy_main, "--crash-after 0.5 --exit-code 7", AutoRestart=False))
    b = await wait_status(svc, 0, "errored")
    assert b.status_message == "exited with code 7: fake_comfy: crashing with exit code 7"
    assert svc.details(0).last_exit_code == 7
    await asyncio.sleep(0.5)
    assert (await svc.list_backends())[0].status.value == "errored" and svc.details(0).pid is None  # no restart
    assert len(errored) == 1


_OOM = ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of 23.55 GiB "
        "of which 3.12 GiB is free. Including non-PyTorch memory, this process has 20.41 GiB memory in use. Of the "
        "allocated memory 19.93 GiB is allocated by PyTorch, and 16.24 MiB is reserved by PyTorch but unallocated. If "
        "reserved but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid "
        "fragmentation.  See documentation for Memory Management  "
        "(https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)")
_SHORT_OOM = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"


@pytest.mark.parametrize("printed", [
    # the error on stdout, nothing on stderr (a worker whose logging goes to stdout)
    [("out", "loading model.safetensors"), ("out", _SHORT_OOM)],
    # the error on stderr, then more stderr lines than the reason keeps
    [("err", "Traceback (most recent call last):"), ("err", '  File "main.py", line 3, in <module>'),
     ("err", _SHORT_OOM), ("err", "Stopping the prompt worker"), ("err", "Releasing models"), ("err", "Goodbye")],
    # PyTorch's own out-of-memory line, longer than the reason keeps
    [("err", "Traceback (most recent call last):"), ("err", _OOM)],
], ids=["on-stdout", "before-other-stderr-lines", "long-line"])
async def test_restart_reason_names_the_last_error_line(svc: LocalService, tmp_path: Path,
                                                         printed: list[tuple[str, str]]) -> None:
    """Issue 12 item 6: "exited with code 3 — restarting in 2 s" while "CUDA out of memory" was only in the log."""
    script = tmp_path / "oom_worker.py"
    script.write_text("import sys\n" + "".join(
        f"print({text!r}, file=sys.std{stream}, flush=True)\n" for stream, text in printed) + "sys.exit(3)\n")
    await svc.add_backend("command")
    restarting: list[str] = []
    svc.add_listener(lambda b: restarting.append(b.status_message or "")
                     if "restarting in" in (b.status_message or "") else None)
    await svc.edit_backend(0, "", {"Command": f'"{sys.executable}" "{script}"'})
    await wait_for(svc, 0, lambda b: bool(restarting), 15, "was restarting")
    message = restarting[0]
    assert message.startswith("exited with code 3: ")
    assert "CUDA out of memory" in message and message.endswith("— restarting in 0.1 s")
    await svc.toggle_backend(0, False)


async def test_crash_loop_gives_up_and_never_ready_counts(svc: LocalService, comfy_main: Path) -> None:
    await svc.add_backend("comfyui_selfstart")
    backoffs: list[str] = []
    svc.add_listener(lambda b: backoffs.append(b.status_message.rsplit(" — ", 1)[1])
                     if "restarting in" in (b.status_message or "") else None)
    # dies while still loading: each first launch that never became ready is a crash too
    await svc.edit_backend(0, "", comfy_settings(comfy_main, "--start-delay 5 --crash-after 0.2"))
    b = await wait_for(svc, 0, lambda b: (b.status_message or "").startswith("crash loop"), 20, "gave up")
    assert b.status.value == "errored"
    assert b.status_message.startswith("crash loop: 5 crashes in 10 min, not restarting")
    # exponential backoff from backoff_base (0.1 s here; 1 s in the product)
    assert backoffs == ["restarting in 0.1 s", "restarting in 0.2 s", "restarting in 0.4 s", "restarting in 0.8 s"]
    details = svc.details(0)
    assert details.crash_count_recent == 5 and details.restart_count == 4 and details.pid is None
    await asyncio.sleep(0.6)  # longer than the next backoff would be: it stays down
    assert svc.details(0).pid is None and svc.details(0).restart_count == 4
    # a manual restart is the person's decision: it tries again
    assert await svc.restart_backends(0) == 1
    await wait_status(svc, 0, "loading")


async def test_backoff_stops_growing_at_its_cap(data_dir: Path, comfy_main: Path) -> None:
    # the product caps at 60 s (1, 2, 4 … 60); here 0.1 s doubling, capped at 0.3 s, and room for 7 crashes
    async with LocalService(data_dir, **{**FAST, "backoff_max": 0.3, "crash_limit": 7}) as svc:
        await svc.add_backend("comfyui_selfstart")
        backoffs: list[str] = []
        svc.add_listener(lambda b: backoffs.append(b.status_message.rsplit(" — ", 1)[1])
                         if "restarting in" in (b.status_message or "") else None)
        await svc.edit_backend(0, "", comfy_settings(comfy_main, "--crash-after 0 --exit-code 3"))
        b = await wait_for(svc, 0, lambda b: (b.status_message or "").startswith("crash loop"), 30, "gave up")
        assert b.status_message.startswith("crash loop: 7 crashes")
        assert backoffs == [f"restarting in {s} s" for s in ("0.1", "0.2", "0.3", "0.3", "0.3", "0.3")]
        assert svc.details(0).restart_count == 6


def test_the_products_backoff_and_crash_loop_are_the_readmes() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    assert "(after 1, 2, 4 … 60 s)" in readme and "5 crashes in 10 minutes" in readme
    defaults = SupervisorConfig()
    assert (defaults.backoff_base, defaults.backoff_max) == (1.0, 60.0)
    assert (defaults.crash_limit, defaults.crash_window) == (5, 600.0)


async def test_hang_errors_after_start_timeout_and_is_killed(svc: LocalService, comfy_main: Path) -> None:
    await svc.add_backend("comfyui_selfstart")
    await svc.edit_backend(0, "", comfy_settings(comfy_main, "--hang", StartTimeout=2, AutoRestart=False))
    loading = await wait_status(svc, 0, "loading")
    assert re.match(r"waiting for http://127\.0\.0\.1:\d+/object_info — \d+ s", loading.status_message or "")
    pid = svc.details(0).pid
    assert pid
    b = await wait_status(svc, 0, "errored", timeout=6)
    assert b.status_message == "did not become ready within 2 s"
    await wait_gone([pid])


async def test_port_held_without_answers_times_out(svc: LocalService, comfy_main: Path) -> None:
    # connections to the port succeed but nothing answers: probes must time out, not hang
    await svc.add_backend("comfyui_selfstart")
    await svc.edit_backend(0, "", comfy_settings(comfy_main, "--hold-port", StartTimeout=2, AutoRestart=False))
    b = await wait_status(svc, 0, "errored", timeout=6)
    assert b.status_message == "did not become ready within 2 s"


async def test_restart_fixes_stuck_loading(svc: LocalService, comfy_main: Path) -> None:
    await svc.add_backend("comfyui_selfstart")
    await svc.edit_backend(0, "", comfy_settings(comfy_main, "--hang", StartTimeout=600))
    await wait_status(svc, 0, "loading")
    pid = svc.details(0).pid
    assert await svc.restart_backends("all") == 1
    await wait_status(svc, 0, "loading")
    assert svc.details(0).pid not in (None, pid)
    await wait_gone([pid])


async def test_port_clash_picks_another_port(svc: LocalService, comfy_main: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        await svc.add_backend("comfyui_selfstart")
        await svc.add_backend("comfyui_selfstart")
        await svc.edit_backend(0, "", comfy_settings(comfy_main, Port=taken))
        b = await wait_status(svc, 0, "running")
        port0 = svc.details(0).port
        assert port0 != taken
        assert f"port {taken} is in use by another program; using {port0} instead" in (b.status_message or "")
    # a second backend asking for the first one's port gets its own
    await svc.edit_backend(1, "", comfy_settings(comfy_main, Port=port0))
    b1 = await wait_status(svc, 1, "running")
    assert svc.details(1).port not in (port0, taken)
    assert f"port {port0} is in use by backend 0" in (b1.status_message or "")


async def test_stop_kills_a_worker_that_ignores_sigterm_and_its_children(svc: LocalService, comfy_main: Path) -> None:
    await svc.add_backend("comfyui_selfstart")
    await svc.edit_backend(0, "", comfy_settings(comfy_main, "--ignore-term --spawn-child"))
    await wait_status(svc, 0, "running")
    pid = svc.details(0).pid
    child = int(next(line for line in svc.log_tail(0) if line.startswith("CHILD_PID=")).split("=")[1])
    assert alive(child)
    assert await svc.toggle_backend(0, False)
    await wait_gone([pid, child], timeout=1)  # toggle returned: everything is already gone
    assert "still alive 2 s after the stop signal; killing it" in log_text(svc, 0)


async def test_crash_with_grandchild_holding_the_pipes(svc: LocalService) -> None:
    await svc.add_backend("command")
    errored = _errored_events(svc)
    code = ("import subprocess, sys, time; c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
            " print('GRANDCHILD', c.pid, flush=True); time.sleep(1.0); sys.exit(3)")
    await svc.edit_backend(0, "", {"Command": f'"{sys.executable}" -c "{code}"', "AutoRestart": False})
    await wait_status(svc, 0, "running")
    grandchild = int(next(line for line in svc.log_tail(0) if line.startswith("GRANDCHILD")).split()[1])
    pid = svc.details(0).pid
    assert pid
    b = await wait_status(svc, 0, "errored", timeout=5)
    assert b.status_message == "exited with code 3"
    # the crash is seen although the grandchild still held stdout/stderr, and the grandchild is killed
    await wait_gone([pid, grandchild], timeout=2)
    assert len(errored) == 1


async def test_output_tail_and_log_keep_many_lines(svc: LocalService, comfy_main: Path) -> None:
    await svc.add_backend("comfyui_selfstart")
    await svc.edit_backend(0, "", comfy_settings(comfy_main, "--spam-lines 3000"))
    await wait_status(svc, 0, "running")
    tail = svc.log_tail(0)
    assert len(tail) == 2000 and svc.log_tail(0, 5) == tail[-5:]
    text = log_text(svc, 0)
    assert "spam line 0\n" in text and "spam line 2999\n" in text


def test_log_rotates(tmp_path: Path) -> None:
    log = RotatingLog(tmp_path / "backend-0.log", max_bytes=1000, backups=5)
    for i in range(400):
        log.write(f"line {i:04d}")
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["backend-0.log"] + [f"backend-0.log.{n}" for n in range(1, 6)]
    assert "line 0399" in (tmp_path / "backend-0.log").read_text()
    assert all(p.stat().st_size <= 1000 for p in tmp_path.iterdir())


async def test_last_used_from_the_worker_queue(svc: LocalService, comfy_main: Path) -> None:
    await svc.add_backend("comfyui_selfstart")
    await svc.edit_backend(0, "", comfy_settings(comfy_main, "--busy"))
    await wait_status(svc, 0, "running")
    b = await wait_for(svc, 0, lambda b: b.seconds_since_used is not None, 5, "showed work")
    assert b.time_since_used and b.time_since_used.endswith("ago") and b.seconds_since_used < 5


async def test_changes_stream_walks_through_the_states(svc: LocalService, comfy_main: Path) -> None:
    await svc.add_backend("comfyui_selfstart")
    seen: list[str] = []

    async def collect() -> None:
        async for backend in svc.changes():
            if not seen or seen[-1] != backend.status.value:
                seen.append(backend.status.value)
            if backend.status.value == "running":
                return

    task = asyncio.create_task(collect())
    await asyncio.sleep(0)  # let it subscribe
    await svc.edit_backend(0, "", comfy_settings(comfy_main, "--start-delay 0.3"))
    await asyncio.wait_for(task, 15)
    assert seen[-3:] == ["waiting", "loading", "running"]
