"""``backend-manager-gui serve`` as a real process: what it prints, what it refuses, how it stops.

Run as ``python -X importtime -m backend_manager_gui serve --port 0 --data-dir <tmp>``: the import log proves
that the headless path never loads Qt, the banner gives the real port, and SIGTERM must leave no worker behind.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from backend_manager_gui.core.errors import BackendApiError
from backend_manager_gui.core.models import BackendStatus
from backend_manager_gui.core.remote import RemoteService

REPO = Path(__file__).resolve().parents[2]
FAKE_COMFY = REPO / "tests" / "support" / "fake_comfy.py"
TOKEN = "subprocess-serve-token-9b27e1c4d0"

def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"  # no desktop keyring: the owner-only file
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Serve:
    """One ``serve`` child process; ``url`` is read from its banner."""

    def __init__(self, proc: asyncio.subprocess.Process, url: str, banner: str) -> None:
        self.proc = proc
        self.url = url
        self.banner = banner
        self.stderr = b""

    async def stop(self, sig: int = signal.SIGTERM, deadline: float = 30.0) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        _, self.stderr = await asyncio.wait_for(self.proc.communicate(), deadline)
        assert self.proc.returncode is not None
        return self.proc.returncode


async def start_serve(*args: str, deadline: float = 30.0) -> Serve:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-X", "importtime", "-m", "backend_manager_gui", "serve", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(), cwd=str(REPO),
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), deadline)
    except TimeoutError:
        proc.kill()
        await proc.communicate()
        raise
    text = line.decode("utf-8", "replace")
    match = re.search(r"on (http://127\.0\.0\.1:\d+) ", text)
    if match is None:
        _, err = await proc.communicate()
        raise AssertionError(f"no banner; stdout {text!r}; stderr tail {err.decode(errors='replace')[-2000:]}")
    return Serve(proc, match.group(1), text)


async def run_serve_expecting_exit(*args: str, deadline: float = 30.0) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend_manager_gui", "serve", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(), cwd=str(REPO),
    )
    out, err = await asyncio.wait_for(proc.communicate(), deadline)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Serve]:
    srv = await start_serve("--port", "0", "--data-dir", str(tmp_path / "box"))
    try:
        yield srv
    finally:
        if srv.proc.returncode is None:
            srv.proc.kill()
            await srv.proc.communicate()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.skipif(os.name == "nt", reason="SIGTERM is POSIX's (a service manager's stop); Windows has no such signal")
async def test_serve_process_serves_every_route_and_sigterm_stops_its_workers(serve: Serve) -> None:
    assert "Serving this computer's backends on http://127.0.0.1:" in serve.banner
    port = serve.url.rsplit(":", 1)[1]
    assert f"ssh -L {port}:127.0.0.1:{port} host" in serve.banner
    assert "SwarmUI server" in serve.banner

    command = shlex.join([sys.executable, str(FAKE_COMFY), "--port", "{port}"])
    async with RemoteService(serve.url) as client:
        assert "command" in {t.id for t in await client.list_backend_types()}
        for n in range(2):
            await client.add_backend("command")
            await client.edit_backend(n, f"worker {n}", {"Command": command,
                                                         "HealthURL": "http://127.0.0.1:{port}/system_stats",
                                                         "FreeMemoryURL": "http://127.0.0.1:{port}/free"})
        loop = asyncio.get_running_loop()
        end = loop.time() + 30
        while True:
            backends = await client.list_backends()
            if len(backends) == 2 and all(b.status is BackendStatus.RUNNING for b in backends.values()):
                break
            assert loop.time() < end, {i: (b.status, b.status_message) for i, b in backends.items()}
            await asyncio.sleep(0.2)
        assert await client.free_memory(system_ram=True) == 2
        assert await client.toggle_backend(1, False) is True
        assert await client.toggle_backend(1, True) is True
        assert await client.restart_backends(0) == 1
        with pytest.raises(BackendApiError, match="Invalid backend ID 7"):
            await client.toggle_backend(7, True)
        end = loop.time() + 30
        while True:
            backends = await client.list_backends()
            if all(b.status is BackendStatus.RUNNING for b in backends.values()):
                break
            assert loop.time() < end
            await asyncio.sleep(0.2)

    workers = [c.pid for c in psutil.Process(serve.proc.pid).children(recursive=True)]
    assert len(workers) >= 2 and all(_alive(p) for p in workers)

    rc = await serve.stop(signal.SIGTERM)
    assert rc == 0
    loop = asyncio.get_running_loop()
    end = loop.time() + 5
    while any(_alive(p) for p in workers) and loop.time() < end:
        await asyncio.sleep(0.1)
    assert not any(_alive(p) for p in workers), "a worker outlived serve"

    stderr = serve.stderr.decode("utf-8", "replace")
    imported = {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}
    assert "backend_manager_gui.core.server" in imported and "backend_manager_gui.core.local.manager" in imported
    assert not {m for m in imported if m.split(".")[0] in ("PySide6", "shiboken6", "qasync")}, "serve imported Qt"
    assert not {m for m in imported if m.startswith("backend_manager_gui.gui")}


@pytest.mark.skipif(os.name == "nt", reason="a Ctrl+C in serve's console cannot be sent from here on Windows "
                                             "(it needs the same console): POSIX systems only")
async def test_sigint_stops_serve_cleanly(serve: Serve) -> None:
    async with RemoteService(serve.url) as client:
        await client.add_backend("command")
        await client.edit_backend(0, "w", {"Command": shlex.join([sys.executable, str(FAKE_COMFY), "--port", "{port}"]),
                                           "HealthURL": "http://127.0.0.1:{port}/system_stats"})
        loop = asyncio.get_running_loop()
        end = loop.time() + 30
        while (await client.list_backends())[0].status is not BackendStatus.RUNNING:
            assert loop.time() < end
            await asyncio.sleep(0.2)
    workers = [c.pid for c in psutil.Process(serve.proc.pid).children(recursive=True)]
    assert workers
    assert await serve.stop(signal.SIGINT) == 0
    assert "Traceback" not in serve.stderr.decode(errors="replace")
    end = asyncio.get_running_loop().time() + 5
    while any(_alive(p) for p in workers) and asyncio.get_running_loop().time() < end:
        await asyncio.sleep(0.1)
    assert not any(_alive(p) for p in workers)


async def test_a_non_loopback_address_without_a_token_is_refused(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "192.168.1.20"):
        rc, out, err = await run_serve_expecting_exit("--host", host, "--port", "0", "--data-dir", str(tmp_path / "d"))
        assert rc == 2, (out, err)
        assert "Refusing to listen" in err and "--token-file" in err and "ssh -L" in err
        assert "Serving" not in out and "Traceback" not in err
    assert not (tmp_path / "d" / "backends.json").exists()  # nothing was started


async def test_token_file_problems_are_refused_clearly(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    rc, _, err = await run_serve_expecting_exit("--token-file", str(missing), "--port", "0")
    assert rc == 2 and "does not exist" in err and "Traceback" not in err
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    rc, _, err = await run_serve_expecting_exit("--token-file", str(empty), "--port", "0")
    assert rc == 2 and "is empty" in err
    spaced = tmp_path / "spaced.txt"
    spaced.write_text("two words\n")
    rc, _, err = await run_serve_expecting_exit("--token-file", str(spaced), "--port", "0")
    assert rc == 2 and "without spaces" in err and "two words" not in err


@pytest.mark.skipif(os.name == "nt", reason="a file readable by others is a POSIX mode (Windows uses ACLs)")
async def test_serve_with_a_token_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token.txt"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o644)  # readable by others: served, with a warning
    srv = await start_serve("--port", "0", "--data-dir", str(tmp_path / "box"), "--token-file", str(token_file))
    try:
        async with RemoteService(srv.url) as anonymous:
            with pytest.raises(BackendApiError, match="requires a token"):
                await anonymous.list_backends()
        async with RemoteService(srv.url, token="not-the-token") as wrong:
            with pytest.raises(BackendApiError, match="refused the token"):
                await wrong.list_backends()
        async with RemoteService(srv.url, token=TOKEN) as right:
            assert await right.list_backends() == {}
            assert (await right.add_backend("comfyui_api")).id == 0
    finally:
        assert await srv.stop() == 0
    err = srv.stderr.decode(errors="replace")
    assert "can be read by other users" in err and "chmod 600" in err
    assert TOKEN not in err and TOKEN not in srv.banner
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o644  # serve never changes the user's file


async def test_a_busy_port_is_reported_not_a_traceback(serve: Serve, tmp_path: Path) -> None:
    port = serve.url.rsplit(":", 1)[1]
    rc, out, err = await run_serve_expecting_exit("--port", port, "--data-dir", str(tmp_path / "other"))
    assert rc == 1 and f"cannot listen on 127.0.0.1:{port}" in err and "Traceback" not in err
