"""A backend's status, apart from the other wire values (``core.models`` re-exports it): the window's first paint
needs it for its table (status names and colours), and ``core.models`` costs ~5 ms to import (docs/PERFORMANCE.md,
P3)."""

from __future__ import annotations

from enum import StrEnum


class BackendStatus(StrEnum):
    DISABLED = "disabled"
    ERRORED = "errored"
    WAITING = "waiting"
    LOADING = "loading"
    IDLE = "idle"
    RUNNING = "running"
