"""The three backend types end to end: argument splitting, interpreter choice, URL watching, commands, GPUs."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from backend_manager_gui.core.errors import BackendApiError
from backend_manager_gui.core.local import LocalService

from .conftest import FAKE_COMFY, FAST, comfy_settings, wait_status


def _argv_line(svc: LocalService, backend_id: int) -> list[str]:
    line = next(line for line in svc.log_tail(backend_id) if line.startswith("ARGV="))
    return json.loads(line[len("ARGV="):])


async def test_extra_args_split_like_a_shell_but_never_through_one(svc: LocalService, comfy_main: Path,
                                                                   tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    extra = f'--echo-args --tag "two words" --tag \'x;touch {marker}\' --tag $(touch {marker}) --cpu'
    await svc.add_backend("comfyui_selfstart")
    await svc.edit_backend(0, "", comfy_settings(comfy_main, extra))
    await wait_status(svc, 0, "running")
    argv = _argv_line(svc, 0)
    port = svc.details(0).port
    assert argv == ["--listen", "127.0.0.1", "--port", str(port), "--echo-args", "--tag", "two words",
                    "--tag", f"x;touch {marker}", "--tag", "$(touch", f"{marker})", "--cpu"]
    assert not marker.exists()


async def test_python_is_picked_from_the_comfyui_venv(svc: LocalService, comfy_main: Path) -> None:
    venv_python = comfy_main.parent / "venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.symlink_to(sys.executable)
    await svc.add_backend("comfyui_selfstart")
    await svc.edit_backend(0, "", comfy_settings(comfy_main, Python=""))
    await wait_status(svc, 0, "running")
    start = next(line for line in svc.log_tail(0) if line.startswith("[manager] starting: "))
    assert start.startswith(f"[manager] starting: {venv_python} {comfy_main} --listen 127.0.0.1 --port ")


@pytest.fixture
async def outside_comfy(tmp_path: Path) -> AsyncIterator[tuple[int, asyncio.subprocess.Process]]:
    """A fake ComfyUI somebody else runs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(sys.executable, str(FAKE_COMFY), "--port", str(port),
                                                stdout=asyncio.subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    await client.get(f"http://127.0.0.1:{port}/system_stats")
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)
        yield port, proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def test_comfyui_by_url_running_errored_idle(svc: LocalService, outside_comfy) -> None:
    port, proc = outside_comfy
    await svc.add_backend("comfyui_api")
    await svc.edit_backend(0, "", {"Address": f"http://127.0.0.1:{port}/"})
    b = await wait_status(svc, 0, "running")
    assert b.status_message == f"answering at http://127.0.0.1:{port}"
    assert await svc.free_memory() == 1
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"http://127.0.0.1:{port}/fake/frees")).json()["frees"] == 1
    proc.kill()
    await proc.wait()
    b = await wait_status(svc, 0, "errored")
    assert b.status_message.startswith(f"cannot reach http://127.0.0.1:{port}")
    await svc.edit_backend(0, "", {"AllowIdle": True})
    b = await wait_status(svc, 0, "idle")
    assert b.status_message.startswith("idle: cannot reach")
    assert await svc.free_memory() == 0


async def test_command_worker_with_port_gpu_and_health_url(svc: LocalService) -> None:
    await svc.add_backend("command")
    cmd = f'"{sys.executable}" "{FAKE_COMFY}" --port {{port}} --echo-args --tag gpu={{gpu}}'
    await svc.edit_backend(0, "", {"Command": cmd, "GPU_ID": "0,1", "Environment": "EXTRA_FLAG=on",
                                   "HealthURL": "http://127.0.0.1:{port}/object_info",
                                   "FreeMemoryURL": "http://127.0.0.1:{port}/free"})
    b = await wait_status(svc, 0, "running")
    port = svc.details(0).port
    assert b.status_message.startswith("running at pid ")
    assert _argv_line(svc, 0) == ["--port", str(port), "--echo-args", "--tag", "gpu=0,1"]
    assert "CUDA_VISIBLE_DEVICES=0,1" in svc.log_tail(0)
    assert await svc.free_memory(backend=0) == 1
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"http://127.0.0.1:{port}/fake/frees")).json()["frees"] == 1


