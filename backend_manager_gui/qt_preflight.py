"""Before Qt opens a window on Linux: does the platform plugin find every shared library it needs?

When the xcb plugin cannot be loaded, Qt prints that "xcb-cursor0 or libxcb-cursor0 is needed" whatever is really
missing, then aborts. On a minimal Debian/Ubuntu desktop the missing ones were ``libxcb-icccm4`` and
``libxcb-keysyms1``. This module asks the system's dynamic loader (``ldd``) which libraries the plugin lacks and
turns them into one line naming the packages to install (Debian/Ubuntu and Fedora names). No Qt is imported here:
importing PySide6 is fine without a display, but this must run before a QApplication exists.

``ldd`` takes 13-25 ms (and importing ``subprocess`` 4 ms) on every start, a fifth of the time a bare PySide6
window takes to paint. So a plugin found complete is remembered in the user cache folder with what its answer
depends on (the plugin's path, size and time, the loader's cache ``/etc/ld.so.cache``, which the package manager
rewrites whenever it installs or removes a library, and ``LD_LIBRARY_PATH``); the next start only compares
those (docs/PERFORMANCE.md, P3). A plugin that lacks something is never remembered: it is looked at every time.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

#: soname stem (without ".so.N") → (Debian/Ubuntu package, Fedora package)
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-icccm": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-cursor": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-image": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util": ("libxcb-util1", "xcb-util"),
    "libxcb-shape": ("libxcb-shape0", "libxcb"),
    "libxcb-xkb": ("libxcb-xkb1", "libxcb"),
    "libxcb-randr": ("libxcb-randr0", "libxcb"),
    "libxcb-xfixes": ("libxcb-xfixes0", "libxcb"),
    "libxcb-shm": ("libxcb-shm0", "libxcb"),
    "libxcb-sync": ("libxcb-sync1", "libxcb"),
    "libxcb-xinerama": ("libxcb-xinerama0", "libxcb"),
    "libxcb-xinput": ("libxcb-xinput0", "libxcb"),
    "libxcb-render": ("libxcb-render0", "libxcb"),
    "libxcb-glx": ("libxcb-glx0", "libxcb"),
    "libxcb": ("libxcb1", "libxcb"),
    "libxkbcommon-x11": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon": ("libxkbcommon0", "libxkbcommon"),
    "libX11-xcb": ("libx11-xcb1", "libX11-xcb"),
    "libX11": ("libx11-6", "libX11"),
    "libSM": ("libsm6", "libSM"),
    "libICE": ("libice6", "libICE"),
    "libEGL": ("libegl1", "libglvnd-egl"),
    "libGL": ("libgl1", "libglvnd-glx"),
    "libOpenGL": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig": ("libfontconfig1", "fontconfig"),
    "libfreetype": ("libfreetype6", "freetype"),
    "libglib-2.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0": ("libglib2.0-0", "glib2"),
    "libdbus-1": ("libdbus-1-3", "dbus-libs"),
    "libwayland-client": ("libwayland-client0", "libwayland-client"),
    "libwayland-cursor": ("libwayland-cursor0", "libwayland-cursor"),
    "libwayland-egl": ("libwayland-egl1", "libwayland-egl"),
}

#: What the README's "Start it" names for the usual desktop (xcb) — the same table, kept in one place.
XCB_RUNTIME = ("libxcb-cursor", "libxcb-icccm", "libxcb-keysyms", "libxcb-image", "libxcb-render-util",
               "libxcb-shape", "libxcb-xkb", "libxkbcommon-x11", "libEGL", "libfontconfig", "libdbus-1")

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


def platform_name(environ: os._Environ[str] | dict[str, str] | None = None) -> str:
    """The platform plugin Qt will try first, as Qt 6 chooses it on Linux."""
    env = os.environ if environ is None else environ
    chosen = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen
    if env.get("XDG_SESSION_TYPE") == "wayland" and env.get("WAYLAND_DISPLAY"):
        return "wayland"
    return "xcb"


def plugin_dirs(environ: os._Environ[str] | dict[str, str] | None = None) -> list[Path]:
    """Where Qt looks for platform plugins: QT_QPA_PLATFORM_PLUGIN_PATH first, then PySide6's own."""
    env = os.environ if environ is None else environ
    dirs = [Path(p) for p in env.get("QT_QPA_PLATFORM_PLUGIN_PATH", "").split(os.pathsep) if p]
    spec = importlib.util.find_spec("PySide6")
    for root in (spec.submodule_search_locations or []) if spec else []:
        dirs.append(Path(root) / "Qt" / "plugins" / "platforms")
    return dirs


