"""The Python of a self-starting ComfyUI is found by itself, as the README promises: the ComfyUI folder's
``venv/`` or ``.venv/``, else the portable build's ``../python_embeded/python.exe``, else the Python running the
app. Each with a real virtual environment in a temporary folder and a worker really started by it: the worker
reports the ``sys.prefix`` it runs under.

The folder layouts are the ones each OS has (``Scripts\\python.exe`` on Windows, ``bin/python`` elsewhere); the
portable build's ``python_embeded/python.exe`` is the Windows layout, found the same way on every OS.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import venv
from pathlib import Path

import psutil
import pytest

from backend_manager_gui.core.local import LocalService

from .conftest import comfy_settings, wait_status

WINDOWS = os.name == "nt"


def _make_venv(folder: Path) -> Path:
    """A real virtual environment (no pip: the fake worker needs the standard library only); its Python."""
    venv.EnvBuilder(with_pip=False, symlinks=not WINDOWS).create(folder)
    python = folder / ("Scripts" if WINDOWS else "bin") / ("python.exe" if WINDOWS else "python")
    assert python.is_file(), sorted(p.name for p in python.parent.iterdir())
    return python


def _make_embedded(folder: Path) -> Path:
    """``python_embeded/python.exe`` as the portable ComfyUI build has it: the interpreter at the folder's top.

    A virtual environment made there, with an interpreter at the top: on Windows the environment's own
    ``Scripts\\python.exe`` copied up beside ``pyvenv.cfg`` (it looks for that file in its own folder first);
    elsewhere an executable script that runs ``bin/python`` (a file named ``python.exe`` is just a name there)."""
    inner = _make_venv(folder)
    top = folder / "python.exe"
    if WINDOWS:
        shutil.copy2(inner, top)
    else:
        top.write_text(f'#!/bin/sh\nexec "{inner}" "$@"\n', encoding="utf-8")
        top.chmod(0o755)
    return top


async def _started_with(svc: LocalService, main: Path, python: str = "") -> dict[str, str]:
    await svc.add_backend("comfyui_selfstart")
    backend_id = max(await svc.list_backends())
    await svc.edit_backend(backend_id, "", comfy_settings(main, "--echo-python", Python=python))
    await wait_status(svc, backend_id, "running", timeout=30)
    line = next(line for line in svc.log_tail(backend_id) if line.startswith("PYTHON="))
    reported = json.loads(line[len("PYTHON="):])
    pid = svc.details(backend_id).pid
    assert pid
    reported["argv0"] = psutil.Process(pid).cmdline()[0]
    return reported


def _same(a: str | Path, b: str | Path) -> bool:
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


async def test_the_comfyui_folders_dot_venv_runs_the_worker(svc: LocalService, comfy_main: Path) -> None:
    python = _make_venv(comfy_main.parent / ".venv")
    ran = await _started_with(svc, comfy_main)
    assert _same(ran["prefix"], comfy_main.parent / ".venv")  # the worker runs inside that environment
    assert _same(ran["argv0"], python)


async def test_venv_comes_before_dot_venv(svc: LocalService, comfy_main: Path) -> None:
    _make_venv(comfy_main.parent / ".venv")
    python = _make_venv(comfy_main.parent / "venv")
    ran = await _started_with(svc, comfy_main)
    assert _same(ran["prefix"], comfy_main.parent / "venv")
    assert _same(ran["argv0"], python)


async def test_the_portable_builds_python_embeded_runs_the_worker(svc: LocalService, tmp_path: Path) -> None:
    # ComfyUI_windows_portable/ComfyUI/main.py beside ComfyUI_windows_portable/python_embeded/python.exe
    portable = tmp_path / "ComfyUI_windows_portable"
    main = portable / "ComfyUI" / "main.py"
    main.parent.mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parents[2] / "support" / "fake_comfy.py", main)
    python = _make_embedded(portable / "python_embeded")
    ran = await _started_with(svc, main)
    assert _same(ran["prefix"], portable / "python_embeded")  # only that python.exe leads there
    start = next(line for line in svc.log_tail(0) if line.startswith("[manager] starting: "))
    assert start.startswith("[manager] starting: " + shlex.join([str(python), str(main), "--listen", "127.0.0.1", "--port"]))


async def test_a_python_set_by_hand_wins_over_a_found_one(svc: LocalService, comfy_main: Path, tmp_path: Path) -> None:
    _make_venv(comfy_main.parent / ".venv")
    chosen = _make_venv(tmp_path / "elsewhere")
    ran = await _started_with(svc, comfy_main, python=str(chosen))
    assert _same(ran["prefix"], tmp_path / "elsewhere")


async def test_without_a_venv_the_apps_own_python_runs_it(svc: LocalService, comfy_main: Path) -> None:
    ran = await _started_with(svc, comfy_main)
    assert _same(ran["prefix"], sys.prefix)


@pytest.mark.skipif(not WINDOWS, reason="python.exe in Scripts\\ is the Windows layout (bin/python elsewhere)")
async def test_on_windows_the_exe_in_scripts_is_found(svc: LocalService, comfy_main: Path) -> None:
    python = _make_venv(comfy_main.parent / "venv")
    assert python.name == "python.exe" and python.parent.name == "Scripts"
    ran = await _started_with(svc, comfy_main)
    assert _same(ran["prefix"], comfy_main.parent / "venv")
