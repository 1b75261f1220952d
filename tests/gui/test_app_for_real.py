"""The app started for real, as a person starts it: ``python -m backend_manager_gui --server URL`` with the
token in ``SWARM_TOKEN``, in a process of its own (offscreen), against the fake SwarmUI that requires that token.
It connects with the token, shows the server's backends, and Ctrl+Q ends it with exit code 0."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.support.fake_swarm import FakeSwarm

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "swarm-token-for-real-5e1f"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SWARM_TOKEN", None)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT), HOME=str(home), USERPROFILE=str(home),
        XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"), XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"), LOCALAPPDATA=str(home / "localappdata"), APPDATA=str(home / "appdata"),
        # this test's own file keyring (tests/conftest.py), never the desktop's
        PYTHON_KEYRING_BACKEND="tests.support.file_keyring.FileKeyring",
    )
    env.update(extra)
    return env


async def _run_app(env: dict[str, str], *args: str, timeout: float = 120) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.gui.app_person", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode("utf-8", "replace")


async def test_server_and_swarm_token_started_for_real(tmp_path: Path) -> None:
    async with FakeSwarm(token=TOKEN, backends=3) as fake:
        code, output = await _run_app(_env(tmp_path, SWARM_TOKEN=TOKEN), "--server", fake.url, "--no-local")
        saw = next((json.loads(line.split(" ", 1)[1]) for line in output.splitlines() if line.startswith("PERSON_SAW ")), None)
        assert saw is not None, f"the window never said it was connected; the app printed:\n{output}"
        assert saw["title"] == f"{fake.url} — Backend Manager"
        assert saw["status"].startswith(f"Connected to {fake.url}") and saw["rows"] == 3
        # the server, which refuses a session without the token, handed them out: the token from the environment
        assert fake.new_sessions >= 1 and fake.last_cookies.get("swarm_token") == TOKEN
        assert fake.calls["listbackends"] >= 1
        assert code == 0, f"Ctrl+Q did not end the app cleanly (exit {code}):\n{output}"
        assert "Traceback" not in output, output
        assert TOKEN not in output  # never printed or logged


async def test_two_servers_and_this_computer_started_for_real(tmp_path: Path) -> None:
    """``--server A --server B``: both servers and this computer's manager in one window, as a person starts it."""
    async with FakeSwarm(token=TOKEN, backends=3) as first, FakeSwarm(token=TOKEN, backends=2) as second:
        code, output = await _run_app(_env(tmp_path, SWARM_TOKEN=TOKEN), "--server", first.url, "--server", second.url)
        saw = next((json.loads(line.split(" ", 1)[1]) for line in output.splitlines() if line.startswith("PERSON_SAW ")), None)
        assert saw is not None, f"the window never showed every connection; the app printed:\n{output}"
        assert saw["title"] == "3 connections — Backend Manager"
        assert saw["status"] == "3 connections — 5 running" and saw["rows"] == 5
        assert first.calls["listbackends"] >= 1 and second.calls["listbackends"] >= 1
        assert code == 0, f"Ctrl+Q did not end the app cleanly (exit {code}):\n{output}"
        assert "Traceback" not in output, output


async def test_without_the_token_the_server_refuses_and_the_app_says_so(tmp_path: Path) -> None:
    """The control: the same start without SWARM_TOKEN gets no session (so the test above does need the token)."""
    async with FakeSwarm(token=TOKEN, backends=3) as fake:
        env = _env(tmp_path)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.gui.app_person", "--server", fake.url, cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        try:
            deadline = asyncio.get_running_loop().time() + 60
            while fake.requests == 0 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # more tries, if it makes them, are refused the same way
            assert fake.requests >= 1 and fake.new_sessions == 0
            assert "swarm_token" not in fake.last_cookies
        finally:
            proc.kill()
            await proc.wait()
