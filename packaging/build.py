"""Build Backend Manager for the OS this runs on: ``python packaging/build.py``.

- Linux: ``dist/backend-manager-gui/`` (the app folder, with ``share/`` holding the .desktop entry, AppStream
  metainfo and icons, and ``install.sh``) and ``dist/backend-manager-gui-<version>-linux-<arch>.tar.gz``.
- Windows: ``dist/backend-manager-gui/backend-manager-gui.exe`` and ``dist/backend-manager-gui.iss`` (Inno Setup
  script with the version filled in); when Inno Setup's ``ISCC`` is installed, also the ``...-setup.exe``.
- macOS: ``dist/Backend Manager.app`` inside ``dist/backend-manager-gui-<version>-macos-<arch>.dmg`` (hdiutil).

Everything goes under ``packaging/build`` and ``packaging/dist``. Needs the ``packaging`` extra (PyInstaller).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESOURCES = ROOT / "resources"
SPEC = HERE / "backend-manager-gui.spec"
BUILD = HERE / "build"
DIST = HERE / "dist"
APP_NAME = "backend-manager-gui"
DISPLAY_NAME = "Backend Manager"
APPSTREAM_ID = "io.github.backend_manager_gui"

sys.path.insert(0, str(ROOT))
from backend_manager_gui import __version__  # noqa: E402 (no Qt imported)


def _arch() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "arm64", "aarch64": "aarch64"}.get(machine, machine)


def _folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def run_pyinstaller(clean: bool = True) -> None:
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN"]
    if clean:
        command.append("--clean")
    command += ["--distpath", str(DIST), "--workpath", str(BUILD), str(SPEC)]
    subprocess.run(command, check=True, cwd=ROOT)


# ---------------------------------------------------------------------------------------------------- Linux

INSTALL_SH = """#!/bin/sh
# Install Backend Manager for this user: the app folder to ~/.local/opt, a command in ~/.local/bin, and the
# menu entry, icon and AppStream metainfo under ~/.local/share. Run it again to update; ./install.sh --uninstall removes it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
opt=$HOME/.local/opt/backend-manager-gui
bin=$HOME/.local/bin
if [ "${1:-}" = "--uninstall" ]; then
  rm -rf "$opt" "$bin/backend-manager-gui" "$data/applications/backend-manager-gui.desktop" \\
    "$data/icons/hicolor/256x256/apps/backend-manager-gui.png" "$data/icons/hicolor/scalable/apps/backend-manager-gui.svg" \\
    "$data/metainfo/io.github.backend_manager_gui.metainfo.xml"
  echo "Backend Manager removed."
  exit 0
fi
mkdir -p "$opt" "$bin"
if [ "$here" != "$opt" ]; then
  rm -rf "$opt"
  cp -R "$here" "$opt"
fi
ln -sf "$opt/backend-manager-gui" "$bin/backend-manager-gui"
for sub in applications metainfo icons/hicolor/256x256/apps icons/hicolor/scalable/apps; do
  mkdir -p "$data/$sub"
  cp "$opt/share/$sub/"* "$data/$sub/"
done
# the menu entry runs the command by name: point it at the installed copy so a PATH without ~/.local/bin still works
sed -i "s|^Exec=backend-manager-gui|Exec=$opt/backend-manager-gui|" "$data/applications/backend-manager-gui.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data/applications" || true
echo "Backend Manager $(\"$opt/backend-manager-gui\" --version | cut -d' ' -f2) installed: run backend-manager-gui or find it in your menu."
"""


def linux_package(folder: Path) -> Path:
    """Add the desktop integration files to the app folder and pack it as a .tar.gz."""
    share = folder / "share"
    shutil.rmtree(share, ignore_errors=True)
    files = {
        "applications/backend-manager-gui.desktop": RESOURCES / "backend-manager-gui.desktop",
        f"metainfo/{APPSTREAM_ID}.metainfo.xml": RESOURCES / f"{APPSTREAM_ID}.metainfo.xml",
        "icons/hicolor/256x256/apps/backend-manager-gui.png": RESOURCES / "app.png",
        "icons/hicolor/scalable/apps/backend-manager-gui.svg": RESOURCES / "app.svg",
    }
    for dest, src in files.items():
        (share / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, share / dest)
    install = folder / "install.sh"
    install.write_text(INSTALL_SH, encoding="utf-8")
    install.chmod(0o755)
    archive = DIST / f"{APP_NAME}-{__version__}-linux-{_arch()}.tar.gz"
    top = f"{APP_NAME}-{__version__}"
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        tar.add(folder, arcname=top)
    return archive


def check_metainfo_version() -> None:
    """The metainfo's newest release must be this version, or software centres show a stale one."""
    text = (RESOURCES / f"{APPSTREAM_ID}.metainfo.xml").read_text(encoding="utf-8")
    if f'<release version="{__version__}"' not in text:
        raise SystemExit(f"resources/{APPSTREAM_ID}.metainfo.xml has no <release> for version {__version__}: add one")