async def test_command_without_health_url_is_ready_once_alive(svc: LocalService, tmp_path: Path) -> None:
    await svc.add_backend("command")
    code = "import os, time; print('cwd', os.getcwd(), 'flag', os.environ.get('EXTRA_FLAG'), flush=True); time.sleep(60)"
    await svc.edit_backend(0, "", {"Command": f'"{sys.executable}" -c "{code}"', "WorkingDir": str(tmp_path),
                                   "Environment": "EXTRA_FLAG=on\n# a comment\n"})
    loading = await wait_status(svc, 0, "loading")
    assert loading.status_message.startswith("waiting for the worker to stay up")
    await wait_status(svc, 0, "running")
    assert f"cwd {tmp_path} flag on" in svc.log_tail(0)
    assert await svc.free_memory() == 0  # no FreeMemoryURL: nothing to ask
    # asked for by its id, the running worker says why it cannot free memory (issue 12 item 8)
    with pytest.raises(BackendApiError, match="^This worker has no free-memory URL: set FreeMemoryURL"):
        await svc.free_memory(backend=0)


async def test_command_that_cannot_start_says_why(svc: LocalService) -> None:
    await svc.add_backend("command")
    await svc.edit_backend(0, "", {"Command": "/nonexistent/worker --port {port}", "AutoRestart": False})
    b = await wait_status(svc, 0, "errored")
    assert b.status_message.startswith("could not start /nonexistent/worker")


async def test_gpu_report(svc: LocalService) -> None:
    report = await svc.gpus()
    if report.gpus:
        assert all(g.memory_total > 0 and g.name for g in report.gpus)
    else:
        # this machine has no NVIDIA driver: an empty list that says why
        assert report.reason and report.reason.startswith("No NVIDIA GPU")


@pytest.mark.parametrize("extra", [
    "--port 8189", "--port=8189", "--lowvram --po 8189", "--por=8189",
    "--listen", "--listen 0.0.0.0", "--listen=0.0.0.0", "--cpu --liste 0.0.0.0", "--li=::",
])
async def test_extra_args_cannot_move_the_port_or_the_address(svc: LocalService, comfy_main: Path, extra: str) -> None:
    """Issue 12 item 11: ComfyUI listened where the manager did not look, and the worker sat "waiting for
    …/object_info" for the whole StartTimeout, round and round. argparse takes unambiguous prefixes too."""
    await svc.add_backend("comfyui_selfstart")
    with pytest.raises(BackendApiError, match=r"^ExtraArgs cannot hold --(port|listen)") as refused:
        await svc.edit_backend(0, "", comfy_settings(comfy_main, extra))
    assert ("Port setting" in refused.value.message) == ("--p" in extra)
    backend = (await svc.list_backends())[0]
    assert backend.modcount == 0 and svc.details(0).pid is None  # nothing applied, nothing started


async def test_a_saved_extra_port_is_not_started_on_the_wrong_port(data_dir: Path, comfy_main: Path) -> None:
    """A backend saved with --port in ExtraArgs (before the check) says why and is never started."""
    async with LocalService(data_dir, **FAST) as svc:
        await svc.add_backend("comfyui_selfstart")
    saved = json.loads((data_dir / "backends.json").read_text())
    saved["backends"][0]["settings"].update(comfy_settings(comfy_main, "--port 8189"))
    (data_dir / "backends.json").write_text(json.dumps(saved))
    async with LocalService(data_dir, **FAST) as svc:
        backend = (await svc.list_backends())[0]
        assert backend.status.value == "errored" and "ExtraArgs cannot hold --port" in (backend.status_message or "")
        assert svc.details(0).pid is None


@pytest.mark.parametrize("extra", ["--lowvram --preview-method auto", "--cpu --log-stdout", "--preview-size 256"])
async def test_other_extra_args_still_pass(svc: LocalService, comfy_main: Path, extra: str) -> None:
    await svc.add_backend("comfyui_selfstart")
    await svc.edit_backend(0, "", comfy_settings(comfy_main, extra))
    assert (await svc.list_backends())[0].settings["ExtraArgs"] == extra
