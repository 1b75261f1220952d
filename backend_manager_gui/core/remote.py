"""``RemoteService``: the BackendService contract spoken to a SwarmUI server over its HTTP API (WIRE.md).

One ``httpx.AsyncClient`` per service. Every failure is turned into one of the two contract errors at this
module's boundary: the server's refusals into ``BackendApiError`` (its own text), anything that is not the
API answering (refused connection, timeout, HTML page, truncated or garbled JSON, 5xx) into
``ServiceUnavailable`` with a sentence naming the URL and what happened. No httpx/json/KeyError escapes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx

from .errors import BackendApiError, ServiceUnavailable
from .list_decoder import BackendListDecoder
from .models import Backend, BackendLog, BackendType, backend_types_from_wire, backends_from_wire
from .remote_logs import RemoteLogReader
from .routes import Route
from .service import BackendSelector

log = logging.getLogger("backend_manager_gui.remote")

#: error_id the server sends for an unknown or expired session (HTTP 401).
_INVALID_SESSION = "invalid_session_id"
#: A call gives up when this many sessions in a row were refused before serving a single call: a server that
#: refuses every session. Sessions that do serve calls (ordinary expiry) never count, so many calls in flight
#: through repeated expiries all get through (WIRE.md: "allow a few retries").
_MAX_BARREN_SESSIONS = 3
#: Backstop against a livelock: no single call tries more often than this.
_MAX_ATTEMPTS = 32
#: Calls on the wire at once while sessions hold. After a session is refused the window drops to one call and
#: grows by one with each answered call: every request that carries a dead session counts against the server's
#: patience too (a server in a restart loop forgets all sessions every few requests), and a crowd of them can
#: kill a fresh session before anyone has used it.
_MAX_IN_FLIGHT = 8
#: Before asking for a new session, wait up to this long for the calls still on the wire (with the dead one) to
#: come back, so that the new session is tried alone; a slow call does not hold everyone up longer than this.
_DRAIN_SECONDS = 2.0
#: Pause before asking again after a session was refused without serving a call: 0.1 s, 0.2 s, 0.4 s ...
_BARREN_BACKOFF = 0.1
#: Longest server error text passed on to a person.
_MAX_ERROR_TEXT = 500


@dataclass(frozen=True)
class ServerInfo:
    """What GetNewSession told about the server (for a status bar)."""

    version: str
    server_id: str
    user_id: str
    permissions: tuple[str, ...]


def normalize_base_url(base_url: str) -> str:
    """``host:7801`` -> ``http://host:7801``; no trailing slash."""
    url = base_url.strip()
    if "://" not in url:
        url = "http://" + url
    return url.rstrip("/")


def _split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``http://user:pass@host`` -> (``http://host``, (user, pass)): the URL is shown and logged (httpx itself
    logs every request's URL at INFO), so the credentials travel as basic auth instead of inside it."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    credentials = None
    if "@" in authority:
        userinfo, authority = authority.rsplit("@", 1)
        user, _colon, password = userinfo.partition(":")
        credentials = (unquote(user), unquote(password))
    return f"{scheme}{sep}{authority}{slash}{path}", credentials


#: Turns a reply's bytes into a route's result, or None to leave the reply to the ordinary path.
_FastDecode = Callable[[bytes], Awaitable[Any]]


@dataclass(frozen=True)
class _Decoded:
    """A reply already turned into its result by a route's own decoder."""

    value: Any


class _SessionExpired(Exception):
    """Internal: the server answered 401 invalid_session_id for the session we sent."""


