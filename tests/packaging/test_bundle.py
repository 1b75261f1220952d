"""Build the Linux bundle with packaging/build.py and start what a user downloads (the .tar.gz), not the venv.

On demand only (slow: a full PyInstaller build): ``python -m pytest -m packaging tests/packaging``. The window test
runs the bundle on a real X server (Xvfb) through Qt's xcb plugin, the path a Linux desktop takes, and closes it
with Ctrl+Q as a person would: needs ``Xvfb`` and ``xdotool`` (``apt-get install xvfb xdotool``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend_manager_gui import __version__

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "packaging" / "dist"
TOP = f"backend-manager-gui-{__version__}"


def _bare_env(**extra: str) -> dict[str, str]:
    """An environment that cannot reach the venv: the bundle must bring its own Python and Qt."""
    keep = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "LC_ALL", "TMPDIR", "USER")}
    return {"PATH": "/usr/bin:/bin", **keep, **extra}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """packaging/build.py run once; the .tar.gz unpacked into a temporary folder; the folder it made."""
    assert sys.platform.startswith("linux"), "this test builds and starts the Linux bundle"
    subprocess.run([sys.executable, str(ROOT / "packaging" / "build.py"), "--no-clean"], check=True, cwd=ROOT, timeout=900)
    archives = sorted(DIST.glob(f"{TOP}-linux-*.tar.gz"))
    assert len(archives) == 1, archives
    target = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(archives[0]) as tar:
        tar.extractall(target, filter="tar")
    return target / TOP


def test_archive_holds_the_app_its_menu_entry_metainfo_and_icons(bundle: Path) -> None:
    assert os.access(bundle / "backend-manager-gui", os.X_OK)
    assert (bundle / "share/applications/backend-manager-gui.desktop").read_text().count("Exec=backend-manager-gui") == 1
    assert f'version="{__version__}"' in (bundle / "share/metainfo/io.github.backend_manager_gui.metainfo.xml").read_text()
    assert (bundle / "share/icons/hicolor/256x256/apps/backend-manager-gui.png").read_bytes()[:4] == b"\x89PNG"
    # the app finds its own icons inside the bundle (paths.resources_dir() under _MEIPASS)
    assert (bundle / "_internal/backend_manager_gui/_resources/app.svg").is_file()


def test_unpacked_bundle_prints_its_version_offscreen(bundle: Path) -> None:
    result = subprocess.run([str(bundle / "backend-manager-gui"), "--version"], capture_output=True, text=True,
                            env=_bare_env(QT_QPA_PLATFORM="offscreen"), timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"backend-manager-gui {__version__}"


def test_bundle_runs_the_orphan_watchdog_that_kills_workers_when_the_manager_dies(bundle: Path) -> None:
    """The local manager starts ``sys.executable -I -c <watchdog>``; in the bundle sys.executable is the app."""
    from backend_manager_gui.core.local.process import _WATCHDOG

    worker = subprocess.Popen(["sleep", "60"], start_new_session=True)  # a worker in its own process group
    try:
        watchdog = subprocess.Popen([str(bundle / "backend-manager-gui"), "-I", "-c", _WATCHDOG],
                                    stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=_bare_env())
        assert watchdog.stdin is not None
        watchdog.stdin.write(f"+{worker.pid}\n".encode())
        watchdog.stdin.flush()
        assert worker.poll() is None
        watchdog.stdin.close()  # what the OS does when the manager dies, however it dies
        assert watchdog.wait(timeout=30) == 0, watchdog.stderr.read() if watchdog.stderr else ""
        assert worker.wait(timeout=10) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_install_script_puts_the_command_and_menu_entry_in_the_users_home(bundle: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    result = subprocess.run(["sh", str(bundle / "install.sh")], capture_output=True, text=True,
                            env=_bare_env(HOME=str(home)), timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"Backend Manager {__version__} installed" in result.stdout
    command = home / ".local/bin/backend-manager-gui"
    version = subprocess.run([str(command), "--version"], capture_output=True, text=True,
                             env=_bare_env(HOME=str(home), QT_QPA_PLATFORM="offscreen"), timeout=60)
    assert version.stdout.strip() == f"backend-manager-gui {__version__}"
    desktop = (home / ".local/share/applications/backend-manager-gui.desktop").read_text()
    assert f"Exec={home}/.local/opt/backend-manager-gui/backend-manager-gui" in desktop
    assert (home / ".local/share/icons/hicolor/256x256/apps/backend-manager-gui.png").is_file()

    removed = subprocess.run(["sh", str(bundle / "install.sh"), "--uninstall"], capture_output=True, text=True,
                             env=_bare_env(HOME=str(home)), timeout=60)
    assert removed.returncode == 0 and not command.exists() and not (home / ".local/opt/backend-manager-gui").exists()


@pytest.fixture
def x_display() -> Iterator[str]:
    """A fresh Xvfb screen (no window manager), stopped afterwards."""
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    assert not missing, f"the window test needs {' and '.join(missing)}: apt-get install xvfb xdotool"
    number = next(n for n in range(140, 200) if not Path(f"/tmp/.X{n}-lock").exists())
    display = f":{number}"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        assert server.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
        time.sleep(0.05)
    yield display
    server.terminate()
    server.wait(timeout=10)


def test_bundle_opens_its_main_window_on_x11_and_ctrl_q_closes_it(bundle: Path, x_display: str, tmp_path: Path) -> None:
    env = _bare_env(DISPLAY=x_display, QT_QPA_PLATFORM="xcb", HOME=str(tmp_path),
                    XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    data_dir = tmp_path / "backends"
    app = subprocess.Popen([str(bundle / "backend-manager-gui"), "--data-dir", str(data_dir)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # --sync waits until a visible window with that title exists (the title says where it is connected)
        found = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", "Backend Manager$"],
                               capture_output=True, text=True, env=env, timeout=90)
        window = found.stdout.split()[0]
        title = subprocess.run(["xdotool", "getwindowname", window], capture_output=True, text=True, env=env).stdout
        # the title says where it is connected, then the app's name, once
        assert title.strip() == "this computer — Backend Manager", title
        assert app.poll() is None
        # no window manager on Xvfb: give the window keyboard focus ourselves, then press Ctrl+Q
        subprocess.run(["xdotool", "windowfocus", "--sync", window], check=True, env=env, timeout=30)
        subprocess.run(["xdotool", "key", "--clearmodifiers", "ctrl+q"], check=True, env=env, timeout=30)
        try:
            app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass  # reported below, with what the app printed
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    assert app.stdout is not None
    output = app.stdout.read()
    assert app.returncode == 0, f"Ctrl+Q did not close the window (exit {app.returncode}); the app printed:\n{output}"
    # nothing went wrong on the way: no Python traceback, no Qt plugin that failed to load
    assert "Traceback" not in output and "Could not load" not in output and "not found" not in output, output
    assert data_dir.is_dir()  # the embedded manager really opened its data folder


def test_bundled_serve_supervises_a_real_worker(bundle: Path, tmp_path: Path) -> None:
    """The bundle's own `serve` (aiohttp) and local manager (httpx probes, psutil tree kill), all imported lazily
    in the product, really work frozen: a worker added over the API runs, frees memory and is stopped."""
    import asyncio
    import socket

    import psutil

    from backend_manager_gui.core.remote import RemoteService

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fake = ROOT / "tests" / "support" / "fake_comfy.py"
    server = subprocess.Popen([str(bundle / "backend-manager-gui"), "serve", "--port", str(port), "--data-dir", str(tmp_path / "box")],
                              env=_bare_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    async def scenario() -> int:
        async with RemoteService(f"http://127.0.0.1:{port}", timeout=5.0) as svc:
            for _ in range(200):
                try:
                    await svc.list_backends()
                    break
                except Exception:
                    await asyncio.sleep(0.1)
            b = await svc.add_backend("command")
            await svc.edit_backend(b.id, "frozen", {
                "Command": f"{sys.executable} {fake} --port {{port}}",
                "HealthURL": "http://127.0.0.1:{port}/system_stats",
                "FreeMemoryURL": "http://127.0.0.1:{port}/free",
            })
            for _ in range(300):
                backend = (await svc.list_backends())[b.id]
                if backend.status.value == "running":
                    break
                await asyncio.sleep(0.1)
            assert backend.status.value == "running", backend.status_message
            assert await svc.free_memory() == 1
            worker_pids = [p.pid for p in psutil.Process(server.pid).children(recursive=True)
                           if "fake_comfy" in " ".join(p.cmdline())]
            assert worker_pids
            assert await svc.delete_backend(b.id) is True
            return worker_pids[0]

    try:
        pid = asyncio.run(scenario())
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert server.returncode == 0, out
    assert "Traceback" not in out, out