def missing_linux_libraries(folder: Path) -> dict[str, set[str]]:
    """Libraries the bundle's Qt plugins and libraries need that neither the bundle nor this machine has."""
    missing: dict[str, set[str]] = {}
    internal = folder / "_internal"
    for lib in sorted(internal.rglob("*.so*")):
        if not lib.is_file():
            continue
        # the bootloader puts _internal on the library path at run time; ldd must look there too
        env = {**os.environ, "LD_LIBRARY_PATH": str(internal)}
        result = subprocess.run(["ldd", str(lib)], capture_output=True, text=True, check=False, env=env)
        for line in result.stdout.splitlines():
            if "=> not found" in line:
                missing.setdefault(line.split()[0], set()).add(str(lib.relative_to(folder)))
    return missing


# ---------------------------------------------------------------------------------------------------- Windows

def _find_iscc() -> str | None:
    found = shutil.which("ISCC") or shutil.which("iscc")
    if found:
        return found
    for base in (os.environ.get("ProgramFiles(x86)"), os.environ.get("ProgramFiles")):
        if base and (Path(base) / "Inno Setup 6" / "ISCC.exe").is_file():
            return str(Path(base) / "Inno Setup 6" / "ISCC.exe")
    return None


def windows_package(folder: Path) -> list[Path]:
    template = (HERE / "installer.iss.in").read_text(encoding="utf-8")
    script = DIST / f"{APP_NAME}.iss"
    script.write_text(
        template.replace("@VERSION@", __version__)
        .replace("@SOURCE_DIR@", str(folder))
        .replace("@ICON@", str(RESOURCES / "app.ico"))
        .replace("@OUTPUT_DIR@", str(DIST))
        .replace("@OUTPUT_NAME@", f"{APP_NAME}-{__version__}-windows-{_arch()}-setup"),
        encoding="utf-8",
    )
    outputs = [script]
    iscc = _find_iscc()
    if iscc:
        subprocess.run([iscc, "/Q", str(script)], check=True)
        outputs.append(DIST / f"{APP_NAME}-{__version__}-windows-{_arch()}-setup.exe")
    else:
        print("Inno Setup (ISCC) not found: wrote the .iss script only; compile it with ISCC to get the installer")
    return outputs


# ---------------------------------------------------------------------------------------------------- macOS

def macos_package(app: Path) -> Path:
    staging = BUILD / "dmg"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    # ditto keeps the bundle's symlinks and extended attributes intact (shutil.copytree may not)
    subprocess.run(["ditto", str(app), str(staging / app.name)], check=True)
    (staging / "Applications").symlink_to("/Applications")  # drag-to-install target
    dmg = DIST / f"{APP_NAME}-{__version__}-macos-{_arch()}.dmg"
    dmg.unlink(missing_ok=True)
    subprocess.run(
        ["hdiutil", "create", "-volname", DISPLAY_NAME, "-srcfolder", str(staging), "-ov", "-format", "UDZO", str(dmg)],
        check=True,
    )
    return dmg


# ---------------------------------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build Backend Manager's app bundle for this OS.")
    parser.add_argument("--no-clean", action="store_true", help="reuse PyInstaller's cache in packaging/build (faster)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(HERE))
    import make_icons

    if make_icons.main(["--check"]) != 0:
        print("warning: the committed icons differ from resources/app.svg as rendered here")
    check_metainfo_version()

    started = time.perf_counter()
    run_pyinstaller(clean=not args.no_clean)
    folder = DIST / APP_NAME
    outputs: list[Path] = []
    if sys.platform.startswith("linux"):
        outputs.append(linux_package(folder))
        for lib, needed_by in sorted(missing_linux_libraries(folder).items()):
            print(f"not bundled (the target must have it): {lib}  <- {', '.join(sorted(needed_by)[:3])}")
    elif sys.platform == "win32":
        outputs += windows_package(folder)
    elif sys.platform == "darwin":
        outputs.append(macos_package(DIST / f"{DISPLAY_NAME}.app"))
    else:
        raise SystemExit(f"no packaging for {sys.platform}")
    elapsed = time.perf_counter() - started

    print(f"Backend Manager {__version__} built in {elapsed:.0f} s")
    if folder.is_dir():
        print(f"  {folder.relative_to(ROOT)}/  {_folder_size(folder) / 1e6:.0f} MB")
    for out in outputs:
        if out.exists():
            print(f"  {out.relative_to(ROOT)}  {out.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
