"""The real xcb platform plugin, once, on a virtual X screen (Xvfb): the app opens its window there.

Every other GUI test runs offscreen, which needs none of the X libraries a desktop user's machine must have.
`.ci/run` installs Xvfb, xwininfo and the xcb runtime libraries the README's "Start it" names, so this runs in CI.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend_manager_gui import qt_preflight

needs = [tool for tool in ("Xvfb", "xwininfo") if shutil.which(tool) is None]
pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 (xcb) is the Linux desktop platform"),
    pytest.mark.skipif(bool(needs), reason=f"{' and '.join(needs)} not installed here (.ci/run installs them)"),
]


def _free_display() -> str:
    for n in range(140, 200):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return f":{n}"
    raise RuntimeError("no free X display number")


def _windows(display: str) -> str:
    return subprocess.run(["xwininfo", "-root", "-tree"], env={**os.environ, "DISPLAY": display},
                          capture_output=True, text=True, timeout=10, check=False).stdout


def test_the_window_opens_on_a_real_x_screen(tmp_path: Path):
    display = _free_display()
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    app = None
    try:
        deadline = time.monotonic() + 30  # waiting for outside processes, not timing the product
        while subprocess.run(["xwininfo", "-root"], env={**os.environ, "DISPLAY": display},
                             capture_output=True, check=False).returncode != 0:
            assert time.monotonic() < deadline, "Xvfb did not start"
            time.sleep(0.1)
        env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM_PLUGIN_PATH")}
        env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
        missing = qt_preflight.check(env)
        assert missing is None, missing  # .ci/run installed what README's "Start it" names
        app = subprocess.Popen([sys.executable, "-m", "backend_manager_gui", "--data-dir", str(tmp_path / "data")],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while "Backend Manager" not in _windows(display):
            assert app.poll() is None, f"the app exited with {app.returncode}: {app.stdout.read() if app.stdout else ''}"
            assert time.monotonic() < deadline, "no Backend Manager window appeared on the X screen"
            time.sleep(0.2)
    finally:
        if app is not None and app.poll() is None:
            app.send_signal(signal.SIGTERM)
            try:
                app.wait(15)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait()
        xvfb.terminate()
        xvfb.wait(10)
