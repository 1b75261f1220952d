"""A backend's log on a SwarmUI server, over ``ListLogTypes`` and ``ListRecentLogMessages`` (WIRE.md, "Logs").

SwarmUI keeps a log tracker per self-started backend process (identifier ``backend-<id>``, name like
``ComfyUI-<id>``) and drops it when the process's output closes: an errored backend usually has none left. Its
last words are still in the server's own level logs: every output line is copied to Debug (or to Warning when it
looks like an error) as ``[ComfyUI-<id>/STDERR] …``, and Info/Init/Error say "Self-Start ComfyUI-<id> … failed".
So a backend with a tracker is read from its tracker; one without is read from those levels, filtered.

Cost: one ``ListRecentLogMessages`` per call. Its reply lists the server's trackers again, which keeps the list
fresh for free; ``ListLogTypes`` is asked only before the first read.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .errors import BackendApiError
from .logs import NO_BACKEND_LOG, NO_LOG_ROUTES, NO_PERMISSION
from .models import BackendLog, LogLine
from .routes import Route

#: The server's own levels whose lines may be about a backend (Verbose never names one).
_LEVELS = ("Debug", "Info", "Init", "Warning", "Error")

Call = Callable[[Route, dict[str, Any]], Awaitable[Any]]
Parse = Callable[[Route, Callable[[Any], Any], Any], Any]


class _Reply:
    """A ListRecentLogMessages reply: the trackers (identifier -> name), the server's last id, the lines by tracker."""

    def __init__(self, trackers: dict[str, str], last_id: int, data: dict[str, list[tuple[int, str, str]]]) -> None:
        self.trackers = trackers
        self.last_id = last_id
        self.data = data


def _int(value: Any, what: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BackendApiError(f"Malformed log reply from the server: {what} should be an integer")
    return value


def parse_trackers(reply: Any) -> dict[str, str]:
    """``types_available`` of a ListLogTypes (or ListRecentLogMessages) reply -> {identifier: name}."""
    types = reply.get("types_available") if isinstance(reply, Mapping) else None
    if not isinstance(types, list):
        raise BackendApiError("Malformed log reply from the server: missing field 'types_available'")
    out: dict[str, str] = {}
    for item in types:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise BackendApiError("Malformed log reply from the server: a log type without a name")
        identifier = item.get("identifier")
        if isinstance(identifier, str) and identifier:
            out[identifier] = item["name"]
    return out


def parse_messages(reply: Any) -> _Reply:
    trackers = parse_trackers(reply)
    last_id = _int(reply.get("last_sequence_id"), "'last_sequence_id'")
    raw = reply.get("data")
    if not isinstance(raw, Mapping):
        raise BackendApiError("Malformed log reply from the server: missing field 'data'")
    data: dict[str, list[tuple[int, str, str]]] = {}
    for name, messages in raw.items():
        if not isinstance(messages, list):
            raise BackendApiError("Malformed log reply from the server: 'data' should hold lists")
        lines = []
        for message in messages:
            if not isinstance(message, Mapping) or not isinstance(message.get("message"), str):
                raise BackendApiError("Malformed log reply from the server: a message without text")
            time = message.get("time")
            lines.append((_int(message.get("sequence_id"), "'sequence_id'"), time if isinstance(time, str) else "",
                          message["message"]))
        data[str(name)] = lines
    return _Reply(trackers, last_id, data)


class RemoteLogReader:
    """Reads backends' logs through ``call`` (RemoteService's ``_call``) and ``parse`` (its ``_parse``)."""

    def __init__(self, call: Call, parse: Parse) -> None:
        self._call = call
        self._parse = parse
        self._trackers: dict[str, str] | None = None  # identifier -> tracker name, as last listed
        self._names: dict[int, str] = {}  # backend id -> the last tracker name seen for it

    def _learn(self, trackers: dict[str, str]) -> None:
        self._trackers = trackers
        for identifier, name in trackers.items():
            if identifier.startswith("backend-") and identifier[8:].isdigit():
                self._names[int(identifier[8:])] = name

    async def read(self, backend_id: int, after: int) -> BackendLog:
        identifier = f"backend-{int(backend_id)}"
        try:
            if self._trackers is None:
                listed = await self._call(Route.LIST_LOG_TYPES, {})
                self._learn(self._parse(Route.LIST_LOG_TYPES, parse_trackers, listed))
            assert self._trackers is not None
            name = self._trackers.get(identifier)
            if name is not None:
                return await self._read_tracker(name, after)
            return await self._read_levels(int(backend_id), identifier, after)
        except BackendApiError as err:
            if err.error_id == "bad_permissions":
                return BackendLog(last_sequence=after, available=False, reason=NO_PERMISSION)
            if err.error_id == "bad_route":
                return BackendLog(last_sequence=after, available=False, reason=NO_LOG_ROUTES)
            raise

    async def _recent(self, types: list[str], after: int) -> _Reply:
        body = {"types": types, "last_sequence_ids": {name: after for name in types}}
        reply = self._parse(Route.LIST_RECENT_LOG_MESSAGES, parse_messages,
                            await self._call(Route.LIST_RECENT_LOG_MESSAGES, body))
        self._learn(reply.trackers)
        return reply

    async def _read_tracker(self, name: str, after: int) -> BackendLog:
        reply = await self._recent([name], after)
        if reply.last_id < after:  # the server's counter went back: it restarted; start over
            return BackendLog(last_sequence=0)
        if name not in reply.data:  # the tracker went away since it was listed: the process ended
            return BackendLog(last_sequence=after, available=False, reason=NO_BACKEND_LOG)
        lines = tuple(LogLine(seq, when, text) for seq, when, text in sorted(reply.data[name]) if seq > after)
        # the server read its last id before the lines: every line of this tracker up to it is in this reply
        last = max([after, reply.last_id, *(line.sequence for line in lines)])
        return BackendLog(lines=lines, last_sequence=last)

    async def _read_levels(self, backend_id: int, identifier: str, after: int) -> BackendLog:
        reply = await self._recent(list(_LEVELS), after)
        if identifier in reply.trackers:  # its tracker appeared meanwhile: read it next time, from the same point
            return BackendLog(last_sequence=after)
        if reply.last_id < after:
            return BackendLog(last_sequence=0, available=False, reason=NO_BACKEND_LOG)
        own = re.compile(rf"^\[[^\]\n]*-{backend_id}/(STDOUT|STDERR)\] ", re.DOTALL)
        about = _about(backend_id, self._names.get(backend_id))
        found: list[LogLine] = []
        last = max(after, reply.last_id)
        for level in _LEVELS:
            for seq, when, message in reply.data.get(level, ()):
                last = max(last, seq)
                if seq <= after:
                    continue
                match = own.match(message)
                if match:
                    found.append(LogLine(seq, when, f"[{match.group(1)}] {message[match.end():]}"))
                    continue
                first = message.split("\n", 1)[0]
                if about.search(first):
                    found.append(LogLine(seq, when, first, level))
        found.sort(key=lambda line: line.sequence)
        return BackendLog(lines=tuple(found), last_sequence=last, available=False, reason=NO_BACKEND_LOG)


def _about(backend_id: int, name: str | None) -> re.Pattern[str]:
    """A server line about this backend: "Self-Start ComfyUI-3 …", or its known tracker name as a word."""
    patterns = [rf"\bSelf-Start [A-Za-z][\w]*-{backend_id}(?![\w-])"]
    if name:
        patterns.append(rf"(?<![\w-]){re.escape(name)}(?![\w-])")
    return re.compile("|".join(patterns))
