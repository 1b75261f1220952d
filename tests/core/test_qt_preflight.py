"""Issue 12.1: a missing system library for Qt's platform plugin is named, with the packages to install, before Qt aborts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backend_manager_gui import qt_preflight

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("ldd") is None,
                                reason="the platform-plugin check reads ELF dependencies with ldd (Linux only)")


def _pyside_dir() -> Path:
    import PySide6

    return Path(PySide6.__file__).parent


def _plugin_needing(tmp_path: Path, real: bytes, absent: bytes) -> Path:
    """A copy of the real xcb plugin whose dependency ``real`` is renamed to ``absent`` (same length): a library
    that exists nowhere, so the loader cannot find it, whatever this machine has installed."""
    assert len(real) == len(absent)
    data = (_pyside_dir() / "Qt" / "plugins" / "platforms" / "libqxcb.so").read_bytes()
    assert real + b"\0" in data
    folder = tmp_path / "platforms"
    folder.mkdir()
    (folder / "libqxcb.so").write_bytes(data.replace(real + b"\0", absent + b"\0"))
    return folder


def _env(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("WAYLAND_DISPLAY", None)
    env.update(QT_QPA_PLATFORM="xcb", DISPLAY=":93", QT_QPA_PLATFORM_PLUGIN_PATH=str(folder),
               # the copy lives outside PySide6, so its $ORIGIN runpath no longer finds Qt's own libraries
               LD_LIBRARY_PATH=str(_pyside_dir() / "Qt" / "lib"))
    return env


def test_the_app_names_the_missing_library_and_its_packages_then_exits_1(tmp_path: Path):
    folder = _plugin_needing(tmp_path, b"libxcb-keysyms.so.1", b"libxcb-keysyms.so.7")
    proc = subprocess.run([sys.executable, "-m", "backend_manager_gui", "--data-dir", str(tmp_path / "data")],
                          env=_env(folder), capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1, proc.stderr  # before the fix: Qt aborted (SIGABRT) blaming xcb-cursor0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr  # one clear line
    line = lines[0]
    assert "libxcb-keysyms.so.7" in line
    assert "apt install" in line and "libxcb-keysyms1" in line  # Debian/Ubuntu
    assert "dnf install" in line and "xcb-util-keysyms" in line  # Fedora
    assert "xcb-cursor" not in line  # not Qt's misleading guess
    assert not (tmp_path / "data").exists()  # it stopped before opening anything


def test_nothing_to_say_when_the_plugin_has_all_it_needs_or_is_not_used(tmp_path: Path):
    real = _pyside_dir() / "Qt" / "plugins" / "platforms"
    offscreen = {"QT_QPA_PLATFORM": "offscreen", "QT_QPA_PLATFORM_PLUGIN_PATH": str(real)}
    assert qt_preflight.check(offscreen) is None  # offscreen needs nothing outside PySide6
    # the offscreen plugin, which needs no X libraries, passes the same ldd check as a whole plugin would
    assert qt_preflight.missing_libraries(real / "libqoffscreen.so") == []


def test_an_unknown_library_is_named_as_itself():
    hint = qt_preflight.install_hint(["libxcb-icccm.so.4", "libfoo-bar.so.2"])
    assert "libxcb-icccm4" in hint and "xcb-util-wm" in hint
    assert "libfoo-bar.so.2" in hint


def test_which_plugin_qt_tries_first():
    assert qt_preflight.platform_name({}) == "xcb"
    assert qt_preflight.platform_name({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}) == "wayland"
    assert qt_preflight.platform_name({"QT_QPA_PLATFORM": "wayland;xcb"}) == "wayland"
    assert qt_preflight.platform_name({"QT_QPA_PLATFORM": "offscreen"}) == "offscreen"


def test_a_complete_plugin_is_remembered_until_it_or_the_loader_path_changes(tmp_path: Path):
    """The ldd run (~15-25 ms) is paid once per plugin: a start after that compares the plugin's size and time, the
    loader's cache and LD_LIBRARY_PATH with what was remembered. A plugin that lacks something is never remembered."""
    folder = tmp_path / "platforms"
    folder.mkdir()
    plugin = folder / "libqxcb.so"
    whole = (_pyside_dir() / "Qt" / "plugins" / "platforms" / "libqxcb.so").read_bytes()
    lacking = whole.replace(b"libxcb-keysyms.so.1\0", b"libxcb-keysyms.so.7\0")
    assert len(lacking) == len(whole) and lacking != whole
    env = _env(folder)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    remembered = tmp_path / "cache" / "BackendManager" / "qt-preflight"

    plugin.write_bytes(lacking)
    assert "libxcb-keysyms.so.7" in (qt_preflight.check(env) or "")
    assert not remembered.exists()  # a plugin that lacks something is looked at again every time

    plugin.write_bytes(whole)
    assert qt_preflight.check(env) is None
    assert remembered.is_file()
    # the same file, so far as its size and time tell: the remembered answer stands, ldd is not asked
    stat = plugin.stat()
    plugin.write_bytes(lacking)
    os.utime(plugin, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert qt_preflight.check(env) is None
    # anything the answer depends on changes: it is asked again, and the missing library is named
    os.utime(plugin, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert "libxcb-keysyms.so.7" in (qt_preflight.check(env) or "")
    plugin.write_bytes(whole)
    assert qt_preflight.check(env) is None
    assert qt_preflight.check({**env, "LD_LIBRARY_PATH": env["LD_LIBRARY_PATH"] + os.pathsep + str(tmp_path)}) is None
    assert remembered.read_text(encoding="utf-8").endswith(str(tmp_path))  # remembered with the new path
