"""``serve``'s ``ListLogTypes`` and ``ListRecentLogMessages``, in SwarmUI's shapes (``AdminAPI.cs``, ``Logs.cs``).

The trackers: SwarmUI's six levels (Verbose … Error), fed with this app's own log records (the access log
aside: the web UI's polling would fill Info with its own requests), and one per backend, identifier
``backend-<id>``, named like SwarmUI's (``ComfyUI-<id>`` for a ComfyUI worker, ``Worker-<id>`` for another),
whose lines are the service's ``backend_log``. With the local manager behind, every line is numbered by the one
counter of this process (core/logs.py), as SwarmUI numbers all of its lines with one counter. Each tracker
answers at most its last 1,024 lines, as SwarmUI's keep.
"""

from __future__ import annotations

import logging
from typing import Any

from .logs import LogTracker, last_sequence, swarm_time
from .models import Backend
from .service import BackendService

#: How many lines a SwarmUI log tracker keeps (Logs.LogTracker.MaxTracked).
MAX_TRACKED = 1024
#: SwarmUI's levels and their colours (Logs.cs), in its order.
LEVEL_COLORS = {
    "Verbose": "#606060",
    "Debug": "#808080",
    "Info": "#00FFFF",
    "Init": "#00FF00",
    "Warning": "#FFFF00",
    "Error": "#FF0000",
}
#: A backend tracker's colour (LogTracker's default).
BACKEND_COLOR = "#707070"
#: Records of this logger stay out of the levels (one line per HTTP request).
_ACCESS_LOGGER = "backend_manager_gui.access"
_APP_LOGGER = "backend_manager_gui"


class LogRequestError(Exception):
    """A request SwarmUI's handler would throw on (400 internal_error there, so here too)."""


def tracker_name(backend: Backend) -> str:
    """A backend's tracker name, as SwarmUI names a self-started process's: ``ComfyUI-<id>``."""
    family = "ComfyUI" if "comfyui" in backend.features else "Worker"
    return f"{family}-{backend.id}"


def _level_of(levelno: int) -> str:
    if levelno >= logging.ERROR:
        return "Error"
    if levelno >= logging.WARNING:
        return "Warning"
    if levelno >= logging.INFO:
        return "Info"
    if levelno >= logging.DEBUG:
        return "Debug"
    return "Verbose"


class _LevelHandler(logging.Handler):
    def __init__(self, levels: dict[str, LogTracker]) -> None:
        super().__init__(logging.DEBUG)
        self._levels = levels

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == _ACCESS_LOGGER:
            return
        try:
            self._levels[_level_of(record.levelno)].append(record.getMessage())
        except Exception:  # noqa: BLE001 - a log line must never take the server down (logging's own rule)
            self.handleError(record)


class ServeLogs:
    """The log trackers of one ``serve`` app. ``install()`` on start, ``uninstall()`` on stop."""

    def __init__(self, service: BackendService) -> None:
        self._service = service
        self.levels = {name: LogTracker(MAX_TRACKED) for name in LEVEL_COLORS}
        self._handler = _LevelHandler(self.levels)

    def install(self) -> None:
        logging.getLogger(_APP_LOGGER).addHandler(self._handler)

    def uninstall(self) -> None:
        logging.getLogger(_APP_LOGGER).removeHandler(self._handler)

    async def _backends(self) -> dict[str, int]:
        """Tracker name -> backend id, in id order."""
        backends = await self._service.list_backends(nonreal=True)
        return {tracker_name(b): b.id for b in sorted(backends.values(), key=lambda b: b.id)}

    @staticmethod
    def _types(backends: dict[str, int]) -> list[dict[str, Any]]:
        types: list[dict[str, Any]] = [
            {"name": name, "color": color, "identifier": ""} for name, color in LEVEL_COLORS.items()
        ]
        types += [{"name": name, "color": BACKEND_COLOR, "identifier": f"backend-{bid}"}
                  for name, bid in backends.items()]
        return types

    async def list_log_types(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"types_available": self._types(await self._backends())}

    async def list_recent_log_messages(self, body: dict[str, Any]) -> dict[str, Any]:
        backends = await self._backends()
        # read before the lines, as SwarmUI does: every line numbered up to it is in this reply
        last_id = last_sequence()
        names = body.get("types")
        if not isinstance(names, list):
            raise LogRequestError("'types' is missing or not a list")
        data: dict[str, list[dict[str, Any]]] = {}
        for raw_name in names:
            name = raw_name if isinstance(raw_name, str) else str(raw_name)
            if name not in self.levels and name not in backends:
                continue  # an unknown type is left out, not refused
            after = _last_id_for(body.get("last_sequence_ids"), name)
            if name in self.levels:
                data[name] = [_message(seq, when, text) for seq, when, text in self.levels[name].after(after)]
                continue
            log = await self._service.backend_log(backends[name], after)
            if not log.available:
                continue  # as if it had no tracker
            data[name] = [{"sequence_id": line.sequence, "time": line.time, "message": line.text}
                          for line in log.lines[-MAX_TRACKED:] if line.sequence > after]
        return {"types_available": self._types(backends), "last_sequence_id": last_id, "data": data}


def _last_id_for(ids: Any, name: str) -> int:
    """``last_sequence_ids[name]``, -1 when absent; SwarmUI's handler throws on a missing map or a bad number."""
    if not isinstance(ids, dict):
        raise LogRequestError("'last_sequence_ids' is missing or not an object")
    if name not in ids:
        return -1
    value = ids[name]
    if isinstance(value, bool):
        raise LogRequestError("a last sequence id is not a number")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    raise LogRequestError("a last sequence id is not a number")


def _message(seq: int, when: float, text: str) -> dict[str, Any]:
    return {"sequence_id": seq, "time": swarm_time(when), "message": text}