class RemoteService:
    """A SwarmUI server's backends, through its backend API."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 10.0) -> None:
        # shown, logged and requested without credentials; a user:password@ part travels as basic auth
        self._base, self._credentials = _split_credentials(normalize_base_url(base_url))
        self._token = token or None
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._closed = False
        self._session_id: str | None = None
        # bumped on every new session: a call that saw generation N expire renews only if it is still N
        self._generation = 0
        self._served_on_session = 0
        self._barren_sessions = 0
        self._session_lock = asyncio.Lock()
        # route calls on the wire, how many may be at once, and an event set (then replaced) when either changes
        self._on_wire = 0
        self._window = _MAX_IN_FLIGHT
        self._wire_changed = asyncio.Event()
        self._server_info: ServerInfo | None = None
        # a big server's list is mostly what it was last poll: unchanged entries are not parsed again
        self._list_decoder = BackendListDecoder()
        # which log tracker is which backend's, learnt from the server's replies
        self._logs = RemoteLogReader(self._call, self._parse)

    def __repr__(self) -> str:  # never the token
        return f"RemoteService({self._base!r}, token={'<set>' if self._token else None})"

    # ------------------------------------------------------------------ the contract
    @property
    def location(self) -> str:
        return self._base

    @property
    def server_info(self) -> ServerInfo | None:
        """The server's version and id from the last GetNewSession, None before the first call."""
        return self._server_info

    async def list_backend_types(self) -> list[BackendType]:
        reply = await self._call(Route.LIST_BACKEND_TYPES, {})
        return self._parse(Route.LIST_BACKEND_TYPES, backend_types_from_wire, reply)

    async def list_backends(self, *, nonreal: bool = False, full_data: bool = False) -> dict[int, Backend]:
        reply = await self._call(Route.LIST_BACKENDS, {"nonreal": bool(nonreal), "full_data": bool(full_data)},
                                 decode=self._list_decoder.decode)
        if isinstance(reply, _Decoded):
            return reply.value
        return self._parse(Route.LIST_BACKENDS, backends_from_wire, reply)

    async def add_backend(self, type_id: str) -> Backend:
        reply = await self._call(Route.ADD_NEW_BACKEND, {"type_id": type_id})
        return self._parse(Route.ADD_NEW_BACKEND, Backend.from_wire, reply)

    async def edit_backend(
        self, backend_id: int, title: str, settings: dict[str, object], new_id: int | None = None
    ) -> Backend:
        # settings at the top level: the server reads the body's own "settings" key (WIRE.md); the secret
        # marker "\t<secret>" is sent back untouched, meaning "keep the stored value"
        body: dict[str, Any] = {"backend_id": int(backend_id), "title": title, "settings": dict(settings)}
        if new_id is not None:
            body["new_id"] = int(new_id)
        reply = await self._call(Route.EDIT_BACKEND, body)
        return self._parse(Route.EDIT_BACKEND, Backend.from_wire, reply)

    async def delete_backend(self, backend_id: int) -> bool:
        reply = await self._call(Route.DELETE_BACKEND, {"backend_id": int(backend_id)})
        result = self._field(Route.DELETE_BACKEND, reply, "result", str)
        return result != "Already didn't exist."

    async def toggle_backend(self, backend_id: int, enabled: bool) -> bool:
        reply = await self._call(Route.TOGGLE_BACKEND, {"backend_id": int(backend_id), "enabled": bool(enabled)})
        result = self._field(Route.TOGGLE_BACKEND, reply, "result", str)
        return result != "No change."

    async def restart_backends(self, backend: BackendSelector = "all") -> int:
        reply = await self._call(Route.RESTART_BACKENDS, {"backend": _selector(backend)})
        return self._field(Route.RESTART_BACKENDS, reply, "count", int)

    async def free_memory(self, *, system_ram: bool = False, backend: BackendSelector = "all") -> int:
        reply = await self._call(Route.FREE_BACKEND_MEMORY, {"system_ram": bool(system_ram), "backend": _selector(backend)})
        if reply.get("result") is False:
            return 0
        return self._field(Route.FREE_BACKEND_MEMORY, reply, "count", int)

    async def backend_log(self, backend_id: int, after: int = 0) -> BackendLog:
        return await self._logs.read(backend_id, after)

    async def aclose(self) -> None:
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.aclose()
            except Exception:  # closing must never fail the caller's shutdown
                log.debug("closing the HTTP client of %s failed", self._base, exc_info=True)

    async def __aenter__(self) -> RemoteService:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ sessions
    async def _call(self, route: str, body: dict[str, Any], *, decode: _FastDecode | None = None) -> Any:
        """One API call with a valid session; renews an expired session (shared by concurrent callers)."""
        for _attempt in range(_MAX_ATTEMPTS):
            session_id, generation = await self._take_wire_slot()
            try:
                reply = await self._post(route, {**body, "session_id": session_id}, decode=decode)
            except _SessionExpired:
                self._drop_session(generation)
                self._leave_wire()
                continue  # the next slot comes with a new session
            except BaseException:
                self._leave_wire()
                raise
            self._leave_wire(answered=True)
            if generation == self._generation:
                self._served_on_session += 1
            self._barren_sessions = 0  # the server honours sessions (a late reply may have been counted barren)
            return reply
        raise BackendApiError(
            f"{self._base} keeps rejecting new sessions; try again later.", _INVALID_SESSION
        )

    async def _take_wire_slot(self) -> tuple[str, int]:
        """A session and a place on the wire for one call: waits while the window is full, and never hands out a
        session that was dropped meanwhile."""
        while True:
            session_id, generation = await self._ensure_session()
            while self._on_wire >= self._window and self._session_id == session_id:
                await self._wire_changed.wait()
            if self._session_id == session_id:
                self._on_wire += 1
                return session_id, generation

    def _leave_wire(self, *, answered: bool = False) -> None:
        self._on_wire -= 1
        if answered and self._window < _MAX_IN_FLIGHT:
            self._window += 1
        changed, self._wire_changed = self._wire_changed, asyncio.Event()
        changed.set()

    def _drop_session(self, generation: int) -> None:
        """The server refused the session a call carried. When it is still the current one, no call may take it
        any more (at once: a request with a dead session counts against the server's patience too), the window
        closes to one call, and the session counts as barren if it was used and refused without serving a call."""
        if generation != self._generation or self._session_id is None:
            return  # already replaced (or being replaced): a late refusal of an old session
        self._barren_sessions = self._barren_sessions + 1 if self._served_on_session == 0 else 0
        self._session_id = None
        self._window = 1

    async def _ensure_session(self) -> tuple[str, int]:
        if self._session_id is None:
            async with self._session_lock:
                if self._session_id is None:
                    await self._open_session()
        assert self._session_id is not None
        return self._session_id, self._generation

    async def _open_session(self) -> None:
        """Under the session lock: the first session, or one after the server refused the last."""
        if self._barren_sessions > _MAX_BARREN_SESSIONS:
            self._barren_sessions = 0
            raise BackendApiError(
                f"{self._base} refused every new session it handed out; try again later.", _INVALID_SESSION
            )
        if self._generation:
            # the calls still out with the dead session come back (refused) before the new one is tried alone
            await self._drain_wire()
            if self._barren_sessions:
                await asyncio.sleep(_BARREN_BACKOFF * 2 ** (self._barren_sessions - 1))
        await self._new_session()

    async def _drain_wire(self) -> None:
        """Wait (a bounded time) until no call is on the wire."""
        deadline = time.monotonic() + _DRAIN_SECONDS
        while self._on_wire > 0 and (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wire_changed.wait(), left)

    async def _new_session(self) -> None:
        if self._token is not None and not (self._token.isascii() and self._token.isprintable()):
            # httpx cannot put it in a header: without this it read "Cannot reach …: UnicodeEncodeError."
            raise BackendApiError(
                f"The token for {self._base} holds a character no token has (a line break, or a letter outside "
                "ASCII such as a typographic quote): check the token for this server.", "unauthorized"
            )
        try:
            reply = await self._post(Route.GET_NEW_SESSION, {})
        except _SessionExpired:
            raise BackendApiError(f"{self._base} refused to open a session.", _INVALID_SESSION) from None
        except BackendApiError as err:
            if err.message.strip().rstrip(".").lower() == "invalid or unauthorized":
                raise BackendApiError(self._token_refused_text(), "unauthorized") from None
            raise
        session_id = reply.get("session_id")
        if not isinstance(session_id, str) or not session_id:
            raise ServiceUnavailable(
                f"{self._base} answered GetNewSession without a session id: this does not look like a SwarmUI server."
            )
        permissions = reply.get("permissions")
        self._server_info = ServerInfo(
            version=str(reply.get("version", "")),
            server_id=str(reply.get("server_id", "")),
            user_id=str(reply.get("user_id", "")),
            permissions=tuple(str(p) for p in permissions) if isinstance(permissions, list) else (),
        )
        self._session_id = session_id
        self._generation += 1
        self._served_on_session = 0

    def _token_refused_text(self) -> str:
        if self._token:
            return f"{self._base} refused the token: check the token for this server."
        return f"{self._base} requires a token (an account's swarm_token) and none was given."

    # ------------------------------------------------------------------ one HTTP request
    def _client_for_use(self) -> httpx.AsyncClient:
        if self._closed:
            raise ServiceUnavailable(f"The connection to {self._base} was closed.")
        if self._client is None:
            cookies = {"swarm_token": self._token} if self._token else None
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout),
                verify=self._ssl_context(),
                cookies=cookies,
                auth=httpx.BasicAuth(*self._credentials) if self._credentials else None,
                follow_redirects=False,
            )
        return self._client

    def _ssl_context(self) -> ssl.SSLContext:
        if not self._base.lower().startswith("https://"):
            # plain http never uses TLS: don't read SSL_CERT_FILE at all (a broken one made httpx raise
            # FileNotFoundError at client creation on a bare Debian). A bare verifying context with no CAs
            # fails closed should anything ever try TLS through it.
            return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            return httpx.create_ssl_context(trust_env=True)
        except (OSError, ssl.SSLError):
            log.warning("the certificate file named by SSL_CERT_FILE/SSL_CERT_DIR cannot be read; using certifi's bundle")
            import certifi

            return ssl.create_default_context(cafile=certifi.where())

    async def _post(self, route: str, body: dict[str, Any], *, decode: _FastDecode | None = None) -> Any:
        """POST one route; returns the reply object or raises a contract error (or _SessionExpired).

        With ``decode``, a 200 reply is first offered to it; what it makes of it comes back as ``_Decoded``,
        and when it declines (None, or an error) the reply takes the ordinary path below.
        """
        url = f"{self._base}/API/{route}"
        started = time.monotonic()

        def done(outcome: str, level: int = logging.DEBUG) -> None:
            # route + outcome + duration only: bodies may hold secrets
            log.log(level, "POST %s/API/%s -> %s in %.0f ms", self._base, route, outcome, (time.monotonic() - started) * 1000)

        try:
            payload = json.dumps(body, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError):
            # name no value: it may be a secret
            raise BackendApiError(f"The request to {route} holds a value that cannot be sent as JSON.") from None
        try:
            client = self._client_for_use()
            response = await client.post(url, content=payload, headers={"Content-Type": "application/json"})
            content = response.content
        except ServiceUnavailable:
            done("closed", logging.INFO)
            raise
        except httpx.TimeoutException:
            done("timeout", logging.INFO)
            raise ServiceUnavailable(
                f"Cannot reach {self._base}: no answer within {self._timeout:g} s."
            ) from None
        except httpx.ConnectError as err:
            done("connect error", logging.INFO)
            raise ServiceUnavailable(f"Cannot reach {self._base}: {_connect_reason(err)}.") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            done("connection dropped", logging.INFO)
            raise ServiceUnavailable(
                f"Cannot reach {self._base}: the connection was dropped before the reply was complete."
            ) from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol):
            done("invalid URL", logging.INFO)
            raise ServiceUnavailable(f"Cannot reach {self._base}: that is not a valid http:// or https:// address.") from None
        except httpx.HTTPError as err:
            done(type(err).__name__, logging.INFO)
            raise ServiceUnavailable(f"Cannot reach {self._base}: {type(err).__name__}.") from None
        except Exception as err:  # the boundary: nothing else escapes (e.g. OSError from the SSL setup)
            done(type(err).__name__, logging.WARNING)
            raise ServiceUnavailable(f"Cannot reach {self._base}: {type(err).__name__}.") from None

        status = response.status_code
        if status >= 500:
            done(f"HTTP {status}", logging.INFO)
            raise ServiceUnavailable(f"The server at {self._base} answered HTTP {status} to {route}.")
        if decode is not None and status == 200:
            try:
                fast = await decode(content)
            except Exception:  # a malformed entry: the ordinary path below says what is wrong
                fast = None
            if fast is not None:
                done(f"HTTP {status}")
                return _Decoded(fast)
        try:
            reply = json.loads(content)
        except RecursionError:
            # valid JSON, nested deeper than the parser goes: not "cut off", which would send people hunting a proxy
            done(f"HTTP {status}, nested too deeply", logging.INFO)
            raise ServiceUnavailable(
                f"{self._base} did not answer like a SwarmUI server: it sent a reply nested too deeply to read (HTTP {status})."
            ) from None
        except ValueError as err:
            if isinstance(err, UnicodeDecodeError):
                kind = "a reply that is not UTF-8 text"  # JSON must be; "cut off" would mislead
            else:
                # a syntax error in JSON-looking text is most likely a cut-off reply; a ValueError that is not a
                # syntax error (a number of 5,000 digits, over Python's int limit) is not
                cut_off = isinstance(err, json.JSONDecodeError)
                kind = _describe_non_json(response.headers.get("content-type", ""), content, cut_off=cut_off)
            done(f"HTTP {status}, {kind}", logging.INFO)
            raise ServiceUnavailable(
                f"{self._base} did not answer like a SwarmUI server: it sent {kind} (HTTP {status})."
            ) from None
        if not isinstance(reply, dict):
            done(f"HTTP {status}, JSON {type(reply).__name__}", logging.INFO)
            raise ServiceUnavailable(
                f"{self._base} did not answer like a SwarmUI server: the reply to {route} is not a JSON object."
            )
        error = reply.get("error")
        error_id = reply.get("error_id")
        error_id = str(error_id) if error_id is not None else None
        if error_id == _INVALID_SESSION:
            done(f"HTTP {status}, session expired")
            raise _SessionExpired()
        if error is not None or error_id is not None:
            text = _error_text(error, error_id)
            done(f"HTTP {status}, refused ({error_id or 'route'})", logging.INFO)
            raise BackendApiError(text, error_id)
        if status != 200:
            done(f"HTTP {status}", logging.INFO)
            raise ServiceUnavailable(f"{self._base} answered {route} with HTTP {status} and no explanation.")
        done(f"HTTP {status}")
        return reply

    # ------------------------------------------------------------------ reading replies
    def _parse(self, route: str, parser: Any, reply: Mapping[str, Any]) -> Any:
        # A JSON object whose fields are wrong is the server not speaking this API, not a refusal of the
        # request: report it as a transport failure (WIRE.md: a malformed reply is "cannot reach server"),
        # keeping the parser's text, which names the field.
        try:
            return parser(reply)
        except BackendApiError as err:
            raise ServiceUnavailable(f"{self._base} sent a reply to {route} this app cannot read. {err.message}") from None
        except Exception as err:  # the boundary: a parser bug must not escape as a crash either
            raise ServiceUnavailable(
                f"{self._base} sent a reply to {route} this app cannot read ({type(err).__name__})."
            ) from None

    def _field(self, route: str, reply: Mapping[str, Any], key: str, kind: type) -> Any:
        value = reply.get(key)
        if kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ServiceUnavailable(
                f"{self._base} sent a reply to {route} this app cannot read: field '{key}' is missing or of the wrong type."
            )
        return value


