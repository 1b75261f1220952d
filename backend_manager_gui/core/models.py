"""Value types of the backend API, one parser (``from_wire``) and one writer (``to_wire``) each.

Field names are the wire keys' names, so code reads like the protocol it speaks. ``from_wire`` keeps
unknown keys (in ``extra``), and raises ``BackendApiError`` naming the field when a required one is
missing or of the wrong type. Nothing else escapes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from .errors import BackendApiError
from .status import BackendStatus

#: What a server sends instead of a secret setting's value; sending it back means "keep the old value".
SECRET_MARKER = "\t<secret>"

# This app's own keys on a backend of ListBackends, beyond SwarmUI's (``status_message`` is another): the embedded
# manager fills them, ``serve`` sends them with full_data (a SwarmUI client ignores keys it does not know), and
# ``Backend.from_wire`` keeps them in ``extra``. Read them with ``Backend.worker_port()`` & co.
#: the port the worker was given (an int), where the manager started one
WORKER_PORT = "worker_port"
#: the worker's web page as the machine running the manager reaches it ("http://127.0.0.1:8189")
WORKER_URL = "worker_url"
#: true when the worker listens on every interface (other computers can reach its port), false for 127.0.0.1
WORKER_LISTENS_BEYOND_LOOPBACK = "worker_listens_all"
#: the prompts running and waiting in the worker's queue at its last poll (ints)
QUEUE_RUNNING = "queue_running"
QUEUE_PENDING = "queue_pending"
WORKER_KEYS = (WORKER_PORT, WORKER_URL, WORKER_LISTENS_BEYOND_LOOPBACK, QUEUE_RUNNING, QUEUE_PENDING)


class SettingKind(StrEnum):
    """The setting types a server is known to send. Unknown ones are kept as their raw string."""

    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DROPDOWN = "dropdown"
    LIST = "list"
    GROUP = "group"


_TYPE_ALIASES = {"bool": SettingKind.BOOLEAN.value}


def _bad(what: str, key: str, expected: str, value: Any) -> BackendApiError:
    return BackendApiError(
        f"Malformed {what} from the server: field '{key}' should be {expected}, got {type(value).__name__}"
    )


def _require_mapping(what: str, raw: Any) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise BackendApiError(f"Malformed {what} from the server: expected an object, got {type(raw).__name__}")
    return raw


def _get(what: str, raw: Mapping[str, Any], key: str, kind: str, *, required: bool = False, default: Any = None) -> Any:
    """Read one field and check its type. ``kind``: str, int, bool, number, list, dict, str?"""
    if key not in raw or raw[key] is None:
        if required:
            raise BackendApiError(f"Malformed {what} from the server: missing field '{key}'")
        return default
    value = raw[key]
    if kind == "str":
        if not isinstance(value, str):
            raise _bad(what, key, "text", value)
    elif kind == "int":
        if isinstance(value, bool):
            raise _bad(what, key, "an integer", value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise _bad(what, key, "an integer", value) from None
        elif not isinstance(value, int):
            raise _bad(what, key, "an integer", value)
    elif kind == "bool":
        if not isinstance(value, bool):
            raise _bad(what, key, "true or false", value)
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _bad(what, key, "a number", value)
    elif kind == "list":
        if not isinstance(value, list):
            raise _bad(what, key, "a list", value)
    elif kind == "dict":
        if not isinstance(value, Mapping):
            raise _bad(what, key, "an object", value)
    else:  # pragma: no cover - programming error
        raise AssertionError(kind)
    return value


def _str_tuple(what: str, key: str, value: list[Any] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    out = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise _bad(what, key, "a list of text", item)
        out.append(str(item))
    return tuple(out)


@dataclass(frozen=True)
class SettingSpec:
    """One setting of a backend type, as ListBackendTypes describes it."""

    name: str
    type: str
    description: str = ""
    placeholder: str = ""
    is_secret: bool = False
    default: Any = None
    values: tuple[str, ...] | None = None
    value_names: tuple[str, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # Local hints: set only by this app's own backend types (core/local), never on the wire (``to_wire`` leaves
    # them out, ``from_wire`` never sets them), so a server's settings never carry them.
    #: a path on the computer the service runs on: Browse… picks a file or a folder
    browse: Literal["file", "folder"] | None = None
    #: the text the value should end in (like "main.py"): the form warns while it does not, and filters on it
    ends_with: str | None = None
    #: the value is picked from what this computer has ("gpu": the detected GPUs), free text still allowed
    choose: Literal["gpu"] | None = None
    #: the value is several lines (KEY=VALUE lines): edited in a box where Enter starts a new line
    multiline: bool = False

    _KNOWN = ("name", "type", "description", "placeholder", "is_secret", "default", "values", "value_names")

    @property
    def kind(self) -> SettingKind | None:
        """The known kind of this setting, or None for a type this app does not know."""
        try:
            return SettingKind(self.type)
        except ValueError:
            return None

    @classmethod
    def from_wire(cls, raw: Any) -> SettingSpec:
        what = "setting"
        raw = _require_mapping(what, raw)
        name = _get(what, raw, "name", "str", required=True)
        type_ = _get(what, raw, "type", "str", required=True)
        type_ = _TYPE_ALIASES.get(type_, type_)
        values = _str_tuple(what, "values", _get(what, raw, "values", "list"))
        value_names = _str_tuple(what, "value_names", _get(what, raw, "value_names", "list"))
        return cls(
            name=name,
            type=type_,
            description=_get(what, raw, "description", "str", default=""),
            placeholder=_get(what, raw, "placeholder", "str", default=""),
            is_secret=_get(what, raw, "is_secret", "bool", default=False),
            default=raw.get("default"),
            values=values,
            value_names=value_names,
            extra={k: v for k, v in raw.items() if k not in cls._KNOWN},
        )

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out.update(
            name=self.name,
            type=self.type,
            description=self.description,
            placeholder=self.placeholder,
            is_secret=self.is_secret,
            default=self.default,
            values=list(self.values) if self.values is not None else None,
            value_names=list(self.value_names) if self.value_names is not None else None,
        )
        return out


@dataclass(frozen=True)
class BackendType:
    """A kind of backend that can be added (ListBackendTypes)."""

    id: str
    name: str
    description: str = ""
    settings: tuple[SettingSpec, ...] = ()
    is_standard: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    _KNOWN = ("id", "name", "description", "settings", "is_standard")

    @classmethod
    def from_wire(cls, raw: Any) -> BackendType:
        what = "backend type"
        raw = _require_mapping(what, raw)
        settings = _get(what, raw, "settings", "list", default=[])
        return cls(
            id=_get(what, raw, "id", "str", required=True),
            name=_get(what, raw, "name", "str", required=True),
            description=_get(what, raw, "description", "str", default=""),
            settings=tuple(SettingSpec.from_wire(s) for s in settings),
            is_standard=_get(what, raw, "is_standard", "bool", default=True),
            extra={k: v for k, v in raw.items() if k not in cls._KNOWN},
        )

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out.update(
            id=self.id,
            name=self.name,
            description=self.description,
            is_standard=self.is_standard,
            settings=[s.to_wire() for s in self.settings],
        )
        return out

    def setting(self, name: str) -> SettingSpec | None:
        for spec in self.settings:
            if spec.name == name:
                return spec
        return None


@dataclass(frozen=True)
class Backend:
    """One backend as ListBackends describes it (``status_message`` is this app's own extra key)."""

    id: int
    type: str
    status: BackendStatus
    settings: dict[str, Any] = field(default_factory=dict)
    modcount: int = 0
    features: tuple[str, ...] = ()
    enabled: bool = True
    title: str = ""
    can_load_models: bool = True
    max_usages: int = 0
    seconds_since_used: float | None = None
    time_since_used: str | None = None
    current_model: str | None = None
    status_message: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    _KNOWN = (
        "id", "type", "status", "settings", "modcount", "features", "enabled", "title", "can_load_models",
        "max_usages", "seconds_since_used", "time_since_used", "current_model", "status_message",
    )

    def __repr__(self) -> str:
        # settings may hold secrets: a repr never shows setting values
        return (
            f"Backend(id={self.id!r}, type={self.type!r}, status={self.status.value!r}, "
            f"enabled={self.enabled!r}, title={self.title!r}, modcount={self.modcount!r}, "
            f"settings=<{len(self.settings)} settings>)"
        )

    # ---- this app's own keys (``WORKER_KEYS``), None when absent or not of their kind -------------------------
    def _count(self, key: str) -> int | None:
        value = self.extra.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

    def worker_port(self) -> int | None:
        port = self._count(WORKER_PORT)
        return port if port and port <= 65535 else None

    def worker_url(self) -> str | None:
        url = self.extra.get(WORKER_URL)
        return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None

    def worker_listens_all(self) -> bool:
        return self.extra.get(WORKER_LISTENS_BEYOND_LOOPBACK) is True

    def queue(self) -> tuple[int, int] | None:
        """(running, pending) prompts of the worker's queue, when its service told."""
        running, pending = self._count(QUEUE_RUNNING), self._count(QUEUE_PENDING)
        return None if running is None or pending is None else (running, pending)

    @classmethod
    def from_wire(cls, raw: Any) -> Backend:
        # a first load of 5,000 backends parses every one (docs/PERFORMANCE.md, P8): the usual entry, every field
        # of its plain type, is read in one go; anything else takes the checking path below, which says what is
        # wrong or converts (an id as text, a float count, a number among the features)
        backend = _plain_backend(cls, raw)
        return backend if backend is not None else cls._checked_from_wire(raw)

    @classmethod
    def _checked_from_wire(cls, raw: Any) -> Backend:
        what = "backend"
        raw = _require_mapping(what, raw)
        status_raw = _get(what, raw, "status", "str", required=True)
        try:
            status = BackendStatus(status_raw.lower())
        except ValueError:
            raise BackendApiError(
                f"Malformed backend from the server: field 'status' has an unknown value {status_raw[:40]!r}"
            ) from None
        features = _str_tuple(what, "features", _get(what, raw, "features", "list", default=[])) or ()
        settings = _get(what, raw, "settings", "dict", default={})
        return cls(
            id=_get(what, raw, "id", "int", required=True),
            type=_get(what, raw, "type", "str", required=True),
            status=status,
            settings=dict(settings),
            modcount=_get(what, raw, "modcount", "int", default=0),
            features=features,
            enabled=_get(what, raw, "enabled", "bool", default=True),
            title=_get(what, raw, "title", "str", default=""),
            can_load_models=_get(what, raw, "can_load_models", "bool", default=True),
            max_usages=_get(what, raw, "max_usages", "int", default=0),
            seconds_since_used=_get(what, raw, "seconds_since_used", "number"),
            time_since_used=_get(what, raw, "time_since_used", "str"),
            current_model=_get(what, raw, "current_model", "str"),
            status_message=_get(what, raw, "status_message", "str"),
            extra={k: v for k, v in raw.items() if k not in cls._KNOWN},
        )

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out.update(
            id=self.id,
            type=self.type,
            status=self.status.value,
            settings=dict(self.settings),
            modcount=self.modcount,
            features=list(self.features),
            enabled=self.enabled,
            title=self.title,
            can_load_models=self.can_load_models,
            max_usages=self.max_usages,
        )
        if self.seconds_since_used is not None:
            out["seconds_since_used"] = self.seconds_since_used
        if self.time_since_used is not None:
            out["time_since_used"] = self.time_since_used
        if self.current_model is not None:
            out["current_model"] = self.current_model
        if self.status_message is not None:
            out["status_message"] = self.status_message
        return out


_STATUS_BY_TEXT = {status.value: status for status in BackendStatus}
_BACKEND_KNOWN = frozenset(Backend._KNOWN)


def _plain_backend(cls: type[Backend], raw: Any) -> Backend | None:
    """``Backend.from_wire(raw)`` for an entry whose fields all have their plain JSON types (what a server sends),
    2.4 times as fast; None for anything else (``from_wire`` then checks and converts field by field)."""
    if type(raw) is not dict:
        return None
    get = raw.get
    status_raw, backend_id, type_id = get("status"), get("id"), get("type")
    if type(status_raw) is not str or type(backend_id) is not int or type(type_id) is not str:
        return None
    status = _STATUS_BY_TEXT.get(status_raw.lower())
    settings, modcount, features = get("settings"), get("modcount"), get("features")
    enabled, title, can_load = get("enabled"), get("title"), get("can_load_models")
    max_usages, seconds, since = get("max_usages"), get("seconds_since_used"), get("time_since_used")
    model, message = get("current_model"), get("status_message")
    if (
        status is None
        or (settings is not None and type(settings) is not dict)
        or (modcount is not None and type(modcount) is not int)
        or (features is not None and (type(features) is not list or not all(type(f) is str for f in features)))
        or (enabled is not None and type(enabled) is not bool)
        or (title is not None and type(title) is not str)
        or (can_load is not None and type(can_load) is not bool)
        or (max_usages is not None and type(max_usages) is not int)
        or (seconds is not None and type(seconds) is not int and type(seconds) is not float)
        or (since is not None and type(since) is not str)
        or (model is not None and type(model) is not str)
        or (message is not None and type(message) is not str)
    ):
        return None
    # every field set here, as the dataclass's __init__ would (tests/core/test_models.py checks both agree):
    # its frozen __init__ alone costs as much again as all of the above
    backend = object.__new__(cls)
    backend.__dict__.update(
        id=backend_id,
        type=type_id,
        status=status,
        settings=dict(settings) if settings is not None else {},
        modcount=modcount if modcount is not None else 0,
        features=tuple(features) if features is not None else (),
        enabled=enabled if enabled is not None else True,
        title=title if title is not None else "",
        can_load_models=can_load if can_load is not None else True,
        max_usages=max_usages if max_usages is not None else 0,
        seconds_since_used=seconds,
        time_since_used=since,
        current_model=model,
        status_message=message,
        extra={k: v for k, v in raw.items() if k not in _BACKEND_KNOWN},
    )
    return backend


def backends_from_wire(raw: Any) -> dict[int, Backend]:
    """Parse a ListBackends reply (an object keyed by the id as a string) into ``{id: Backend}`` ordered by id."""
    raw = _require_mapping("backend list", raw)
    out: dict[int, Backend] = {}
    for value in raw.values():
        backend = Backend.from_wire(value)
        out[backend.id] = backend
    return dict(sorted(out.items()))


def backend_types_from_wire(raw: Any) -> list[BackendType]:
    """Parse a ListBackendTypes reply ``{"list": [...]}``."""
    raw = _require_mapping("backend type list", raw)
    items = _get("backend type list", raw, "list", "list", required=True)
    return [BackendType.from_wire(item) for item in items]


@dataclass(frozen=True)
class LogLine:
    """One line of a backend's log (``BackendService.backend_log``)."""

    #: grows across the whole server (all of its logs share one counter, as in SwarmUI): never repeats, never goes back
    sequence: int
    #: when it was logged, "yyyy-MM-dd HH:mm:ss.fff" on the clock of the machine that logged it (SwarmUI's format)
    time: str
    #: "[STDOUT] …" / "[STDERR] …" for the worker's own output (SwarmUI's form), "[manager] …" for the local
    #: manager's notes about it, or a line of the server's own log that names the backend (then ``level`` is set)
    text: str
    #: "" for a line of the backend's own log; for a line found in the server's own log, that log's level
    #: ("Debug", "Info", "Init", "Warning", "Error")
    level: str = ""


@dataclass(frozen=True)
class BackendLog:
    """A backend's log lines after a sequence number, and whether it has a log at all (and why not).

    Follow a log by passing ``last_sequence`` back as ``after`` on the next call: each line then comes once, in
    order. ``available`` is False when the backend has no log of its own there; ``reason`` then says why, in
    words fit to show, and ``lines`` may still hold what the server's own log said about it (their ``level`` set).
    """

    lines: tuple[LogLine, ...] = ()
    #: the ``after`` for the next call (never lower than the ``after`` of this one, unless the server restarted)
    last_sequence: int = 0
    available: bool = True
    reason: str | None = None
