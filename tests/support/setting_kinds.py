"""A setting of every kind, and a worker type holding them whose ``validate`` is the embedded manager's own."""

from __future__ import annotations

from typing import ClassVar

from backend_manager_gui.core.local.backend_types import WorkerKind
from backend_manager_gui.core.models import BackendType, SettingSpec

TEXT = SettingSpec("Name", "text")
INTEGER = SettingSpec("Count", "integer")
DECIMAL = SettingSpec("Ratio", "decimal")
BOOLEAN = SettingSpec("Flag", "boolean")
OLD_BOOLEAN = SettingSpec("OldFlag", "bool")
DROPDOWN = SettingSpec("Mode", "dropdown", values=("a", "B", "c"), value_names=("Alpha", "Beta", "Gamma"))
OPEN_DROPDOWN = SettingSpec("Any", "dropdown")
LIST = SettingSpec("Items", "list")
SECRET = SettingSpec("Key", "text", is_secret=True)
UNKNOWN = SettingSpec("Shade", "colour")
EVERY_KIND = (TEXT, INTEGER, DECIMAL, BOOLEAN, OLD_BOOLEAN, DROPDOWN, OPEN_DROPDOWN, LIST, SECRET, UNKNOWN)


class EveryKind(WorkerKind):
    """A worker type with a setting of every kind: its ``validate`` is the manager's own, unchanged."""

    info: ClassVar[BackendType] = BackendType(id="every_kind", name="Every kind", settings=EVERY_KIND)


MANAGER = EveryKind()