def _selector(backend: BackendSelector) -> str:
    # the server reads "backend" as a string: "all" or the id's digits
    if isinstance(backend, str):
        if backend.strip().lower() == "all":
            return "all"
        return backend.strip()
    return str(int(backend))


def _error_text(error: Any, error_id: str | None) -> str:
    if isinstance(error, str) and error.strip():
        text = error.strip()
    elif error is not None:
        text = json.dumps(error)[:_MAX_ERROR_TEXT]
    else:
        text = f"The server refused the request ({error_id})."
    if len(text) > _MAX_ERROR_TEXT:
        text = text[:_MAX_ERROR_TEXT] + "…"
    return text


def _connect_reason(err: BaseException) -> str:
    # the OS's reason sits at the end of the cause chain (httpx -> httpcore -> anyio's OSError -> the real one)
    chain: list[BaseException] = []
    cur: BaseException | None = err
    while cur is not None and len(chain) < 10:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    for exc in chain:
        if isinstance(exc, ConnectionRefusedError):
            return "connection refused (is the server running on that port?)"
        if isinstance(exc, socket.gaierror):
            return "the host name is unknown"
        if isinstance(exc, ssl.SSLError):
            return "the secure (https) connection could not be set up"
        if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return "the network or host is unreachable"
    text = " ".join(str(exc) for exc in chain).lower()
    if "refused" in text:
        return "connection refused (is the server running on that port?)"
    if "name or service not known" in text or "nodename nor servname" in text:
        return "the host name is unknown"
    return "could not connect"


def _describe_non_json(content_type: str, content: bytes, *, cut_off: bool = True) -> str:
    head = content.lstrip()[:64].lower()
    if "html" in content_type.lower() or head.startswith((b"<!doctype", b"<html", b"<h1", b"<")):
        return "a web page instead of an API reply"
    if not content.strip():
        return "an empty reply"
    if head.startswith((b"{", b"[")):
        return "an incomplete (cut off) reply" if cut_off else "a reply that is not valid JSON"
    return "a reply that is not JSON"
