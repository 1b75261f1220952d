"""A fake SwarmUI server on 127.0.0.1: the session handshake and the 8 backend routes, as WIRE.md describes them
(and as SwarmUI's own src/WebAPI/API.cs and BackendAPI.cs behave), with switches for the faults a client must survive.

In-process::

    async with FakeSwarm() as fake:          # or: fake = FakeSwarm(); await fake.start(); ...; await fake.stop()
        svc = RemoteService(fake.url)
        fake.expire_every = 3                 # switches are plain attributes, settable at any time
        fake.fault = "html200"
        fake.set_status(0, "errored")
        assert fake.new_sessions == 1 and fake.calls["listbackends"] == 2
        fake.hold("listbackends", at="reply")  # the next ListBackends is answered only when released:
        await fake.until_waiting("listbackends")  # ... it is in flight now, its reply worked out
        fake.unhold("listbackends")

Logs (``ListLogTypes``, ``ListRecentLogMessages``; src/Utils/Logs.cs, src/WebAPI/AdminAPI.cs,
src/Backends/NetworkBackendUtils.cs): the six levels, and a tracker per self-started backend whose process is
alive (status loading, idle or running), named ``ComfyUI-<id>`` with identifier ``backend-<id>``; it goes away when
the process does (any other status), as SwarmUI drops it when the process's output closes. One sequence counter
for all, 1,024 lines kept per tracker. Tests write a worker's output with ``fake.worker_output(id, line)``
(copied to Debug, or to Warning when it looks like an error, as ``[ComfyUI-<id>/STDOUT] …``) and a server line
with ``fake.log("Error", text)``; ``fake.permissions.discard("view_logs")`` takes the permission away.

As a subprocess (reliability tests kill and restart it on the same port)::

    python -m tests.support.fake_swarm --port 0 --backends 2 [--token T] [--locked] [--expire-every K]
           [--latency S] [--fault MODE]
    # prints "FAKE_SWARM_URL http://127.0.0.1:PORT" on stdout once it is listening, runs until killed.

Faults (``fault``), applied to every /API/ request including GetNewSession, before anything else:
``http500`` (SwarmUI's own error page, status 500), ``html200`` (an HTML page with status 200, as a captive portal
or a proxy's login page sends), ``truncated_json`` (a valid reply cut in half), ``drop`` (the connection closed
after the headers, mid-reply), ``every_third`` (every third request gets the 500 page; the others work).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import secrets
import sys
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

SECRET_MARKER = "\t<secret>"
TYPES_FILE = Path(__file__).with_name("swarmui_backend_types.json")
_DATA = json.loads(TYPES_FILE.read_text(encoding="utf-8"))
BACKEND_TYPES: list[dict[str, Any]] = _DATA["backend_types"]
ERROR_PAGES: dict[str, list[str]] = _DATA["error_pages"]
FAULTS = ("http500", "html200", "truncated_json", "drop", "every_third")
STATUSES = ("disabled", "errored", "waiting", "loading", "idle", "running")

# Route names and permissions are spelled here on their own, not taken from the product's route table
# (backend_manager_gui/core/routes.py): this fake stands for the real SwarmUI server, so it must stay independent of
# the client it tests; a name mistyped in the product's table then fails the tests instead of agreeing with itself.

#: route (lower case) -> the permission SwarmUI registers it with (BackendAPI.Register)
ROUTE_PERMISSIONS = {
    "listbackendtypes": "view_backends_list",
    "listbackends": "view_backends_list",
    "deletebackend": "add_remove_backends",
    "togglebackend": "toggle_backends",
    "editbackend": "edit_backends",
    "addnewbackend": "add_remove_backends",
    "restartbackends": "restart_backends",
    "freebackendmemory": "control_mem_clean",
    "listlogtypes": "view_logs",  # AdminAPI.Register
    "listrecentlogmessages": "view_logs",
}
#: Logs.cs: the levels and their colours, in order; a tracker keeps this many messages
LOG_LEVELS = {"Verbose": "#606060", "Debug": "#808080", "Info": "#00FFFF", "Init": "#00FF00",
              "Warning": "#FFFF00", "Error": "#FF0000"}
MAX_TRACKED = 1024
#: backend type -> the name its self-started process's tracker gets ("<prefix>-<id>")
SELF_START_NAMES = {"comfyui_selfstart": "ComfyUI", "auto_webui_selfstart": "AutoWebUI"}
PROCESS_ALIVE = ("loading", "idle", "running")


@dataclass
class LogTracker:
    """Logs.LogTracker: the last MAX_TRACKED messages (sequence, time, text) and the last sequence id."""

    color: str = "#707070"
    identifier: str = ""
    messages: deque[tuple[int, str, str]] = field(default_factory=lambda: deque(maxlen=MAX_TRACKED))
    last_seq: int = 0
    # ReportLogsFromProcess's "keepShowing", per stream: the lines after an error line are copied to Warning too
    keep_showing: dict[str, bool] = field(default_factory=dict)
ALL_PERMISSIONS = tuple(p for p, _level in _DATA["permissions"])


def error_page(name: str) -> str:
    """SwarmUI's own error page (title + body from the recorded error_pages), as a whole HTML document."""
    title, body = ERROR_PAGES[name]
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
        f'<link rel="stylesheet" href="/css/bootstrap.min.css">\n</head>\n<body>\n<div class="container">\n'
        f"    {body}\n</div>\n</body>\n</html>\n"
    )


