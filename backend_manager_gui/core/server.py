"""Serve any ``BackendService`` over SwarmUI's backend API (the ``serve`` command, for headless GPU boxes).

The wire behaviour follows SwarmUI's own server (``src/WebAPI/API.cs``, ``APICallReflectBuilder.cs``,
``BackendAPI.cs``, ``BasicAPIFeatures.cs``) as summarised in docs WIRE.md, so that a SwarmUI-speaking
client (our ``RemoteService``, or a script written for SwarmUI) cannot tell the two apart on these routes:

* ``POST /API/<Route>`` with a JSON object body; route names are case-insensitive.
* checks run in SwarmUI's order: content type, content length, JSON object, session id, route.
* ``401 invalid_session_id`` for an unknown session, ``400 basic_api`` / ``bad_route`` for misuse,
  ``400 internal_error`` for an unexpected exception, ``200 {"error": text}`` for a route's refusal.
* a ``GET`` (any non-``POST``) on ``/API/...`` is redirected to the "Cannot GET the API" page.

Routes: ``GetNewSession``, the 8 backend routes, and ``ListLogTypes`` / ``ListRecentLogMessages`` (serve_logs.py),
named once in routes.py.

Known, deliberate differences are listed in the module's README section and the serve transcript:
an unparseable or non-object body gets ``basic_api`` here (SwarmUI lets its JSON parser throw and answers
``internal_error``), and a service's ``ServiceUnavailable`` is a route refusal (200) here.

No Qt is imported on this path: ``serve`` runs on machines without a desktop.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import ipaddress
import json
import logging
import os
import secrets
import signal
import stat
import sys
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .. import __version__
from .errors import BackendApiError, BackendServiceError, ServiceUnavailable
from .models import SECRET_MARKER, WORKER_KEYS, Backend
from .routes import PERMISSION, SESSIONLESS, Route
from .serve_logs import LogRequestError, ServeLogs
from .service import BackendSelector, BackendService

log = logging.getLogger(__name__)

#: Largest request body accepted (SwarmUI's own limit is configurable; the backend API never needs more).
MAX_BODY = 1024 * 1024
#: How long a client may take to send its body once the headers are in (a slow drip is cut off).
READ_TIMEOUT = 30.0
#: A session unused this long is forgotten; the client then silently gets a new one (401 → GetNewSession).
SESSION_IDLE_SECONDS = 2 * 3600.0
#: At most this many live sessions; the least recently used goes first (bounds memory under a GetNewSession flood).
MAX_SESSIONS = 1000

DEFAULT_PORT = 7801
COOKIE_NAME = "swarm_token"

#: The routes this server answers (beside GetNewSession); their order gives PERMISSIONS' order.
SERVED_ROUTES = (
    Route.LIST_BACKEND_TYPES,
    Route.LIST_BACKENDS,
    Route.ADD_NEW_BACKEND,
    Route.EDIT_BACKEND,
    Route.DELETE_BACKEND,
    Route.RESTART_BACKENDS,
    Route.TOGGLE_BACKEND,
    Route.FREE_BACKEND_MEMORY,
    Route.LIST_LOG_TYPES,
    Route.LIST_RECENT_LOG_MESSAGES,
)

#: The permissions a session of this server has: exactly those of the routes it serves.
PERMISSIONS = tuple(dict.fromkeys(PERMISSION[route] for route in SERVED_ROUTES))

_SESSIONLESS_KEYS = frozenset(route.key for route in SESSIONLESS)

# SwarmUI's texts, kept verbatim: clients (and people) recognise them.
_INVALID_SESSION = "Invalid session ID. You may need to refresh the page."
_UNAUTHORIZED = "Invalid or unauthorized."
_INTERNAL = "An internal error occurred"

_ERROR_PAGES = {
    "nogetapi": (
        "Error: Cannot 'GET' The API",
        "<h1>Error: Cannot 'GET' the API</h1>\n<h4>You must use 'POST' requests to access the API.</h4>",
    ),
    "404": ("Error 404: Not Found", "<h1>Error 404: Not Found</h1>\n<h4>The page you requested does not exist.</h4>"),
}

# Characters allowed in a cookie value (RFC 6265 cookie-octet): what a token may be made of.
_COOKIE_OCTETS = frozenset(chr(c) for c in range(0x21, 0x7F)) - frozenset('",;\\')


class BindRefused(Exception):
    """Listening on a non-loopback address was asked for without a token."""


class TokenFileError(Exception):
    """The token file is missing, unreadable or holds no usable token (the message never quotes it)."""


class _Refusal(Exception):
    """A route refuses the request: answered ``200 {"error": message}``, as SwarmUI does."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------------------------------------------------------
