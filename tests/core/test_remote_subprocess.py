"""The fake SwarmUI as a child process, killed and restarted on the same port, and TLS set-up with a broken
SSL_CERT_FILE: the same RemoteService object reports "cannot reach" and then works again."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from backend_manager_gui.core.errors import BackendApiError, ServiceUnavailable
from backend_manager_gui.core.remote import RemoteService
from tests.support.fake_swarm import FakeSwarm

ROOT = Path(__file__).resolve().parents[2]


async def _start_fake(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.fake_swarm", *args,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
    prefix = "FAKE_SWARM_URL "
    assert line.decode().startswith(prefix), line
    return proc, line.decode()[len(prefix):].strip()


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
    await proc.wait()


async def test_killed_and_restarted_server_same_service_recovers() -> None:
    proc, url = await _start_fake("--port", "0", "--backends", "2", "--expire-every", "5")
    port = url.rsplit(":", 1)[1]
    try:
        async with RemoteService(url) as service:
            assert list(await service.list_backends()) == [0, 1]
            await _kill(proc)
            with pytest.raises(ServiceUnavailable) as err:
                await service.list_backends()
            assert str(err.value).startswith(f"Cannot reach {url}:")
            proc, again = await _start_fake("--port", port, "--backends", "3")
            assert again == url
            # the new process knows none of the old sessions: renewed silently
            assert list(await service.list_backends()) == [0, 1, 2]
    finally:
        await _kill(proc)


async def test_subprocess_switches_apply(tmp_path: Path) -> None:
    proc, url = await _start_fake("--token", "tok-1", "--locked", "--backends", "1")
    try:
        async with RemoteService(url, token="tok-1") as service:
            assert list(await service.list_backends()) == [0]
            with pytest.raises(BackendApiError, match=r"^Settings are locked\.$"):
                await service.toggle_backend(0, False)
    finally:
        await _kill(proc)


async def test_https_url_with_broken_ssl_cert_file_is_unavailable_not_a_crash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "missing-dir"))
    async with FakeSwarm() as fake:
        https_url = f"https://127.0.0.1:{fake.port}"  # the fake speaks plain http: the TLS handshake fails
        async with RemoteService(https_url, timeout=5) as service:
            with pytest.raises(ServiceUnavailable) as err:
                await service.list_backends()
        assert str(err.value) == f"Cannot reach {https_url}: the secure (https) connection could not be set up."
        assert fake.new_sessions == 0