class _Refused(Exception):
    """A route's own refusal: HTTP 200 {"error": text}."""


class _Throws(Exception):
    """The route's C# code would throw (a null reference, a bad conversion): 400 internal_error."""


class FakeSwarm:
    def __init__(
        self,
        *,
        port: int = 0,
        token: str | None = None,
        locked: bool = False,
        expire_every: int | None = None,
        latency: float = 0.0,
        fault: str | None = None,
        backends: int = 0,
    ) -> None:
        self.port = port
        # --- switches (plain attributes; change them any time) ---
        self.token = token  # when set, GetNewSession needs cookie swarm_token=<token>
        self.locked = locked  # every change answers {"error": "Settings are locked."}
        self.expire_every = expire_every  # a session serves this many route calls, then the next gets 401
        self.drop_sessions_every: int | None = None  # every Kth session check forgets all sessions (a restart loop)
        self.latency = latency  # seconds added before every /API/ reply
        self.fault: str | None = fault
        self.permissions: set[str] = set(ALL_PERMISSIONS)  # remove one to get bad_permissions on its routes
        self.internal_error_routes: set[str] = set()  # lower-case routes that answer internal_error
        self.missing_routes: set[str] = set()  # lower-case routes this server lacks (an older server): bad_route
        self.reply_overrides: dict[str, Any] = {}  # lower-case route -> JSON value sent instead (malformed replies)
        # --- state ---
        self.backends: dict[int, dict[str, Any]] = {}
        self.secrets: dict[int, dict[str, Any]] = {}  # stored values of secret settings, never sent
        self.sessions: dict[str, int] = {}  # session id -> route calls it served
        self.version = "0.9.8.2-fake"
        # logs: name -> tracker, the levels first (Logs.OtherTrackers); one counter for every message
        self.log_trackers: dict[str, LogTracker] = {n: LogTracker(color=c) for n, c in LOG_LEVELS.items()}
        self.last_sequence_id = 0
        self.server_id = "5f0c4a1e-0000-4000-8000-fakeswarm000"
        # --- counters tests assert on ---
        self.new_sessions = 0
        self.calls: Counter[str] = Counter()  # lower-case route -> requests that reached it (after faults)
        self.requests = 0  # every /API/ request, faults included
        self.session_checks = 0  # route requests whose session was checked
        self.faults_served = 0
        self.last_body: dict[str, Any] | None = None  # the last JSON object body a route received
        self.last_cookies: dict[str, str] = {}
        # requests of these lower-case routes wait until released, at "request" (before the session check) or
        # at "reply" (the reply worked out, not yet sent): a test puts a call in flight and knows that it is
        self._holds: dict[str, str] = {}
        self._held: dict[str, list[asyncio.Future[None]]] = {}
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        for _ in range(backends):
            self.add("comfyui_api", status="running")

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeSwarm:
        app = web.Application()
        app.router.add_route("POST", "/API/{route}", self._handle)
        app.router.add_route("POST", "/api/{route}", self._handle)
        app.router.add_route("GET", "/API/{route}", self._handle_get)
        app.router.add_route("GET", "/Error/{name}", self._handle_error_page)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()
        server = self._site._server  # the bound socket tells the real port when 0 was asked for
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for route in list(self._holds):
            self.unhold(route)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSwarm:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ helpers for tests
    def type_(self, type_id: str) -> dict[str, Any]:
        for t in BACKEND_TYPES:
            if t["id"] == type_id:
                return t
        raise KeyError(type_id)

    def add(
        self,
        type_id: str = "comfyui_api",
        *,
        status: str = "running",
        title: str = "",
        enabled: bool = True,
        settings: dict[str, Any] | None = None,
        current_model: str | None = None,
        backend_id: int | None = None,
    ) -> int:
        """Add a backend directly (no API call); returns its id."""
        t = self.type_(type_id)
        # self.backends is kept in id order: its last key is the highest id
        last = next(reversed(self.backends)) if self.backends else None
        bid = backend_id if backend_id is not None else (last + 1 if last is not None else 0)
        values = {s["name"]: copy.deepcopy(s.get("default")) for s in t["settings"]}
        values.update(settings or {})
        secret_names = {s["name"] for s in t["settings"] if s.get("is_secret")}
        self.secrets[bid] = {k: values.pop(k) for k in list(values) if k in secret_names}
        self.backends[bid] = {
            "id": bid,
            "type": type_id,
            "status": status,
            "settings": values,
            "modcount": 0,
            "features": ["comfyui", "text2image"] if type_id.startswith("comfyui") else ["text2image"],
            "enabled": enabled,
            "title": title,
            "can_load_models": True,
            "max_usages": 1,
            "seconds_since_used": 0,
            "time_since_used": "Never",
            "current_model": current_model,
        }
        if last is not None and bid < last:  # only an id out of order needs a re-sort (50,000 adds stay linear)
            self.backends = dict(sorted(self.backends.items()))
        self._sync_process_log(bid)
        return bid

    def set_status(self, backend_id: int, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(status)
        self.backends[backend_id]["status"] = status
        self._sync_process_log(backend_id)

    # ------------------------------------------------------------------ logs
    def tracker_name(self, backend_id: int) -> str | None:
        """The name of the tracker a self-started backend's process gets (None: not self-starting)."""
        prefix = SELF_START_NAMES.get(self.backends[backend_id]["type"]) if backend_id in self.backends else None
        return f"{prefix}-{backend_id}" if prefix else None

    def _track(self, tracker: LogTracker, message: str) -> int:
        self.last_sequence_id += 1
        now = datetime.now()
        tracker.messages.append((self.last_sequence_id, f"{now:%Y-%m-%d %H:%M:%S}.{now.microsecond // 1000:03d}", message))
        tracker.last_seq = self.last_sequence_id
        return self.last_sequence_id

    def log(self, level: str, message: str) -> int:
        """A line of the server's own log at ``level`` (Verbose … Error); returns its sequence id."""
        return self._track(self.log_trackers[level], message)

    def _sync_process_log(self, backend_id: int) -> None:
        """A self-started backend's tracker exists while its process lives: made at start, dropped at the end."""
        name = self.tracker_name(backend_id)
        if name is None:
            return
        backend = self.backends[backend_id]
        alive = backend["enabled"] and backend["status"] in PROCESS_ALIVE
        if alive and name not in self.log_trackers:
            self.log("Init", f"Self-Start {name} on port {7820 + backend_id} is loading...")
            self.log_trackers[name] = LogTracker(identifier=f"backend-{backend_id}")
        elif not alive and name in self.log_trackers:
            del self.log_trackers[name]
            if backend["status"] == "errored":
                self.log("Info", f"Self-Start {name} unexpectedly exited (ExitCode=1) (if something failed, change "
                                 "setting `LogLevel` to `Debug` to see why!)")

    def worker_output(self, backend_id: int, line: str, stream: str = "STDOUT") -> int:
        """A line the backend's process writes (``stream`` STDOUT or STDERR), as ReportLogsFromProcess handles it:
        copied to Warning when it is (or follows) an error line, else to Debug, then tracked. Returns its id."""
        name = self.tracker_name(backend_id)
        tracker = self.log_trackers.get(name) if name is not None else None
        if name is None or tracker is None:
            raise ValueError(f"backend {backend_id} has no live process")

        def continues(text: str) -> bool:
            # shouldContinueErrorLine
            return text.startswith(("Traceback (", "  ")) or (
                "Error: " in text and not text.startswith("Found comfy_kitchen backend"))

        low = line.lower()
        if stream == "STDOUT":
            starts = line.startswith(("Traceback (", "RuntimeError: ", "Error: "))
        else:
            starts = low.startswith("traceback (") or ("error: " in low and "found comfy_kitchen backend" not in low)
        copy_line = f"[{name}/{stream}] {line}"
        if starts:
            tracker.keep_showing[stream] = True
            self.log("Warning", copy_line)
        elif tracker.keep_showing.get(stream):
            self.log("Warning", copy_line)
            tracker.keep_showing[stream] = continues(line)
        else:
            self.log("Debug", copy_line)
        return self._track(tracker, f"[{stream}] {line}")

    def secret_value(self, backend_id: int, name: str) -> Any:
        """The stored value of a secret setting (what the server keeps and never sends)."""
        return self.secrets[backend_id][name]

    def hold(self, route: str, at: str = "reply") -> None:
        """From now on, requests of ``route`` wait at ``at`` ("request": before the session check; "reply": the
        reply worked out from the state at that moment, not yet sent) until ``release``d."""
        assert at in ("request", "reply"), at
        self._holds[route.lower()] = at

    def waiting(self, route: str) -> int:
        """How many requests of ``route`` are held now."""
        return sum(1 for fut in self._held.get(route.lower(), []) if not fut.done())

    async def until_waiting(self, route: str, n: int = 1, timeout: float = 10.0) -> None:
        """Return once the ``n``-th request of ``route`` since ``hold`` has reached the point it named (released
        ones count: it is the request in flight that a test waits for, not a delay it hopes is long enough)."""
        async def reached() -> None:
            while len(self._held.get(route.lower(), [])) < n:
                await asyncio.sleep(0.005)
        await asyncio.wait_for(reached(), timeout)

    def release(self, route: str, n: int = 1) -> None:
        """Let the ``n`` oldest held requests of ``route`` go on (the route stays held for later ones)."""
        for fut in [f for f in self._held.get(route.lower(), []) if not f.done()][:n]:
            fut.set_result(None)

    def unhold(self, route: str) -> None:
        """Stop holding ``route`` and let every held request of it go on."""
        self._holds.pop(route.lower(), None)
        for fut in self._held.pop(route.lower(), []):
            if not fut.done():
                fut.set_result(None)

    async def _wait_if_held(self, route: str, at: str) -> None:
        if self._holds.get(route) != at:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._held.setdefault(route, []).append(fut)
        await fut

    def expire_all_sessions(self) -> None:
        self.sessions.clear()

    def reset_counters(self) -> None:
        self.new_sessions = 0
        self.calls.clear()
        self.requests = 0
        self.faults_served = 0

    def clear_faults(self) -> None:
        self.fault = None
        self.latency = 0.0

    def backend_to_net(self, bid: int, full: bool = False) -> dict[str, Any]:
        b = self.backends[bid]
        out = {k: copy.deepcopy(v) for k, v in b.items() if k != "current_model"}
        for name in self.secrets.get(bid, {}):
            out["settings"][name] = SECRET_MARKER
        if full:
            out["current_model"] = b.get("current_model")
        return out

    # ------------------------------------------------------------------ HTTP
    async def _handle_get(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/Error/NoGetAPI")

    async def _handle_error_page(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in ERROR_PAGES:
            name = "404"
        return web.Response(text=error_page(name), content_type="text/html", status=200)

    async def _fault_reply(self, request: web.Request) -> web.StreamResponse | None:
        fault = self.fault
        if fault == "every_third":
            fault = "http500" if self.requests % 3 == 0 else None
        if fault is None:
            return None
        self.faults_served += 1
        if fault == "http500":
            return web.Response(text=error_page("Internal"), content_type="text/html", status=500)
        if fault == "html200":
            return web.Response(text=error_page("404"), content_type="text/html", status=200)
        if fault == "truncated_json":
            whole = json.dumps({"list": BACKEND_TYPES, "session_id": "x" * 32})
            return web.Response(text=whole[: len(whole) // 2], content_type="application/json", status=200)
        if fault == "drop":
            # promise a body, send part of it, then close the connection under the reply
            response = web.StreamResponse(status=200, headers={"Content-Type": "application/json", "Content-Length": "1000"})
            await response.prepare(request)
            await response.write(b'{"session_id": "')
            transport = request.transport
            if transport is not None:
                transport.close()
            return response
        raise ValueError(f"unknown fault {fault!r}")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        faulty = await self._fault_reply(request)
        if faulty is not None:
            return faulty
        route = request.match_info["route"].lower()
        self.last_cookies = dict(request.cookies)
        await self._wait_if_held(route, "request")
        # --- the order of SwarmUI's API.HandleAsyncRequest ---
        if request.content_type != "application/json":
            return _api_error(400, "basic_api", "Wrong content type")
        raw = await request.read()
        if not raw:
            return _api_error(400, "basic_api", "bad content length")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            # JObject.Parse throws on anything that is not an object: the catch-all answers internal_error
            return _api_error(400, "internal_error", "An internal error occurred")
        if route not in ("getnewsession", "login"):
            session_id = body.get("session_id")
            if session_id is None:
                session_id = request.headers.get("X-Session-ID")
                if session_id is None:
                    return _api_error(400, "basic_api", "missing session id")
            session_id = str(session_id)
            self.session_checks += 1
            if self.drop_sessions_every and self.session_checks % self.drop_sessions_every == 0:
                self.sessions.clear()
            if session_id not in self.sessions:
                return _api_error(401, "invalid_session_id", "Invalid session ID. You may need to refresh the page.")
            if self.expire_every is not None and self.sessions[session_id] >= self.expire_every:
                del self.sessions[session_id]
                return _api_error(401, "invalid_session_id", "Invalid session ID. You may need to refresh the page.")
            self.sessions[session_id] += 1
        handler = self._routes().get(route) if route not in self.missing_routes else None
        if handler is None:
            return _api_error(400, "bad_route", "Unknown API route")
        self.calls[route] += 1
        permission = ROUTE_PERMISSIONS.get(route)
        if permission is not None and permission not in self.permissions:
            return _api_error(400, "bad_permissions", "You lack permissions for this route.")
        if route in self.internal_error_routes:
            return _api_error(400, "internal_error", "An internal error occurred")
        self.last_body = body if route != "getnewsession" else self.last_body
        if route in self.reply_overrides:
            return web.json_response(self.reply_overrides[route], status=200)
        try:
            reply = handler(request, body)
        except _Refused as refused:
            reply = {"error": str(refused)}
        except _Throws:
            return _api_error(400, "internal_error", "An internal error occurred")
        await self._wait_if_held(route, "reply")
        return self._json_reply(route, reply)

    def _json_reply(self, route: str, reply: dict[str, Any]) -> web.Response:
        """The HTTP answer of a route that went through (a subclass may answer from a cache)."""
        return web.json_response(reply, status=200)

    def _routes(self) -> dict[str, Callable[[web.Request, dict[str, Any]], dict[str, Any]]]:
        return {
            "getnewsession": self._get_new_session,
            "listbackendtypes": self._list_backend_types,
            "listbackends": self._list_backends,
            "addnewbackend": self._add_new_backend,
            "editbackend": self._edit_backend,
            "deletebackend": self._delete_backend,
            "togglebackend": self._toggle_backend,
            "restartbackends": self._restart_backends,
            "freebackendmemory": self._free_backend_memory,
            "listlogtypes": self._list_log_types,
            "listrecentlogmessages": self._list_recent_log_messages,
        }

    # ------------------------------------------------------------------ routes
    def _get_new_session(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        if self.token is not None and request.cookies.get("swarm_token") != self.token:
            return {"error": "Invalid or unauthorized."}
        self.new_sessions += 1
        session_id = secrets.token_hex(20)
        self.sessions[session_id] = 0
        return {
            "session_id": session_id,
            "user_id": "local",
            "output_append_user": True,
            "version": self.version,
            "server_id": self.server_id,
            "permissions": sorted(self.permissions),
        }

    def _list_backend_types(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        return {"list": copy.deepcopy(BACKEND_TYPES)}

    def _list_backends(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        _param(body, "nonreal", bool, False)
        full = _param(body, "full_data", bool, False)
        return {str(bid): self.backend_to_net(bid, full) for bid in sorted(self.backends)}

    def _check_locked(self) -> None:
        if self.locked:
            raise _Refused("Settings are locked.")

    def _add_new_backend(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        type_id = _param(body, "type_id", str)
        self._check_locked()
        try:
            self.type_(type_id)
        except KeyError:
            raise _Refused(f"Invalid backend type: {type_id}") from None
        bid = self.add(type_id, status="waiting")
        return self.backend_to_net(bid)

    def _edit_backend(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        backend_id = _param(body, "backend_id", int)
        title = _param(body, "title", str)
        new_id = _param(body, "new_id", int, -1)
        self._check_locked()
        settings = body.get("settings")
        if not isinstance(settings, dict):
            raise _Refused("Missing settings.")
        if new_id == backend_id:
            new_id = -1
        if new_id >= 0 and new_id in self.backends:
            raise _Refused(f"Backend ID {new_id} is already in use.")
        if backend_id not in self.backends:
            raise _Refused(f"Invalid backend ID {backend_id}")
        backend = self.backends[backend_id]
        stored_secrets = self.secrets.setdefault(backend_id, {})
        for name, value in settings.items():
            if name in stored_secrets:
                if value != SECRET_MARKER:  # the marker sent back means "keep the stored value"
                    stored_secrets[name] = value
            else:
                backend["settings"][name] = value
        backend["title"] = title
        backend["modcount"] += 1
        backend["status"] = "waiting" if backend["enabled"] else "disabled"  # an edit shuts down and re-inits
        self._sync_process_log(backend_id)
        if new_id >= 0:
            del self.backends[backend_id]
            backend["id"] = new_id
            self.backends[new_id] = backend
            self.secrets[new_id] = self.secrets.pop(backend_id)
            self.backends = dict(sorted(self.backends.items()))
            backend_id = new_id
        return self.backend_to_net(backend_id)

    def _delete_backend(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        backend_id = _param(body, "backend_id", int)
        self._check_locked()
        if self.backends.pop(backend_id, None) is not None:
            self.secrets.pop(backend_id, None)
            self._drop_tracker_of(backend_id)
            return {"result": "Deleted."}
        return {"result": "Already didn't exist."}

    def _toggle_backend(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        backend_id = _param(body, "backend_id", int)
        enabled = _param(body, "enabled", bool)
        self._check_locked()
        backend = self.backends.get(backend_id)
        if backend is None:
            raise _Refused(f"Invalid backend ID {backend_id}")
        if backend["enabled"] == enabled:
            return {"result": "No change."}
        backend["enabled"] = enabled
        backend["status"] = "waiting" if enabled else "disabled"
        self._sync_process_log(backend_id)
        return {"result": "Success."}

    def _restart_backends(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        which = _param(body, "backend", str, "all")
        self._check_locked()
        count = 0
        for bid, backend in self.backends.items():
            if which != "all" and which != str(bid):
                continue
            if backend["status"] in ("running", "errored"):
                backend["status"] = "waiting"
                self._sync_process_log(bid)
                count += 1
        return {"result": "Success.", "count": count}

    def _free_backend_memory(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        _param(body, "system_ram", bool, False)
        which = _param(body, "backend", str, "all")
        count = sum(
            1 for bid, b in self.backends.items() if b["status"] == "running" and (which == "all" or which == str(bid))
        )
        if count == 0:
            return {"result": False, "count": 0}
        return {"result": True, "count": count}


    def _drop_tracker_of(self, backend_id: int) -> None:
        for name, tracker in list(self.log_trackers.items()):
            if tracker.identifier == f"backend-{backend_id}":
                del self.log_trackers[name]

    def _list_log_types(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        # AdminAPI.ListLogTypes
        return {"types_available": [{"name": name, "color": t.color, "identifier": t.identifier}
                                    for name, t in self.log_trackers.items()]}

    def _list_recent_log_messages(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        # AdminAPI.ListRecentLogMessages, step by step (its null references and conversions throw: internal_error)
        result = self._list_log_types(request, body)
        result["last_sequence_id"] = self.last_sequence_id
        types = body.get("types")
        if not isinstance(types, list):
            raise _Throws()
        data: dict[str, list[dict[str, Any]]] = {}
        for raw_type in types:
            name = raw_type if isinstance(raw_type, str) else json.dumps(raw_type)
            tracker = self.log_trackers.get(name)
            if tracker is None:
                continue
            messages: list[dict[str, Any]] = []
            data[name] = messages
            last_ids = body.get("last_sequence_ids")
            if not isinstance(last_ids, dict):
                raise _Throws()
            last_seq_id = -1
            if name in last_ids:
                try:
                    last_seq_id = int(last_ids[name])
                except (TypeError, ValueError):
                    raise _Throws() from None
            if tracker.last_seq < last_seq_id:
                continue
            for seq, when, message in tracker.messages:
                if seq <= last_seq_id:
                    continue
                messages.append({"sequence_id": seq, "time": when, "message": message})
        result["data"] = data
        return result


_MISSING = object()
_TYPE_NAMES = {int: "Int32", bool: "Boolean", str: "String"}


def _param(body: dict[str, Any], name: str, kind: type, default: Any = _MISSING) -> Any:
    """Read one parameter the way SwarmUI's APICallReflectBuilder does (its texts, answered with HTTP 200)."""
    if name not in body:
        if default is _MISSING:
            raise _Refused(f"Missing required parameter '{name}'")
        return default
    value = body[name]
    try:
        if kind is str:
            return value if isinstance(value, str) else json.dumps(value)
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise ValueError
        if kind is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
    except (TypeError, ValueError):
        pass
    raise _Refused(f"Invalid value '{value}' for parameter '{name}', must be type '{_TYPE_NAMES[kind]}'")


def _api_error(status: int, error_id: str, error: str) -> web.Response:
    # key order as SwarmUI writes them: error_id first from API.Error(), error first from Utilities.ErrorObj()
    body = {"error": error, "error_id": error_id} if status == 401 else {"error_id": error_id, "error": error}
    return web.json_response(body, status=status)


async def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake SwarmUI server for tests (127.0.0.1 only).")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=None)
    parser.add_argument("--locked", action="store_true")
    parser.add_argument("--expire-every", type=int, default=None)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault", choices=FAULTS, default=None)
    parser.add_argument("--backends", type=int, default=0, help="start with this many running comfyui_api backends")
    args = parser.parse_args(argv)
    fake = FakeSwarm(
        port=args.port, token=args.token, locked=args.locked, expire_every=args.expire_every,
        latency=args.latency, fault=args.fault, backends=args.backends,
    )
    await fake.start()
    print(f"FAKE_SWARM_URL {fake.url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


if __name__ == "__main__":
    try:
        asyncio.run(_main())
    except KeyboardInterrupt:
        sys.exit(0)