def missing_libraries(plugin: Path, environ: os._Environ[str] | dict[str, str] | None = None) -> list[str]:
    """The shared libraries the loader cannot find for ``plugin`` (empty when all are there, or ldd is absent),
    with ``environ``'s LD_LIBRARY_PATH (this process's environment by default)."""
    import shutil
    import subprocess

    ldd = shutil.which("ldd")
    if ldd is None or not plugin.is_file():
        return []
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=10, check=False,
                             env=None if environ is None else dict(environ)).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return list(dict.fromkeys(_NOT_FOUND.findall(out)))


#: What the loader's answer for a plugin depends on, besides the plugin itself.
_LOADER_CACHE = Path("/etc/ld.so.cache")


def _cache_file(environ: os._Environ[str] | dict[str, str]) -> Path:
    """Where a complete plugin is remembered: the user cache folder (platformdirs' on Linux, without its import)."""
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "BackendManager" / "qt-preflight"


def _fingerprint(plugin: Path, environ: os._Environ[str] | dict[str, str]) -> str | None:
    try:
        st = plugin.stat()
        loader = _LOADER_CACHE.stat().st_mtime_ns if _LOADER_CACHE.exists() else 0
    except OSError:
        return None
    return f"{plugin}\t{st.st_size}\t{st.st_mtime_ns}\t{loader}\t{environ.get('LD_LIBRARY_PATH', '')}"


def _known_complete(fingerprint: str, environ: os._Environ[str] | dict[str, str]) -> bool:
    try:
        return _cache_file(environ).read_text(encoding="utf-8") == fingerprint
    except (OSError, UnicodeDecodeError):
        return False


def _remember_complete(fingerprint: str, environ: os._Environ[str] | dict[str, str]) -> None:
    path = _cache_file(environ)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_text(fingerprint, encoding="utf-8")
        os.replace(partial, path)  # another instance starting at the same time reads all of it or none
    except OSError:
        pass  # a read-only home only costs the next start the ldd run


def _stem(soname: str) -> str:
    return soname.split(".so")[0]


def install_hint(libraries: list[str]) -> str:
    """One sentence naming the packages that provide ``libraries`` on Debian/Ubuntu and on Fedora."""
    debian: list[str] = []
    fedora: list[str] = []
    for lib in libraries:
        deb, fed = PACKAGES.get(_stem(lib), (None, None))
        debian.append(deb or f"(the package with {lib})")
        fedora.append(fed or f"(the package with {lib})")
    deb_list = " ".join(dict.fromkeys(debian))
    fed_list = " ".join(dict.fromkeys(fedora))
    return f"sudo apt install {deb_list} (Debian/Ubuntu) or sudo dnf install {fed_list} (Fedora)"


def check(environ: os._Environ[str] | dict[str, str] | None = None) -> str | None:
    """None when Qt can load its platform plugin as far as we can tell; else the one line to print."""
    if not sys.platform.startswith("linux"):
        return None
    name = platform_name(environ)
    if name not in ("xcb", "wayland"):
        return None  # offscreen, minimal, vnc...: nothing outside PySide6 to look for
    env = os.environ if environ is None else environ
    for folder in plugin_dirs(environ):
        plugin = folder / f"libq{name}.so"
        if plugin.is_file():
            fingerprint = _fingerprint(plugin, env)
            if fingerprint is not None and _known_complete(fingerprint, env):
                return None
            missing = missing_libraries(plugin, environ)
            if not missing:
                if fingerprint is not None:
                    _remember_complete(fingerprint, env)
                return None
            return (f"Backend Manager cannot open its window: Qt's {name} platform plugin needs "
                    f"{', '.join(missing)}, not installed on this system. Install them with: {install_hint(missing)}")
    return None


def main() -> int | None:
    """Print the line and give the exit status 1 when a library is missing; None to go on starting."""
    line = check()
    if line is None:
        return None
    print(line, file=sys.stderr)
    return 1
