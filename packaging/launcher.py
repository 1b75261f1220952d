"""Entry script of the PyInstaller bundle: the same ``main`` the ``backend-manager-gui`` command runs.

A plain script rather than ``backend_manager_gui/__main__.py`` so the bundle's top module has a stable name.
"""

from __future__ import annotations

import sys

# Interpreter flags a ``sys.executable -c`` caller may put first; none changes what the code does here.
_PYTHON_FLAGS = {"-I", "-E", "-s", "-S", "-u", "-B"}


def run_python_c(argv: list[str]) -> bool:
    """Inside the bundle ``sys.executable`` is this app, not a Python: run ``sys.executable [-I] -c CODE`` as Python
    would, so the local manager's orphan watchdog (core/local/process.py starts one that way) works when bundled.
    Returns False when ``argv`` is not such a call."""
    args = argv[1:]
    while args and args[0] in _PYTHON_FLAGS:
        args = args[1:]
    if len(args) < 2 or args[0] != "-c":
        return False
    sys.argv = ["-c", *args[2:]]
    exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})  # noqa: S102
    return True


if __name__ == "__main__":
    if getattr(sys, "frozen", False) and run_python_c(sys.argv):
        sys.exit(0)
    from backend_manager_gui.cli import main

    sys.exit(main())
