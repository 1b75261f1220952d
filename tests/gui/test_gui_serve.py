"""The app on the laptop manages a headless GPU box: File → Connect… → SwarmUI server → a ``serve`` process.

The box is a real ``backend-manager-gui serve`` child process with a token file and a real worker
(tests/support/fake_comfy.py); the window is the real MainWindow, driven through its Connect dialog.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.models import BackendStatus
from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.gui.backends_model import Column
from backend_manager_gui.gui.connections import ConnectDialog, ConnectionKind, ConnectionProfile
from backend_manager_gui.gui.main_window import MainWindow
from tests.gui.conftest import run
from tests.gui.window_helpers import row_text, status_text, temp_settings, until

REPO = Path(__file__).resolve().parents[2]
FAKE_COMFY = REPO / "tests" / "support" / "fake_comfy.py"
TOKEN = "gui-serve-token-5d1e0b7a93c2"


class Box:
    """A ``serve`` child process: the headless GPU box."""

    def __init__(self, data_dir: Path, token_file: Path) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "backend_manager_gui", "serve", "--port", "0", "--data-dir", str(data_dir),
             "--token-file", str(token_file)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=str(REPO), text=True,
        )
        assert self.proc.stdout is not None
        banner = self.proc.stdout.readline()  # serve prints its banner once it listens (or exits)
        match = re.search(r"(\d+):127\.0\.0\.1:\1", banner)
        assert match, f"no banner from serve: {banner!r}"
        self.url = f"http://127.0.0.1:{match.group(1)}"

    def worker_pids(self) -> list[int]:
        """The box's fake ComfyUI workers (serve has other helpers, e.g. its orphan guard)."""
        out = []
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                if any(part.endswith("fake_comfy.py") for part in child.cmdline()):
                    out.append(child.pid)
            except psutil.Error:  # gone meanwhile
                pass
        return out

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def box(loop, tmp_path: Path) -> Iterator[Box]:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    b = Box(tmp_path / "box", token_file)
    try:
        # the box already runs one worker, set up over the API
        async def setup() -> None:
            async with RemoteService(b.url, token=TOKEN) as svc:
                await svc.add_backend("command")
                await svc.edit_backend(0, "Box GPU 0", {
                    "Command": shlex.join([sys.executable, str(FAKE_COMFY), "--port", "{port}"]),
                    "HealthURL": "http://127.0.0.1:{port}/system_stats",
                })
                while (await svc.list_backends())[0].status is not BackendStatus.RUNNING:
                    await asyncio.sleep(0.1)

        run(loop, setup(), timeout=30)
        yield b
    finally:
        assert b.stop() == 0