# Security helpers


def is_loopback_host(host: str) -> bool:
    """True for an address (or ``localhost``) that only this machine can reach."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or "" (all interfaces): not provably local


def check_bind_allowed(host: str, token: str | None) -> None:
    """Raise ``BindRefused`` for a non-loopback address without a token."""
    if token or is_loopback_host(host):
        return
    raise BindRefused(
        f"Refusing to listen on {host or 'all addresses'!s} without a token: anyone who can reach this machine "
        "could start, stop and reconfigure its GPU workers. Either give --token-file FILE (clients then send "
        "that token as the swarm_token cookie), or keep the default --host 127.0.0.1 and reach it through an "
        "SSH tunnel: ssh -L 7801:127.0.0.1:7801 this-host"
    )


def read_token_file(path: Path) -> str:
    """Read a token from ``path``; warn (to the log) when other users can read the file."""
    try:
        st = path.stat()
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TokenFileError(f"token file {path} does not exist") from None
    except OSError as exc:
        raise TokenFileError(f"cannot read token file {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        token = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise TokenFileError(f"token file {path} is not UTF-8 text") from None
    if not token:
        raise TokenFileError(f"token file {path} is empty")
    if any(ch not in _COOKIE_OCTETS for ch in token):
        # a cookie value cannot carry spaces, quotes, commas, semicolons or backslashes
        raise TokenFileError(
            f"the token in {path} must be one line of printable ASCII without spaces, quotes, commas, "
            "semicolons or backslashes (it travels as a cookie)"
        )
    if os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("token file %s can be read by other users of this machine; run: chmod 600 %s", path, path)
    if len(token) < 16:
        log.warning("the token in %s is short (%d characters); a long random one is harder to guess", path, len(token))
    return token


def _token_ok(request: web.Request, token: str | None) -> bool:
    if token is None:
        return True
    sent = request.cookies.get(COOKIE_NAME)
    if sent is None:
        return False
    # constant time: how much of a guess matched must not show in the timing
    return hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), token.encode("utf-8"))


# ---------------------------------------------------------------------------------------------------------------
# Sessions


class _Sessions:
    """Live session ids, forgotten after ``idle`` seconds unused; at most ``limit`` of them."""

    def __init__(self, idle: float, limit: int) -> None:
        self._idle = idle
        self._limit = limit
        self._last_used: OrderedDict[str, float] = OrderedDict()

    def new(self) -> str:
        sid = secrets.token_hex(20)
        self._last_used[sid] = time.monotonic()
        while len(self._last_used) > self._limit:
            self._last_used.popitem(last=False)
        return sid

    def touch(self, sid: str) -> bool:
        now = time.monotonic()
        used = self._last_used.get(sid)
        if used is None:
            return False
        if now - used > self._idle:
            del self._last_used[sid]
            return False
        self._last_used[sid] = now
        self._last_used.move_to_end(sid)
        return True

    def __len__(self) -> int:
        return len(self._last_used)


# ---------------------------------------------------------------------------------------------------------------
# Parameter coercion, as SwarmUI's APICallReflectBuilder does it (each value goes through its text form)

_REQUIRED: Any = object()


def _as_text(value: Any) -> str:
    """The text SwarmUI's JToken.ToString() gives for a JSON value (close enough for coercion and messages)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def _param(body: dict[str, Any], name: str, kind: str, default: Any = _REQUIRED) -> Any:
    """Read parameter ``name`` of C# type ``kind`` (``String``, ``Int32``, ``Boolean``), refusing like SwarmUI."""
    if name not in body:
        if default is _REQUIRED:
            raise _Refusal(f"Missing required parameter '{name}'")
        return default
    value = body[name]
    text = _as_text(value)
    if kind == "String":
        return text
    if kind == "Int32":
        stripped = text.strip()
        digits = stripped[1:] if stripped[:1] in "+-" else stripped
        if digits.isascii() and digits.isdigit():
            number = int(stripped)
            if -(2**31) <= number < 2**31:
                return number
    elif kind == "Boolean":
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    else:  # pragma: no cover - programming error
        raise AssertionError(kind)
    raise _Refusal(f"Invalid value '{text}' for parameter '{name}', must be type '{kind}'")


