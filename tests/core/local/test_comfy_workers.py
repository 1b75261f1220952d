"""ComfyUI-aware workers (issue 14) with real worker processes (tests/support/fake_comfy.py): the environment a
worker sees, ComfyUI-Manager's restart, one models folder through extra_model_paths.yaml, the queue figures and
the worker's page."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from pathlib import Path

import httpx
import pytest

from backend_manager_gui.core.errors import BackendApiError
from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.models import Backend, BackendStatus
from tests.support.fake_comfy import model_folders, read_model_paths

from .conftest import FAKE_COMFY, FAST, comfy_settings, log_text, wait_for, wait_status

SECRET = "hf_secret-value-9f3b2c"


async def _get(port: int, path: str) -> object:
    async with httpx.AsyncClient(trust_env=False) as client:
        resp = await client.get(f"http://127.0.0.1:{port}{path}", timeout=5)
        resp.raise_for_status()
        return resp.json()


async def _post(port: int, path: str, body: object = None) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        try:
            await client.post(f"http://127.0.0.1:{port}{path}", json=body or {}, timeout=5)
        except httpx.HTTPError:
            pass  # a worker that restarts drops the connection without an answer, as ComfyUI does


async def _running(svc: LocalService, settings: dict[str, object], type_id: str = "comfyui_selfstart") -> Backend:
    b = await svc.add_backend(type_id)
    await svc.edit_backend(b.id, "", settings)
    return await wait_status(svc, b.id, "running")


# ---- 1 and 4: the environment a worker sees -------------------------------------------------------------------


async def test_the_environment_a_comfyui_worker_sees(svc: LocalService, comfy_main: Path, data_dir: Path) -> None:
    b = await _running(svc, comfy_settings(
        comfy_main, "--print-env-sha256 HF_TOKEN", GPU_ID="1,0",
        Environment="# cache on the big disk\nHF_HOME=/data/hf\nPYTORCH_CUDA_ALLOC_CONF = expandable_segments:True",
        SecretEnvironment=f"HF_TOKEN={SECRET}"))
    env = await _get(svc.details(b.id).port or 0, "/fake/env")
    assert isinstance(env, dict)
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"  # GPU numbers as NVML (the GPU dock) gives them
    assert env["CUDA_VISIBLE_DEVICES"] == env["HIP_VISIBLE_DEVICES"] == "1,0"
    assert env["HF_HOME"] == "/data/hf" and env["PYTORCH_CUDA_ALLOC_CONF"] == "expandable_segments:True"
    assert env["HF_TOKEN"] == SECRET
    uid = next(p.name for p in (data_dir / "workers").iterdir())
    assert env["__COMFY_CLI_SESSION__"] == str(data_dir / "workers" / uid / "comfy-session")
    # the secret reached the worker and nothing else: not the log, not the listing
    log = log_text(svc, b.id)
    assert SECRET not in log and f"sha256(HF_TOKEN)={hashlib.sha256(SECRET.encode()).hexdigest()}" in log
    listed = (await svc.list_backends())[b.id]
    assert SECRET not in repr(listed.settings) and "HF_HOME=/data/hf" in listed.settings["Environment"]


async def test_a_device_order_set_by_the_person_is_kept(svc: LocalService, comfy_main: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    b = await _running(svc, comfy_settings(comfy_main, Environment="CUDA_DEVICE_ORDER=FASTEST_FIRST"))
    assert (await _get(svc.details(b.id).port or 0, "/fake/env"))["CUDA_DEVICE_ORDER"] == "FASTEST_FIRST"  # type: ignore[index]
    # set in the environment the app was started with: kept as well
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "FASTEST_FIRST")
    c = await _running(svc, comfy_settings(comfy_main))
    assert (await _get(svc.details(c.id).port or 0, "/fake/env"))["CUDA_DEVICE_ORDER"] == "FASTEST_FIRST"  # type: ignore[index]


async def test_the_custom_command_type_gets_the_device_order_too(svc: LocalService) -> None:
    b = await _running(svc, {"Command": f'"{sys.executable}" "{FAKE_COMFY}" --port {{port}}',
                             "HealthURL": "http://127.0.0.1:{port}/system_stats", "GPU_ID": "2"}, "command")
    env = await _get(svc.details(b.id).port or 0, "/fake/env")
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID" and env["CUDA_VISIBLE_DEVICES"] == "2"  # type: ignore[index]
    assert "__COMFY_CLI_SESSION__" not in env  # type: ignore[operator]


async def test_environment_lines_are_checked(svc: LocalService, comfy_main: Path) -> None:
    b = await svc.add_backend("comfyui_selfstart")
    with pytest.raises(BackendApiError, match="^Environment line 2 is not KEY=VALUE"):
        await svc.edit_backend(b.id, "", comfy_settings(comfy_main, Environment="A=1\nnot a variable"))
    with pytest.raises(BackendApiError, match="^SecretEnvironment line 1 is not KEY=VALUE") as refused:
        await svc.edit_backend(b.id, "", comfy_settings(comfy_main, SecretEnvironment=f"{SECRET}"))
    assert SECRET not in str(refused.value)
    with pytest.raises(BackendApiError, match="cannot set __COMFY_CLI_SESSION__"):
        await svc.edit_backend(b.id, "", comfy_settings(comfy_main, Environment="__COMFY_CLI_SESSION__=/tmp/x"))


# ---- 2: ComfyUI-Manager's restart ----------------------------------------------------------------------------


async def test_manager_restarts_come_back_on_the_same_port_five_times_without_an_error(
        svc: LocalService, comfy_main: Path, data_dir: Path) -> None:
    seen: list[tuple[str, str]] = []
    svc.add_listener(lambda b: seen.append((b.status.value, b.status_message or "")))
    # AutoRestart off: a crash would leave it down, a requested restart must not
    b = await _running(svc, comfy_settings(comfy_main, AutoRestart=False))
    seen.clear()  # from here on
    port = svc.details(b.id).port
    pids = [svc.details(b.id).pid]
    marker = next((data_dir / "workers").iterdir()) / "comfy-session.reboot"
    for n in range(1, 6):
        await _post(port or 0, "/v2/manager/reboot" if n % 2 else "/manager/reboot")
        await wait_for(svc, b.id, lambda x: x.status.value == "running" and svc.details(b.id).pid not in (None, *pids), 15,
                       f"came back after restart {n}")
        pids.append(svc.details(b.id).pid)
        details = svc.details(b.id)
        assert details.port == port and details.crash_count_recent == 0 and details.last_exit_code == 0
        assert not marker.exists()
    assert len(set(pids)) == 6
    assert [(s, m) for s, m in seen if s == "errored"] == []
    assert sum(1 for s, m in seen if (s, m) == ("waiting", "restarting (requested by ComfyUI-Manager)")) == 5
    assert svc.details(b.id).restart_count == 5
    assert log_text(svc, b.id).count("after asking for a restart (comfy-session.reboot); starting it again") == 5


async def test_a_worker_that_keeps_asking_for_restarts_is_left_stopped(data_dir: Path, comfy_main: Path) -> None:
    async with LocalService(data_dir, restart_request_limit=2, **FAST) as svc:
        b = await svc.add_backend("comfyui_selfstart")
        await svc.edit_backend(b.id, "", comfy_settings(comfy_main, "--reboot-after 0.1"))
        done = await wait_for(svc, b.id, lambda x: x.status.value == "errored", 20, "gave up")
        assert done.status_message == "restart loop: ComfyUI-Manager asked for 3 restarts in 10 min, not restarting"
        assert svc.details(b.id).pid is None and svc.details(b.id).crash_count_recent == 0


@pytest.mark.skipif(os.name == "nt", reason="os.execv starts a new process on Windows")
async def test_a_legacy_restart_by_execv_stays_supervised(svc: LocalService) -> None:
    """Without __COMFY_CLI_SESSION__ (the custom command type does not set it) ComfyUI-Manager re-executes the
    process: on POSIX it keeps its pid, its pipes and its parent, so the manager keeps watching the same worker."""
    b = await _running(svc, {"Command": f'"{sys.executable}" "{FAKE_COMFY}" --port {{port}}',
                             "HealthURL": "http://127.0.0.1:{port}/system_stats"}, "command")
    details = svc.details(b.id)
    await _post(details.port or 0, "/manager/reboot")
    await wait_for(svc, b.id, lambda _b: "Restarting... [Legacy Mode]" in log_text(svc, b.id), 10, "restarted")
    argv = None
    for _ in range(100):
        try:
            argv = await _get(details.port or 0, "/fake/argv")
            break
        except httpx.HTTPError:
            await asyncio.sleep(0.1)
    assert argv is not None, "the re-executed worker never answered"
    after = svc.details(b.id)
    assert after.pid == details.pid and after.crash_count_recent == 0
    assert (await svc.list_backends())[b.id].status is BackendStatus.RUNNING


# ---- 3: one models folder -------------------------------------------------------------------------------------


async def test_the_models_folder_reaches_comfyui_through_extra_model_paths(svc: LocalService, comfy_main: Path,
                                                                         tmp_path: Path, data_dir: Path) -> None:
    models = tmp_path / 'shared "models" \\ a: b #1 ü 🎨\tx'
    (models / "checkpoints" / "sdxl").mkdir(parents=True)
    (models / "checkpoints" / "sd15.safetensors").write_bytes(b"")
    (models / "checkpoints" / "sdxl" / "base.safetensors").write_bytes(b"")
    b = await _running(svc, comfy_settings(comfy_main, "--echo-args", ModelsFolder=str(models)))
    uid = next(p.name for p in (data_dir / "workers").iterdir())
    written = data_dir / "workers" / uid / "extra_model_paths.yaml"
    argv = await _get(svc.details(b.id).port or 0, "/fake/argv")
    assert isinstance(argv, list)
    assert argv[argv.index("--extra-model-paths-config") + 1] == str(written)
    # ComfyUI's own format, read back the way ComfyUI reads it
    config = read_model_paths(str(written))
    assert list(config) == ["backend_manager_models"]
    entry = config["backend_manager_models"]
    assert entry["base_path"] == str(models)
    assert entry["checkpoints"] == "checkpoints" and entry["loras"] == "loras" and entry["vae"] == "vae"
    assert entry["clip"] == "text_encoders\nclip\n" and entry["unet"] == "diffusion_models\nunet\n"
    assert entry["controlnet"] == "controlnet\nt2i_adapter\n"
    assert {"clip_vision", "upscale_models", "embeddings", "hypernetworks"} <= set(entry)
    folders = model_folders([str(written)])
    assert folders["diffusion_models"] == [str(models / "diffusion_models"), str(models / "unet")]
    info = await _get(svc.details(b.id).port or 0, "/object_info")
    assert info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] == [  # type: ignore[index]
        "sd15.safetensors", "sdxl/base.safetensors"]


async def test_no_models_folder_no_extra_config(svc: LocalService, comfy_main: Path) -> None:
    b = await _running(svc, comfy_settings(comfy_main))
    argv = await _get(svc.details(b.id).port or 0, "/fake/argv")
    assert "--extra-model-paths-config" not in argv  # type: ignore[operator]


async def test_a_models_folder_that_is_not_one_is_refused(svc: LocalService, comfy_main: Path, tmp_path: Path) -> None:
    b = await svc.add_backend("comfyui_selfstart")
    with pytest.raises(BackendApiError, match="is not a folder"):
        await svc.edit_backend(b.id, "", comfy_settings(comfy_main, ModelsFolder=str(tmp_path / "nowhere")))
    (tmp_path / "$HOME").mkdir()
    with pytest.raises(BackendApiError, match="cannot hold a \\$"):
        await svc.edit_backend(b.id, "", comfy_settings(comfy_main, ModelsFolder=str(tmp_path / "$HOME")))


# ---- 5 and 6: the worker's page and its queue -----------------------------------------------------------------


async def test_queue_figures_and_the_page_are_on_the_listing(svc: LocalService, comfy_main: Path) -> None:
    b = await _running(svc, comfy_settings(comfy_main, "--queue-running 1 --queue-pending 3"))
    port = svc.details(b.id).port
    listed = await wait_for(svc, b.id, lambda x: x.queue() is not None, 5, "had queue figures")
    assert listed.queue() == (1, 3)
    assert listed.worker_port() == port and listed.worker_url() == f"http://127.0.0.1:{port}"
    assert listed.worker_listens_all() is False
    await _post(port or 0, "/fake/queue", {"running": 0, "pending": 0})
    await wait_for(svc, b.id, lambda x: x.queue() == (0, 0), 5, "had an empty queue")
    await svc.toggle_backend(b.id, False)
    gone = (await svc.list_backends())[b.id]
    assert gone.queue() is None and gone.worker_url() is None and gone.worker_port() is None


async def test_listen_opens_the_worker_to_other_computers_only_when_asked(svc: LocalService, comfy_main: Path) -> None:
    b = await _running(svc, comfy_settings(comfy_main, "--echo-args"))
    argv = await _get(svc.details(b.id).port or 0, "/fake/argv")
    assert argv[argv.index("--listen") + 1] == "127.0.0.1"  # type: ignore[index, union-attr]
    await svc.edit_backend(b.id, "", {"Listen": True})
    listed = await wait_status(svc, b.id, "running")
    argv = await _get(svc.details(b.id).port or 0, "/fake/argv")
    assert argv[argv.index("--listen") + 1] == "0.0.0.0"  # type: ignore[index, union-attr]
    assert listed.worker_listens_all() is True
    # the page is still reached on this computer's loopback
    assert listed.worker_url() == f"http://127.0.0.1:{svc.details(b.id).port}"