def test_the_window_connects_to_serve_and_changes_its_backends(loop, qtbot, box: Box, tmp_path: Path) -> None:
    laptop = LocalService(tmp_path / "laptop")  # the app opens on this (empty) computer first
    run(loop, laptop.start())
    win = MainWindow(laptop, settings=temp_settings(tmp_path),
                     profile=ConnectionProfile(ConnectionKind.LOCAL, str(tmp_path / "laptop")),
                     poll_interval=0.3, max_poll_interval=1.0)
    qtbot.addWidget(win)
    win.show()
    try:
        until(loop, lambda: "Connected" in status_text(win), what="the local manager to be shown")
        assert win.backends_model.rowCount() == 0

        # File → Connect… → SwarmUI server, the box's URL and its token
        win.act_connect.trigger()
        until(loop, lambda: _dialog() is not None, what="the Connect dialog")
        dialog = _dialog()
        assert dialog is not None
        dialog.server_radio.setChecked(True)
        dialog.url_edit.setText(box.url)
        dialog.token_edit.setText(TOKEN)
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)

        # the box's backend shows up, running
        until(loop, lambda: win.backends_model.rowCount() == 1, timeout=15, what="the box's backend")
        until(loop, lambda: row_text(win, 0, Column.STATUS) == "Running", what="Running")
        assert row_text(win, 0, Column.TITLE) == "Box GPU 0"
        until(loop, lambda: status_text(win).startswith(f"Connected to {box.url}"), what="the status bar")
        assert "1 running" in status_text(win)
        assert not win.is_embedded  # a server: no local worker details
        workers = box.worker_pids()
        assert len(workers) == 1 and _alive(workers[0])

        # the Log dock follows the box's worker: its own output, read over ListRecentLogMessages
        win.select_backends([0])
        until(loop, lambda: _worker_starts(win) == 1, timeout=15, what="the worker's output in the Log dock")
        assert "Box GPU 0 (#0)" in win.log_dock.source_label.text() and box.url in win.log_dock.source_label.text()
        assert win.log_dock.reason == ""

        # disabling it in the window stops the worker process on the box
        until(loop, lambda: win.act_toggle.isEnabled() and win.act_toggle.text() == "Disable", what="Disable")
        win.act_toggle.trigger()
        until(loop, lambda: row_text(win, 0, Column.STATUS) == "Disabled", timeout=15, what="Disabled")
        until(loop, lambda: not any(_alive(p) for p in workers), timeout=15, what="the worker to stop")

        # and enabling it starts a new one
        until(loop, lambda: win.act_toggle.isEnabled() and win.act_toggle.text() == "Enable", what="Enable")
        win.act_toggle.trigger()
        until(loop, lambda: row_text(win, 0, Column.STATUS) == "Running", timeout=20, what="Running again")
        assert box.worker_pids() and set(box.worker_pids()).isdisjoint(workers)
        # the new worker's first line follows the old one's, each once
        until(loop, lambda: _worker_starts(win) == 2, timeout=15, what="the new worker's output")
        pids = [int(m) for m in re.findall(r"fake_comfy pid=(\d+)", win.log_dock.text.toPlainText())]
        assert pids == [workers[0], box.worker_pids()[0]]
    finally:
        run(loop, win.shutdown())
        run(loop, laptop.aclose())


def _worker_starts(win: MainWindow) -> int:
    """How many times the Log dock shows a fake worker's first line ("fake_comfy pid=…")."""
    return win.log_dock.text.toPlainText().count("fake_comfy pid=")


def _dialog() -> ConnectDialog | None:
    for w in QApplication.topLevelWidgets():
        if isinstance(w, ConnectDialog) and w.isVisible():
            return w
    return None


def test_over_serve_the_queue_and_an_openable_url_with_the_tunnel_hint(loop, qtbot, box: Box, tmp_path: Path) -> None:
    """Issue 14 items 5 and 6 through a real serve process: its ComfyUI's queue in the Queue column, and each
    worker's page as the laptop can open it (serve is reached on 127.0.0.1 here: the same computer or a tunnel)."""
    main = tmp_path / "ComfyUI" / "main.py"
    main.parent.mkdir()
    main.write_bytes(FAKE_COMFY.read_bytes())

    async def add_comfy() -> None:
        async with RemoteService(box.url, token=TOKEN) as svc:
            added = await svc.add_backend("comfyui_selfstart")
            await svc.edit_backend(added.id, "Box ComfyUI", {"StartScript": str(main), "Python": sys.executable,
                                                             "ExtraArgs": "--queue-running 1 --queue-pending 4"})

    run(loop, add_comfy())
    remote = RemoteService(box.url, token=TOKEN)
    win = MainWindow(remote, settings=temp_settings(tmp_path), poll_interval=0.3, max_poll_interval=1.0)
    qtbot.addWidget(win)
    win.show()
    try:
        until(loop, lambda: win.backends_model.rowCount() == 2 and row_text(win, 1, Column.QUEUE) != "", timeout=20,
              what="the box's ComfyUI with its queue")
        assert row_text(win, 1, Column.QUEUE) == "1 running · 4 waiting"
        assert row_text(win, 0, Column.QUEUE) == ""  # a custom command has no ComfyUI queue
        for backend_id in (0, 1):
            url = row_text(win, backend_id, Column.URL)
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
            tip = win.backends_model.index(backend_id, Column.URL).data(Qt.ItemDataRole.ToolTipRole)
            port = url.rsplit(":", 1)[1]
            assert tip.endswith(f"ssh -N -L {port}:127.0.0.1:{port} you@gpu-box")
        assert not win.table.isColumnHidden(Column.URL) and not win.table.isColumnHidden(Column.QUEUE)
    finally:
        run(loop, win.shutdown())