def _selector(text: str) -> BackendSelector | None:
    """SwarmUI compares ``backend`` with ``"all"`` and each id's text exactly; None matches no backend."""
    if text == "all":
        return "all"
    if text.isascii() and (text.isdigit() or (text[:1] == "-" and text[1:].isdigit())) and str(int(text)) == text:
        return int(text)
    return None


# ---------------------------------------------------------------------------------------------------------------
# The API


_Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class _Api:
    def __init__(
        self, service: BackendService, *, token: str | None, max_body: int, read_timeout: float,
        session_idle: float, max_sessions: int,
    ) -> None:
        self._service = service
        self._token = token
        self._max_body = max_body
        self._read_timeout = read_timeout
        self._sessions = _Sessions(session_idle, max_sessions)
        self._server_id = str(uuid.uuid4())
        self._secret_names: dict[str, frozenset[str]] = {}
        self.logs = ServeLogs(service)
        handlers: dict[Route, _Handler] = {
            Route.LIST_BACKEND_TYPES: self._list_backend_types,
            Route.LIST_BACKENDS: self._list_backends,
            Route.ADD_NEW_BACKEND: self._add_new_backend,
            Route.EDIT_BACKEND: self._edit_backend,
            Route.DELETE_BACKEND: self._delete_backend,
            Route.TOGGLE_BACKEND: self._toggle_backend,
            Route.RESTART_BACKENDS: self._restart_backends,
            Route.FREE_BACKEND_MEMORY: self._free_backend_memory,
            Route.LIST_LOG_TYPES: self.logs.list_log_types,
            Route.LIST_RECENT_LOG_MESSAGES: self.logs.list_recent_log_messages,
        }
        self._routes: dict[str, _Handler] = {route.key: handlers[route] for route in SERVED_ROUTES}

    # -- HTTP level ------------------------------------------------------------------------------------------

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.lower()
        if path.startswith("/api/"):
            if request.method != "POST":
                # SwarmUI answers any non-POST API request with a redirect to its "Cannot GET the API" page
                return _redirect("/Error/NoGetAPI")
            return await self._api(request, path[len("/api/"):])
        if request.method in ("GET", "HEAD") and path.startswith("/error/"):
            page = _ERROR_PAGES.get(path[len("/error/"):])
            if page is not None:
                return _html_page(*page, status=404 if path == "/error/404" else 200)
        return _redirect("/Error/404")

    async def expect(self, request: web.Request) -> web.StreamResponse | None:
        """``Expect: 100-continue``: refuse a body that would be refused anyway before the client sends it."""
        if request.method == "POST" and request.path.lower().startswith("/api/"):
            refusal = self._precheck(request)
            if refusal is not None:
                refusal.force_close()  # the body it announced will not be read: this connection is done
                return refusal
        if request.headers.get("Expect", "").lower() == "100-continue" and request.version >= (1, 1):
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return None

    def _precheck(self, request: web.Request) -> web.Response | None:
        """SwarmUI's checks before the body is read: content type, then a sane Content-Length."""
        if not _has_json_content_type(request.headers.get("Content-Type", "")):
            log.info("API request to %s refused: wrong content type", request.path)
            return _error(400, "basic_api", "Wrong content type")
        length = request.content_length
        if length is None or length <= 0 or length >= self._max_body:
            log.info("API request to %s refused: bad content length %s", request.path, length)
            return _error(400, "basic_api", "bad content length")
        return None

    async def _api(self, request: web.Request, route: str) -> web.Response:
        refusal = self._precheck(request)
        if refusal is not None:
            return refusal
        try:
            async with asyncio.timeout(self._read_timeout):
                raw = await request.read()
        except TimeoutError:
            log.info("API request to %s refused: body not received within %.0f s", request.path, self._read_timeout)
            return _error(400, "basic_api", "request body timed out")
        except web.HTTPRequestEntityTooLarge:
            return _error(400, "basic_api", "bad content length")
        body, problem = _parse_body(raw)
        if problem is not None:
            log.info("API request to %s refused: %s", request.path, problem)
            return _error(400, "basic_api", problem)
        assert body is not None

        if route == Route.GET_NEW_SESSION.key:
            return _json(200, self._new_session(request))
        if route not in _SESSIONLESS_KEYS:  # SwarmUI lets Login through without a session, as it does GetNewSession
            if "session_id" in body:
                sid = _as_text(body["session_id"])
            elif "X-Session-ID" in request.headers:
                sid = request.headers["X-Session-ID"]
            else:
                return _error(400, "basic_api", "missing session id")
            # with a token, a session is only good together with the token cookie
            if not (_token_ok(request, self._token) and self._sessions.touch(sid)):
                return _json(401, {"error": _INVALID_SESSION, "error_id": "invalid_session_id"})
        handler = self._routes.get(route)
        if handler is None:
            log.info("API request to unknown route %s", request.path)
            return _error(400, "bad_route", "Unknown API route")
        args = {k: v for k, v in body.items() if k != "session_id"}
        try:
            reply = await handler(args)
        except _Refusal as exc:
            reply = {"error": exc.message}
        except BackendApiError as exc:
            reply = {"error": exc.message}
        except ServiceUnavailable as exc:
            # this server was reached; what it manages was not: a refusal the person can read, not a transport
            # failure of this server (which the client would misreport as "cannot reach <this server>")
            log.warning("route %s: the managed service is unavailable: %s", route, exc.message)
            reply = {"error": exc.message}
        except asyncio.CancelledError:
            raise
        except LogRequestError as exc:  # SwarmUI's handler throws on these requests: its internal_error, not ours
            log.info("route %s refused: %s", route, exc)
            return _error(400, "internal_error", _INTERNAL)
        except Exception as exc:
            _log_internal(route, exc)
            return _error(400, "internal_error", _INTERNAL)
        if "error" in reply:
            log.info("route %s refused: %s", route, reply["error"])
        try:
            return _json(200, reply)
        except (TypeError, ValueError) as exc:  # a service handed back something JSON cannot carry
            _log_internal(route, exc)
            return _error(400, "internal_error", _INTERNAL)

    def _new_session(self, request: web.Request) -> dict[str, Any]:
        if not _token_ok(request, self._token):
            log.warning("GetNewSession refused to %s: missing or wrong %s cookie", request.remote, COOKIE_NAME)
            return {"error": _UNAUTHORIZED}
        return {
            "session_id": self._sessions.new(),
            "user_id": "local",
            "output_append_user": True,
            "version": __version__,
            "server_id": self._server_id,
            "permissions": list(PERMISSIONS),
        }

    # -- the 8 routes ----------------------------------------------------------------------------------------

    async def _list_backend_types(self, body: dict[str, Any]) -> dict[str, Any]:
        types = await self._service.list_backend_types()
        self._secret_names = {t.id: frozenset(s.name for s in t.settings if s.is_secret) for t in types}
        return {"list": [t.to_wire() for t in types]}

    async def _list_backends(self, body: dict[str, Any]) -> dict[str, Any]:
        nonreal = _param(body, "nonreal", "Boolean", False)
        full_data = _param(body, "full_data", "Boolean", False)
        backends = await self._service.list_backends(nonreal=nonreal, full_data=full_data)
        await self._learn_types({b.type for b in backends.values()})
        return {str(b.id): self._backend_to_wire(b, full=full_data) for b in sorted(backends.values(), key=_by_id)}

    async def _add_new_backend(self, body: dict[str, Any]) -> dict[str, Any]:
        type_id = _param(body, "type_id", "String")
        backend = await self._service.add_backend(type_id)
        await self._learn_types({backend.type})
        return self._backend_to_wire(backend, full=False)

    async def _edit_backend(self, body: dict[str, Any]) -> dict[str, Any]:
        backend_id = _param(body, "backend_id", "Int32")
        title = _param(body, "title", "String")
        new_id = _param(body, "new_id", "Int32", -1)
        settings = body.get("settings")
        if not isinstance(settings, dict):
            raise _Refusal("Missing settings.")
        backend = await self._service.edit_backend(backend_id, title, settings, None if new_id == -1 else new_id)
        await self._learn_types({backend.type})
        return self._backend_to_wire(backend, full=False)

    async def _delete_backend(self, body: dict[str, Any]) -> dict[str, Any]:
        backend_id = _param(body, "backend_id", "Int32")
        deleted = await self._service.delete_backend(backend_id)
        return {"result": "Deleted." if deleted else "Already didn't exist."}

    async def _toggle_backend(self, body: dict[str, Any]) -> dict[str, Any]:
        backend_id = _param(body, "backend_id", "Int32")
        enabled = _param(body, "enabled", "Boolean")
        changed = await self._service.toggle_backend(backend_id, enabled)
        return {"result": "Success." if changed else "No change."}

    async def _restart_backends(self, body: dict[str, Any]) -> dict[str, Any]:
        which = await self._existing(_param(body, "backend", "String", "all"))
        count = 0 if which is None else await self._service.restart_backends(which)
        return {"result": "Success.", "count": count}

    async def _free_backend_memory(self, body: dict[str, Any]) -> dict[str, Any]:
        system_ram = _param(body, "system_ram", "Boolean", False)
        which = await self._existing(_param(body, "backend", "String", "all"))
        count = 0 if which is None else await self._service.free_memory(system_ram=system_ram, backend=which)
        return {"result": count > 0, "count": count}

    async def _existing(self, text: str) -> BackendSelector | None:
        """The selector for ``backend``, or None when it names no backend: SwarmUI then counts 0 (no refusal)."""
        which = _selector(text)
        if isinstance(which, int) and which not in await self._service.list_backends(nonreal=True):
            return None
        return which

    # -- secrets never leave -----------------------------------------------------------------------------------

    async def _learn_types(self, type_ids: set[str]) -> None:
        """Know which settings of these types are secret (asks the service once per unseen type set)."""
        if type_ids - self._secret_names.keys():
            types = await self._service.list_backend_types()
            self._secret_names = {t.id: frozenset(s.name for s in t.settings if s.is_secret) for t in types}

    def _backend_to_wire(self, backend: Backend, *, full: bool) -> dict[str, Any]:
        out = backend.to_wire()
        secret = self._secret_names.get(backend.type, frozenset())
        # defence in depth: the service should already send the marker; a real value must never go out
        out["settings"] = {
            name: (SECRET_MARKER if name in secret and value not in (None, "") else value)
            for name, value in out["settings"].items()
        }
        out.setdefault("seconds_since_used", 0)
        out.setdefault("time_since_used", "Never")
        if full:
            out.setdefault("current_model", None)
        else:
            out.pop("current_model", None)
            for key in WORKER_KEYS:  # the worker's port, page and queue: with full data only, as its model
                out.pop(key, None)
        out["status_message"] = backend.status_message or ""
        return out


