"""``serve`` in-process over the real local manager: RemoteService → serve → LocalService → real worker processes.

This is the headless-GPU-box setup end to end, in one event loop: what the laptop's app sees through
SwarmUI's API is the workers this "box" really starts, stops and frees.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
import shutil
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import psutil
import pytest

from backend_manager_gui.core.errors import BackendApiError
from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.models import SECRET_MARKER, Backend, BackendStatus
from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.core.server import ServeRunner

FAKE_COMFY = Path(__file__).resolve().parents[1] / "support" / "fake_comfy.py"
SECRET_ENV = "HF_TOKEN=hunter2-local-secret"
TIMINGS = dict(stop_grace=3.0, backoff_base=0.2, probe_interval=0.1, alive_ready_s=0.3, queue_interval=0.5)


def worker_settings(*extra: str) -> dict[str, object]:
    return {
        "Command": shlex.join([sys.executable, str(FAKE_COMFY), "--port", "{port}", *extra]),
        "HealthURL": "http://127.0.0.1:{port}/system_stats",
        "FreeMemoryURL": "http://127.0.0.1:{port}/free",
        "SecretEnvironment": SECRET_ENV,
    }


async def wait_for(
    client: RemoteService, check: Callable[[dict[int, Backend]], bool], what: str, deadline: float = 20.0
) -> dict[int, Backend]:
    """Poll ListBackends through serve until ``check`` holds (a bounded wait, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        backends = await client.list_backends(full_data=True)
        if check(backends):
            return backends
        if loop.time() > end:
            states = {i: (b.status.value, b.status_message) for i, b in backends.items()}
            raise AssertionError(f"not {what} within {deadline} s: {states}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[tuple[LocalService, ServeRunner]]:
    async with LocalService(tmp_path / "box", **TIMINGS) as local, ServeRunner(local) as srv:
        yield local, srv


@pytest.fixture
async def client(box: tuple[LocalService, ServeRunner]) -> AsyncIterator[RemoteService]:
    async with RemoteService(box[1].url) as svc:
        yield svc


async def test_a_remote_client_runs_the_boxs_real_workers(
    box: tuple[LocalService, ServeRunner], client: RemoteService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    local, srv = box
    types = {t.id: t for t in await client.list_backend_types()}
    assert {"command", "comfyui_selfstart", "comfyui_api"} <= set(types)
    assert types["command"].setting("SecretEnvironment").is_secret  # type: ignore[union-attr]
    assert await client.list_backends() == {}

    added = await client.add_backend("command")
    assert added.id == 0 and added.type == "command"
    edited = await client.edit_backend(0, "GPU 0 worker", worker_settings())
    assert edited.title == "GPU 0 worker" and edited.modcount == 1
    assert edited.settings["SecretEnvironment"] == SECRET_MARKER
    await client.add_backend("command")
    await client.edit_backend(1, "GPU 1 worker", worker_settings(), new_id=5)

    backends = await wait_for(
        client, lambda bs: sorted(bs) == [0, 5] and all(b.status is BackendStatus.RUNNING for b in bs.values()),
        "both running",
    )
    assert backends[0].status_message is not None
    pid0 = local.details(0).pid
    assert pid0 is not None and psutil.pid_exists(pid0)

    # free memory reaches the worker itself
    port0 = local.details(0).port
    assert await client.free_memory(backend=0) == 1
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port0}/fake/frees") as r:
        assert (await r.json())["frees"] == 1

    # disabling stops the process; enabling starts a new one
    assert await client.toggle_backend(0, False) is True
    assert await client.toggle_backend(0, False) is False
    await wait_for(client, lambda bs: bs[0].status is BackendStatus.DISABLED, "disabled")
    assert not psutil.pid_exists(pid0) or psutil.Process(pid0).status() == psutil.STATUS_ZOMBIE
    assert await client.toggle_backend(0, True) is True
    await wait_for(client, lambda bs: bs[0].status is BackendStatus.RUNNING, "running again")
    pid0b = local.details(0).pid
    assert pid0b is not None and pid0b != pid0

    assert await client.restart_backends("all") == 2
    await wait_for(client, lambda bs: all(b.status is BackendStatus.RUNNING for b in bs.values()), "restarted")
    assert local.details(0).pid != pid0b

    with pytest.raises(BackendApiError, match="Backend ID 0 is already in use"):
        await client.edit_backend(5, "x", {}, new_id=0)
    with pytest.raises(BackendApiError, match="Invalid backend ID 9"):
        await client.toggle_backend(9, True)
    with pytest.raises(BackendApiError, match="Unknown backend type"):
        await client.add_backend("no_such_type")

    # an id that names no backend is counted as 0, as SwarmUI does, not refused
    assert await client.restart_backends(42) == 0
    assert await client.free_memory(backend=42) == 0

    pid5 = local.details(5).pid
    assert await client.delete_backend(5) is True
    assert await client.delete_backend(5) is False
    assert sorted(await client.list_backends()) == [0]
    assert pid5 is not None and (not psutil.pid_exists(pid5) or psutil.Process(pid5).status() == psutil.STATUS_ZOMBIE)

    # the raw wire: keyed by id text, the app's status_message, the secret only as the marker
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{srv.url}/API/GetNewSession", json={}) as r:
            sid = (await r.json())["session_id"]
        async with http.post(f"{srv.url}/API/ListBackends", json={"session_id": sid, "full_data": True}) as r:
            text = await r.text()
    reply = json.loads(text)
    assert list(reply) == ["0"] and reply["0"]["status"] == "running"
    assert isinstance(reply["0"]["status_message"], str)
    assert reply["0"]["settings"]["SecretEnvironment"] == SECRET_MARKER
    assert "hunter2" not in text
    assert "hunter2" not in caplog.text


async def test_a_bad_setting_is_refused_with_the_managers_text(
    client: RemoteService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await client.add_backend("command")
    with pytest.raises(BackendApiError, match="SecretEnvironment line 1 is not KEY=VALUE") as refused:
        await client.edit_backend(0, "x", {"Command": "worker", "SecretEnvironment": "hunter2-not-a-pair"})
    assert "hunter2" not in str(refused.value) and "hunter2" not in caplog.text
    with pytest.raises(BackendApiError, match="Unknown setting 'Nope'"):
        await client.edit_backend(0, "x", {"Nope": 1})
    with pytest.raises(BackendApiError, match="Port must be a whole number"):
        await client.edit_backend(0, "x", {"Command": "", "Port": "abc"})
    backends = await client.list_backends()
    assert backends[0].modcount == 0  # nothing was changed by the refused edits


async def test_polls_and_probes_log_at_debug_changes_and_refusals_at_info(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 12 item 10: `serve` logged every 2-second poll at INFO, and httpx an INFO line per /queue probe."""
    caplog.set_level(logging.DEBUG)
    main = tmp_path / "ComfyUI" / "main.py"  # a ComfyUI worker: the manager polls its /queue
    main.parent.mkdir()
    main.write_bytes(FAKE_COMFY.read_bytes())
    async with LocalService(tmp_path / "box", **TIMINGS) as local, \
            ServeRunner(local, access_log=True) as srv, RemoteService(srv.url) as client:
        await client.add_backend("comfyui_selfstart")
        await client.edit_backend(0, "worker", {"StartScript": str(main), "Python": sys.executable})
        await wait_for(client, lambda b: b[0].status is BackendStatus.RUNNING, "running")
        probes = lambda: [r for r in caplog.records if "/queue" in r.getMessage()]  # noqa: E731
        await wait_for(client, lambda _b: len(probes()) >= 2, "probed the worker's /queue twice")
        with pytest.raises(BackendApiError):
            await client.toggle_backend(7, False)  # a refusal
    lines = [(r.levelno, r.name, r.getMessage()) for r in caplog.records]

    def at(level: int, *words: str) -> list[str]:
        return [m for lv, _n, m in lines if lv == level and all(w in m for w in words)]

    # polls and probes: all DEBUG
    assert probes() and all(r.levelno == logging.DEBUG for r in probes())
    assert at(logging.DEBUG, "/API/ListBackends") and not at(logging.INFO, "/API/ListBackends")
    assert not at(logging.INFO, "/API/GetNewSession") and not at(logging.INFO, "HTTP Request")
    # changes and refusals: INFO
    assert at(logging.INFO, "/API/AddNewBackend") and at(logging.INFO, "/API/EditBackend")
    assert at(logging.INFO, "route togglebackend refused: Invalid backend ID 7")


async def test_a_new_backend_saved_with_its_defaults_is_kept_and_says_not_set_up_yet(client: RemoteService) -> None:
    """Issue 12 item 12: SwarmUI's web UI saves a new card with its defaults right away; `serve` refused it
    ("StartScript is empty: …") and the save, title included, was lost."""
    added = await client.add_backend("comfyui_selfstart")
    saved = await client.edit_backend(added.id, "Card from the web UI", dict(added.settings))
    assert saved.title == "Card from the web UI" and saved.modcount == added.modcount + 1
    listed = (await client.list_backends())[added.id]
    assert listed.title == "Card from the web UI" and listed.status is BackendStatus.ERRORED
    assert listed.status_message == "Not set up yet: StartScript is empty: set it to the main.py of your ComfyUI folder."


async def test_serve_tells_each_workers_port_page_and_queue_with_full_data(
    box: tuple[LocalService, ServeRunner], client: RemoteService, tmp_path: Path,
) -> None:
    """Issue 14 items 5 and 6: the laptop's app shows the box's workers' queues and can open their pages."""
    local, _srv = box
    main = tmp_path / "ComfyUI" / "main.py"
    main.parent.mkdir()
    shutil.copy(FAKE_COMFY, main)
    added = await client.add_backend("comfyui_selfstart")
    await client.edit_backend(added.id, "", {"StartScript": str(main), "Python": sys.executable,
                                             "ExtraArgs": "--queue-running 2 --queue-pending 5"})
    backends = await wait_for(client, lambda b: b[added.id].queue() is not None, "showing its queue")
    worker = backends[added.id]
    port = local.details(added.id).port
    assert worker.queue() == (2, 5) and worker.worker_port() == port
    assert worker.worker_url() == f"http://127.0.0.1:{port}" and worker.worker_listens_all() is False
    # a SwarmUI client asking without full data gets SwarmUI's keys only
    plain = (await client.list_backends(full_data=False))[added.id]
    assert plain.queue() is None and plain.worker_port() is None and plain.worker_url() is None
