"""Persistence, the data folder lock, corrupt files, and where secrets go."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend_manager_gui.core import secrets as secrets_mod
from backend_manager_gui.core.errors import BackendApiError
from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.models import SECRET_MARKER
from backend_manager_gui.core.secrets import file_is_private

from .conftest import FAKE_COMFY, FAST, comfy_settings, log_text, wait_status

SECRET = "hf_s3cr3t-Token-value-42"


async def test_backends_survive_a_restart_of_the_manager(data_dir: Path, comfy_main: Path) -> None:
    async with LocalService(data_dir, **FAST) as svc:
        await svc.add_backend("comfyui_selfstart")
        await svc.add_backend("comfyui_api")
        await svc.edit_backend(0, "GPU zero", comfy_settings(comfy_main, "--lowvram", GPU_ID="0"))
        await svc.toggle_backend(1, False)
        await wait_status(svc, 0, "running")
        port = svc.details(0).port
        before = await svc.list_backends()
    saved = json.loads((data_dir / "backends.json").read_text())
    assert saved["version"] == 1
    async with LocalService(data_dir, **FAST) as svc:
        after = await svc.list_backends()
        assert list(after) == [0, 1]
        for bid in (0, 1):
            assert (after[bid].type, after[bid].title, after[bid].settings, after[bid].modcount, after[bid].enabled) == (
                before[bid].type, before[bid].title, before[bid].settings, before[bid].modcount, before[bid].enabled)
        assert after[1].status.value == "disabled"
        await wait_status(svc, 0, "running")  # enabled ones start again on their own
        assert svc.details(0).port == port  # and keep their port while it is free


async def test_corrupt_store_is_moved_aside_with_a_warning(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "backends.json").write_text('{"version": 1, "backends": [{"id": ')
    async with LocalService(data_dir, **FAST) as svc:
        assert await svc.list_backends() == {}
        assert len(svc.warnings) == 1 and "moved to" in svc.warnings[0]
        aside = [p for p in data_dir.iterdir() if p.name.startswith("backends.json.corrupt-")]
        assert len(aside) == 1 and aside[0].read_text().startswith('{"version": 1')
        assert str(aside[0]) in svc.warnings[0]
        await svc.add_backend("command")  # and it works from there
    assert json.loads((data_dir / "backends.json").read_text())["backends"][0]["type"] == "command"


async def test_newer_store_is_refused_not_overwritten(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "backends.json").write_text('{"version": 99, "backends": []}')
    with pytest.raises(BackendApiError, match="newer Backend Manager"):
        await LocalService(data_dir, **FAST).start()
    assert json.loads((data_dir / "backends.json").read_text())["version"] == 99
    async with LocalService(data_dir / "other", **FAST):
        pass  # the failed start let go of its lock


async def test_second_manager_on_the_same_folder_is_refused(data_dir: Path) -> None:
    async with LocalService(data_dir, **FAST):
        with pytest.raises(BackendApiError, match=rf"already managed by another Backend Manager \(pid {os.getpid()}\)"):
            await LocalService(data_dir, **FAST).start()
        # another process too
        code = ("import asyncio, sys; from backend_manager_gui.core.local import LocalService\n"
                "try:\n asyncio.run(LocalService(sys.argv[1]).start())\n"
                "except Exception as e: print(e)")
        out = subprocess.run([sys.executable, "-c", code, str(data_dir)], capture_output=True, text=True, timeout=60)
        assert f"already managed by another Backend Manager (pid {os.getpid()})" in out.stdout
    async with LocalService(data_dir, **FAST):
        pass  # released on close


async def test_stale_lock_of_a_dead_manager_does_not_block(data_dir: Path) -> None:
    code = ("import os, sys; from backend_manager_gui.core.local.store import DataDirLock; from pathlib import Path\n"
            "DataDirLock(Path(sys.argv[1]) / 'backends.lock').acquire(); os._exit(0)")
    subprocess.run([sys.executable, "-c", code, str(data_dir)], check=True, timeout=60)
    assert (data_dir / "backends.lock").exists()
    async with LocalService(data_dir, **FAST) as svc:
        assert svc.warnings == []


async def test_lock_held_by_a_live_process_names_it_and_frees_when_it_is_killed(data_dir: Path) -> None:
    code = ("import sys, time; from backend_manager_gui.core.local.store import DataDirLock; from pathlib import Path\n"
            "lock = DataDirLock(Path(sys.argv[1]) / 'backends.lock'); lock.acquire(); print('held', flush=True); time.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(data_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(BackendApiError, match=rf"already managed by another Backend Manager \(pid {holder.pid}\)"):
            await LocalService(data_dir, **FAST).start()
    finally:
        holder.kill()  # SIGKILL: no chance to let go of anything itself
        holder.wait(timeout=30)
    async with LocalService(data_dir, **FAST) as svc:
        assert svc.warnings == []
        # and this manager is now the one a third one is told about
        with pytest.raises(BackendApiError, match=rf"\(pid {os.getpid()}\)"):
            await LocalService(data_dir, **FAST).start()


async def test_secrets_stay_out_of_files_logs_and_reprs(data_dir: Path, _test_keyring) -> None:
    async with LocalService(data_dir, **FAST) as svc:
        await svc.add_backend("command")
        cmd = f'"{sys.executable}" "{FAKE_COMFY}" --port {{port}} --print-env-sha256 HF_TOKEN'
        edited = await svc.edit_backend(0, "", {"Command": cmd, "SecretEnvironment": f"HF_TOKEN={SECRET}",
                                                "HealthURL": "http://127.0.0.1:{port}/object_info"})
        assert edited.settings["SecretEnvironment"] == SECRET_MARKER
        await wait_status(svc, 0, "running")
        # the child got the real value
        assert f"sha256(HF_TOKEN)={hashlib.sha256(SECRET.encode()).hexdigest()}" in svc.log_tail(0)
        # sending the marker back keeps it
        await svc.edit_backend(0, "renamed", {"SecretEnvironment": SECRET_MARKER})
        await wait_status(svc, 0, "running")
        assert f"sha256(HF_TOKEN)={hashlib.sha256(SECRET.encode()).hexdigest()}" in svc.log_tail(0)
        backends = await svc.list_backends()
        texts = [repr(backends), repr(backends[0]), str(backends[0].to_wire()), repr(svc), repr(svc.details(0)),
                 "\n".join(svc.log_tail(0)), log_text(svc, 0), (data_dir / "backends.json").read_text()]
        for text in texts:
            assert SECRET not in text
        assert svc.warnings == []  # keyring usable: no warning
    assert SECRET in _test_keyring.path.read_text()  # it lives in the keyring
    assert not (data_dir / "secrets.json").exists()
    async with LocalService(data_dir, **FAST) as svc:  # and comes back from it
        await wait_status(svc, 0, "running")
        assert f"sha256(HF_TOKEN)={hashlib.sha256(SECRET.encode()).hexdigest()}" in svc.log_tail(0)
        await svc.delete_backend(0)
    assert SECRET not in _test_keyring.path.read_text()  # deleting the backend deletes its secret


async def test_without_keyring_secrets_go_to_an_owner_only_file(data_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr(secrets_mod, "keyring_usable", lambda: False)
    async with LocalService(data_dir, **FAST) as svc:
        await svc.add_backend("comfyui_api")
        await svc.edit_backend(0, "", {"Address": "http://127.0.0.1:9", "ApiKey": SECRET})
        assert any("No usable OS keyring" in w for w in svc.warnings)
    secret_file = data_dir / "secrets.json"
    assert SECRET in secret_file.read_text() and file_is_private(secret_file)
    assert SECRET not in (data_dir / "backends.json").read_text()
