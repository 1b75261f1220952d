"""``backend-manager-gui --version`` and ``--help``, as a person types them (``python -m backend_manager_gui``)."""

from __future__ import annotations

import subprocess
import sys

from backend_manager_gui import __version__

# prints the loaded Qt/qasync modules after the CLI exits (argparse exits through SystemExit)
_WRAPPER = (
    "import sys, runpy\n"
    "try:\n"
    "    runpy.run_module('backend_manager_gui', run_name='__main__')\n"
    "finally:\n"
    "    print('LOADED-QT', sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'qasync')), file=sys.stderr)\n"
)


def _run(*args: str, wrapped: bool = False) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", _WRAPPER, *args] if wrapped else [sys.executable, "-m", "backend_manager_gui", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_version_prints_the_version_and_exits_0() -> None:
    result = _run("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"backend-manager-gui {__version__}"


def test_version_does_not_import_qt() -> None:
    result = _run("--version", wrapped=True)
    assert result.returncode == 0, result.stderr
    assert __version__ in result.stdout
    assert "LOADED-QT []" in result.stderr


def test_help_prints_usage_with_the_options_and_exits_0() -> None:
    result = _run("--help")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("usage: backend-manager-gui")
    for option in ("--version", "--server", "--data-dir", "serve"):
        assert option in out
    assert "SWARM_TOKEN" in out  # where the token comes from, since it is never an argument


def test_serve_help_prints_its_own_usage() -> None:
    result = _run("serve", "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: backend-manager-gui serve" in result.stdout
    assert "--token-file" in result.stdout and "127.0.0.1" in result.stdout
