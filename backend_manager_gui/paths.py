"""Where the app finds its bundled resources and keeps its data (no Qt here)."""

from __future__ import annotations

import sys
from pathlib import Path

APP_NAME = "BackendManager"
APP_AUTHOR = "BackendManager"


def resources_dir() -> Path:
    """The folder holding icons and desktop files.

    Installed: the package ``backend_manager_gui._resources``. From a checkout: the top-level
    ``resources/``. In a PyInstaller bundle: ``_resources`` beside the unpacked package.
    """
    here = Path(__file__).resolve().parent
    for candidate in (
        here / "_resources",
        here.parent / "resources",
        Path(getattr(sys, "_MEIPASS", here)) / "backend_manager_gui" / "_resources",
    ):
        if candidate.is_dir():
            return candidate
    return here.parent / "resources"


def resource(name: str) -> Path:
    return resources_dir() / name


def default_data_dir() -> Path:
    import platformdirs  # on first use: the window paints before it is needed (docs/PERFORMANCE.md, P3)

    return Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))


def default_log_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR))
