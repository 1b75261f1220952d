"""Entry script of the PyInstaller bundle: the same ``main`` the ``backend-manager-gui`` command runs.

A plain script rather than ``backend_manager_gui/__main__.py`` so the bundle's top module has a stable name.
"""

from __future__ import annotations

import sys

from backend_manager_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
