"""The 8 operations on real worker processes: add, edit, run, free, restart, toggle, move, delete."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from backend_manager_gui.core.errors import BackendApiError
from backend_manager_gui.core.local import LocalService

from .conftest import alive, comfy_settings, log_text, wait_gone, wait_status


async def frees(port: int) -> int:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"http://127.0.0.1:{port}/fake/frees")).json()["frees"]


async def test_add_edit_running_free_restart(svc: LocalService, comfy_main: Path) -> None:
    added = await svc.add_backend("comfyui_selfstart")
    assert added.id == 0 and added.status.value == "errored"
    assert "StartScript" in (added.status_message or "")  # says why it is not running

    edited = await svc.edit_backend(0, "Main GPU", comfy_settings(comfy_main, "--start-delay 0.3", GPU_ID="1"))
    assert edited.modcount == added.modcount + 1 and edited.title == "Main GPU"
    running = await wait_status(svc, 0, "running")
    details = svc.details(0)
    assert details.pid and alive(details.pid) and details.port
    assert f"127.0.0.1:{details.port}" in (running.status_message or "")
    assert running.time_since_used == "Never"
    # the worker really answers, pinned to the GPU asked for
    assert "CUDA_VISIBLE_DEVICES=1" in svc.log_tail(0)
    assert "CUDA_VISIBLE_DEVICES=1" in log_text(svc, 0)

    assert await svc.free_memory(system_ram=True) == 1
    assert await frees(details.port) == 1
    bodies = [json.loads(line.split(": ", 1)[1]) for line in svc.log_tail(0) if line.startswith("free requested: ")]
    assert bodies == [{"unload_models": True, "free_memory": True}]  # ComfyUI's /free wants both keys

    assert await svc.restart_backends("all") == 1
    await wait_status(svc, 0, "running")
    after = svc.details(0)
    assert after.pid != details.pid and not alive(details.pid)
    assert after.restart_count == 1
    assert after.port == details.port  # Port 0: the restart keeps the port while it is free


async def test_toggle_delete_and_ids(svc: LocalService, comfy_main: Path) -> None:
    for _ in range(2):
        await svc.add_backend("comfyui_selfstart")
    await svc.edit_backend(1, "", comfy_settings(comfy_main))
    await wait_status(svc, 1, "running")
    pid = svc.details(1).pid
    assert pid

    assert await svc.toggle_backend(1, True) is False  # "No change."
    assert await svc.toggle_backend(1, False) is True
    assert (await svc.list_backends())[1].status.value == "disabled"
    await wait_gone([pid])
    assert await svc.toggle_backend(1, True) is True
    await wait_status(svc, 1, "running")

    with pytest.raises(BackendApiError, match="Backend ID 0 is already in use"):
        await svc.edit_backend(1, "", {}, new_id=0)
    moved = await svc.edit_backend(1, "moved", {}, new_id=7)
    assert moved.id == 7
    listing = await svc.list_backends()
    assert list(listing) == [0, 7]
    await wait_status(svc, 7, "running")
    assert svc.log_path(7).name == "backend-7.log" and "moved from backend ID 1" in log_text(svc, 7)
    assert (await svc.add_backend("command")).id == 8  # new ids are max + 1

    pid = svc.details(7).pid
    assert pid
    assert await svc.delete_backend(7) is True
    await wait_gone([pid])
    assert await svc.delete_backend(7) is False
    assert svc.log_path(7).exists()  # logs stay after the worker is gone
    with pytest.raises(BackendApiError, match="Invalid backend ID 7"):
        await svc.toggle_backend(7, True)
    assert await svc.restart_backends(0) == 0  # not set up: nothing to restart
    assert await svc.free_memory() == 0  # nothing running


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"StartScript": "/nonexistent/ComfyUI/main.py"}, "StartScript /nonexistent/ComfyUI/main.py does not exist"),
        ({"StartScript": "MAIN/other.py"}, "StartScript must be ComfyUI's main.py"),
        ({"Port": 70000}, "Port must be between 0 and 65535"),
        ({"Port": "eighty"}, "Port must be a whole number"),
        ({"GPU_ID": "first"}, "GPU_ID must be"),
        ({"StartTimeout": 0}, "StartTimeout must be more than 0"),
        ({"ExtraArgs": '--x "unclosed'}, "ExtraArgs cannot be split"),
        ({"Bogus": 1}, "Unknown setting 'Bogus'"),
    ],
)
async def test_edit_refuses_bad_settings(svc: LocalService, comfy_main: Path, settings: dict, match: str) -> None:
    await svc.add_backend("comfyui_selfstart")
    full = comfy_settings(comfy_main)
    full.update(settings)
    with pytest.raises(BackendApiError, match=match):
        await svc.edit_backend(0, "", full)
    assert (await svc.list_backends())[0].modcount == 0  # nothing applied


async def test_missing_settings_and_command_checks(svc: LocalService) -> None:
    await svc.add_backend("command")
    with pytest.raises(BackendApiError, match="Missing settings."):
        await svc.edit_backend(0, "", None)  # type: ignore[arg-type]
    with pytest.raises(BackendApiError, match="Command cannot be split"):
        await svc.edit_backend(0, "", {"Command": 'x "unclosed'})
    with pytest.raises(BackendApiError, match="Environment line 1 is not KEY=VALUE"):
        await svc.edit_backend(0, "", {"Command": "x", "Environment": "no equals sign"})
    with pytest.raises(BackendApiError, match="Unknown backend type"):
        await svc.add_backend("nope")


@pytest.mark.parametrize(("type_id", "settings", "reason"), [
    ("comfyui_selfstart", {}, "StartScript is empty: set it to the main.py of your ComfyUI folder."),
    ("command", {"Command": "  "}, "Command is empty: set the program to run and its arguments."),
    ("comfyui_api", {"Address": ""}, "Address is empty: set it to the ComfyUI's URL, like http://127.0.0.1:8188."),
])
async def test_an_edit_that_leaves_a_setting_to_fill_in_is_saved_and_says_not_set_up_yet(
    svc: LocalService, type_id: str, settings: dict, reason: str
) -> None:
    """Issue 12 item 12: a just-added backend saved with its defaults (as SwarmUI's web UI does) was refused and
    the whole save, title included, was lost."""
    added = await svc.add_backend(type_id)
    edited = await svc.edit_backend(0, "My worker", {**added.settings, **settings})
    assert edited.title == "My worker" and edited.modcount == 1
    assert edited.status.value == "errored" and edited.status_message == f"Not set up yet: {reason}"
    assert (await svc.list_backends())[0].status_message == f"Not set up yet: {reason}"
    assert svc.details(0).pid is None and await svc.restart_backends(0) == 0
    # a value that cannot work is still refused, empty setting or not
    with pytest.raises(BackendApiError, match="must be"):
        bad = {"StartTimeout": "abc"} if type_id != "comfyui_api" else {"AllowIdle": "maybe"}
        await svc.edit_backend(0, "other", {**settings, **bad})
    assert (await svc.list_backends())[0].title == "My worker"


async def test_backend_types_have_real_schemas(svc: LocalService) -> None:
    types = {t.id: t for t in await svc.list_backend_types()}
    assert {"comfyui_selfstart", "comfyui_api", "command"} <= set(types)
    assert types["comfyui_selfstart"].name == "ComfyUI (self-starting)"
    assert types["comfyui_api"].name == "ComfyUI by URL"
    assert types["command"].name == "Custom GPU worker"
    for t in types.values():
        assert t.is_standard
        for spec in t.settings:
            assert spec.description, f"{t.id}.{spec.name} has no description"
    names = [s.name for s in types["comfyui_selfstart"].settings]
    assert names == ["StartScript", "Python", "ExtraArgs", "ModelsFolder", "GPU_ID", "Port", "Listen", "Environment",
                     "SecretEnvironment", "AutoRestart", "StartTimeout"]
    assert types["comfyui_selfstart"].setting("SecretEnvironment").is_secret  # type: ignore[union-attr]
    assert types["comfyui_selfstart"].setting("Listen").default is False  # type: ignore[union-attr]
    assert types["comfyui_selfstart"].setting("StartScript").placeholder.endswith("main.py")
    assert types["comfyui_selfstart"].setting("AutoRestart").default is True
    assert types["comfyui_api"].setting("ApiKey").is_secret