def _by_id(backend: Backend) -> int:
    return backend.id


def _has_json_content_type(value: str) -> bool:
    """ASP.NET's HasJsonContentType: ``application/json`` or any ``+json`` media type, parameters allowed."""
    media = value.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.count("/") == 1 and media.endswith("+json"))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_body(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The body as a JSON object, or the ``basic_api`` text saying why not."""
    try:
        value = json.loads(raw.decode("utf-8-sig"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, "invalid JSON"
    if value is None:
        return None, "null input"  # SwarmUI's own text for this case
    if not isinstance(value, dict):
        return None, "input must be a JSON object"
    return value, None


def _json(status: int, payload: dict[str, Any]) -> web.Response:
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return web.Response(status=status, text=text, content_type="application/json", charset="utf-8")


def _error(status: int, error_id: str, message: str) -> web.Response:
    return _json(status, {"error_id": error_id, "error": message})


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


def _html_page(title: str, body: str, *, status: int) -> web.Response:
    html = f"<!DOCTYPE html>\n<html><head><title>{title}</title></head><body>\n{body}\n</body></html>\n"
    return web.Response(status=status, text=html, content_type="text/html", charset="utf-8")


def _log_internal(route: str, exc: BaseException) -> None:
    # the traceback's frames, not the exception's message: a message may quote a value (a setting, a token)
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("internal error in route %s: %s (message withheld)\n%s", route, type(exc).__qualname__, frames)


# ---------------------------------------------------------------------------------------------------------------
# App factory and runner


def create_app(
    service: BackendService,
    *,
    token: str | None = None,
    max_body: int = MAX_BODY,
    read_timeout: float = READ_TIMEOUT,
    session_idle: float = SESSION_IDLE_SECONDS,
    max_sessions: int = MAX_SESSIONS,
) -> web.Application:
    """An aiohttp application serving ``service`` over SwarmUI's backend API. Does not own the service."""
    api = _Api(
        service, token=token, max_body=max_body, read_timeout=read_timeout,
        session_idle=session_idle, max_sessions=max_sessions,
    )
    # bodies over max_body are refused from their Content-Length before reading, with SwarmUI's JSON error
    app = web.Application(client_max_size=max_body)
    app.router.add_route("*", "/{tail:.*}", api.dispatch, expect_handler=api.expect)

    async def hook_logs(_app: web.Application) -> None:
        api.logs.install()

    async def unhook_logs(_app: web.Application) -> None:
        api.logs.uninstall()

    # the app's log records go to the Verbose…Error trackers while it serves
    app.on_startup.append(hook_logs)
    app.on_cleanup.append(unhook_logs)
    return app


#: Routes a client calls over and over to stay up to date (SwarmUI's web UI lists backends every 2 s).
_POLL_ROUTES = frozenset({"listbackends", "listbackendtypes", "getnewsession"})


class _AccessLog(AbstractAccessLogger):
    """One line per request: polls that were answered at DEBUG, everything else (changes, refusals, failures,
    anything odd) at INFO, so that ``serve``'s console shows what happened rather than the pollers' heartbeat."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        route = request.path.rstrip("/").rsplit("/", 1)[-1].lower()
        quiet = response.status < 400 and route in _POLL_ROUTES and request.path.lower().startswith("/api/")
        level = logging.DEBUG if quiet else logging.INFO
        if self.logger.isEnabledFor(level):
            self.logger.log(level, '%s "%s %s" %d in %.0f ms', request.remote, request.method, request.path,
                            response.status, time * 1000)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)  # DEBUG on means INFO on too


class ServeRunner:
    """Run ``create_app(service)`` on ``host:port`` inside the current event loop (``port=0``: any free port).

    ``async with ServeRunner(service, port=0) as srv: srv.url`` — the service is not started or closed here.
    Refuses (``BindRefused``) a non-loopback host without a token.
    """

    def __init__(
        self,
        service: BackendService,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        token: str | None = None,
        access_log: bool = False,
        **app_options: Any,
    ) -> None:
        check_bind_allowed(host, token)
        self.service = service
        self.host = host
        self.port = port
        self._token = token
        self._access_log = access_log
        self._app_options = app_options
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = self.host
        if not host or host in ("0.0.0.0", "::"):
            host = "127.0.0.1"  # all interfaces: this machine reaches it on loopback
        elif ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        app = create_app(self.service, token=self._token, **self._app_options)
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=logging.getLogger("backend_manager_gui.access") if self._access_log else None,
            access_log_class=_AccessLog,
            shutdown_timeout=2.0,  # in-flight requests get a moment; slow drips do not hold the exit up
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host or None, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        if runner.addresses:
            self.port = runner.addresses[0][1]  # the real port when 0 was asked for

    async def aclose(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> ServeRunner:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# ---------------------------------------------------------------------------------------------------------------
# The `serve` command


def _say(text: str, *, err: bool = False) -> None:
    """Print even to a console that cannot show "→" or "—" (a Windows code page): never crash on output."""
    stream = sys.stderr if err else sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    stream.write(text.encode(encoding, "replace").decode(encoding) + "\n")
    stream.flush()


def _banner(srv: ServeRunner, token_file: Path | None) -> str:
    if is_loopback_host(srv.host):
        return (
            f"Serving this computer's backends on {srv.url} — connect from Backend Manager with "
            f"File → Connect… → SwarmUI server, or tunnel: ssh -L {srv.port}:127.0.0.1:{srv.port} host"
        )
    where = srv.host or "all addresses"
    return (
        f"Serving this computer's backends on {where}, port {srv.port} — connect from Backend Manager with "
        f"File → Connect… → SwarmUI server and the token in {token_file} (sent as the {COOKIE_NAME} cookie). "
        f"Plain HTTP carries that token unencrypted: an SSH tunnel is safer than an open port "
        f"(ssh -L {srv.port}:127.0.0.1:{srv.port} host)."
    )


def serve_main(args: argparse.Namespace) -> int:
    """``backend-manager-gui serve``: run this computer's manager headless and serve it. Returns the exit code."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    token: str | None = None
    token_file: Path | None = getattr(args, "token_file", None)
    if token_file is not None:
        try:
            token = read_token_file(Path(token_file))
        except TokenFileError as exc:
            _say(f"backend-manager-gui serve: {exc}", err=True)
            return 2
    host: str = getattr(args, "host", "127.0.0.1")
    port: int = getattr(args, "port", DEFAULT_PORT)
    try:
        check_bind_allowed(host, token)
    except BindRefused as exc:
        _say(f"backend-manager-gui serve: {exc}", err=True)
        return 2
    data_dir = getattr(args, "data_dir", None)
    if data_dir is None:
        from ..paths import default_data_dir

        data_dir = default_data_dir()
    try:
        return asyncio.run(_serve(Path(data_dir), host, port, token, token_file))
    except KeyboardInterrupt:  # a second Ctrl+C during shutdown
        return 130


async def _serve(data_dir: Path, host: str, port: int, token: str | None, token_file: Path | None) -> int:
    from .local import LocalService  # here, so that create_app() does not need the local manager

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # Windows: no add_signal_handler
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))

    service = LocalService(data_dir)
    srv = ServeRunner(service, host, port, token=token, access_log=True)
    try:
        try:
            await srv.start()
        except OSError as exc:
            _say(f"backend-manager-gui serve: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
            return 1
        try:
            await service.start()
        except BackendServiceError as exc:
            _say(f"backend-manager-gui serve: cannot start the manager in {data_dir}: {exc}", err=True)
            return 1
        _say(_banner(srv, token_file))
        _say(f"Data folder: {data_dir}. Stop with Ctrl+C.")
        await stop.wait()
        _say("Stopping: shutting down the GPU workers…")
        return 0
    finally:
        await srv.aclose()
        await service.aclose()
        for sig in installed:
            loop.remove_signal_handler(sig)
