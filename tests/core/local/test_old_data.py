"""A backends.json written by an older version (a setting added since is missing, a value saved in another form)
or damaged by hand: the manager still starts, the backends it can use run, and one it cannot use says why."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from backend_manager_gui.core.local import LocalService

from .conftest import FAST, comfy_settings, wait_status


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _saved(data_dir: Path, comfy_main: Path, n: int) -> list[int]:
    svc = LocalService(data_dir, **FAST)
    await svc.start()
    ids = []
    for i in range(n):
        b = await svc.add_backend("comfyui_selfstart")
        await svc.toggle_backend(b.id, False)
        await svc.edit_backend(b.id, f"old {i}", comfy_settings(comfy_main))
        ids.append(b.id)
    await svc.aclose()
    return ids


def _rewrite(data_dir: Path, change) -> None:
    path = data_dir / "backends.json"
    data = json.loads(path.read_text("utf-8"))
    for record in data["backends"]:
        change(record)
        record["enabled"] = True
    path.write_text(json.dumps(data), "utf-8")


async def test_a_file_from_before_a_setting_existed_starts_and_runs(tmp_path, comfy_main):
    data_dir = tmp_path / "data"
    (first,) = await _saved(data_dir, comfy_main, 1)
    port = _free_port()

    def older(record: dict) -> None:
        record["settings"].pop("ModelsFolder")  # added in a later version
        record["settings"]["Port"] = str(port)  # a number saved as text

    _rewrite(data_dir, older)
    svc = LocalService(data_dir, **FAST)
    await svc.start()
    try:
        running = await wait_status(svc, first, "running", timeout=30)
        assert running.settings["Port"] == port and running.settings["ModelsFolder"] == ""
        assert svc.details(first).port == port
    finally:
        await svc.aclose()


async def test_one_unusable_saved_setting_stops_that_backend_alone(tmp_path, comfy_main):
    data_dir = tmp_path / "data"
    bad, good = await _saved(data_dir, comfy_main, 2)

    def damaged(record: dict) -> None:
        if record["id"] == bad:
            record["settings"]["Port"] = "eighty"

    _rewrite(data_dir, damaged)
    svc = LocalService(data_dir, **FAST)
    await svc.start()
    try:
        await wait_status(svc, good, "running", timeout=30)
        listed = await svc.list_backends()
        assert listed[bad].status.value == "errored"
        assert "Port" in (listed[bad].status_message or "")
        # the person fixes it with an edit, and it runs
        await svc.edit_backend(bad, "fixed", comfy_settings(comfy_main))
        await wait_status(svc, bad, "running", timeout=30)
    finally:
        await svc.aclose()
    # the data folder is free again: another manager can open it
    again = LocalService(data_dir, **FAST)
    await again.start()
    await again.aclose()
