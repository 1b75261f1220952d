"""A fake SwarmUI server on 127.0.0.1: the session handshake and the 8 backend routes, as WIRE.md describes them
(and as SwarmUI's own src/WebAPI/API.cs and BackendAPI.cs behave), with switches for the faults a client must survive.

In-process::

    async with FakeSwarm() as fake:          # or: fake = FakeSwarm(); await fake.start(); ...; await fake.stop()
        svc = RemoteService(fake.url)
        fake.expire_every = 3                 # switches are plain attributes, settable at any time
        fake.fault = "html200"
        fake.set_status(0, "errored")
        assert fake.new_sessions == 1 and fake.calls["listbackends"] == 2

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
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from aiohttp import web

SECRET_MARKER = "\t<secret>"
TYPES_FILE = Path(__file__).with_name("swarmui_backend_types.json")
_DATA = json.loads(TYPES_FILE.read_text(encoding="utf-8"))
BACKEND_TYPES: list[dict[str, Any]] = _DATA["backend_types"]
ERROR_PAGES: dict[str, list[str]] = _DATA["error_pages"]
FAULTS = ("http500", "html200", "truncated_json", "drop", "every_third")
STATUSES = ("disabled", "errored", "waiting", "loading", "idle", "running")

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
}
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
        self.server_id = "5f0c4a1e-0000-4000-8000-fakeswarm000"
        # --- counters tests assert on ---
        self.new_sessions = 0
        self.calls: Counter[str] = Counter()  # lower-case route -> requests that reached it (after faults)
        self.requests = 0  # every /API/ request, faults included
        self.session_checks = 0  # route requests whose session was checked
        self.faults_served = 0
        self.last_body: dict[str, Any] | None = None  # the last JSON object body a route received
        self.last_cookies: dict[str, str] = {}
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
        return bid

    def set_status(self, backend_id: int, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(status)
        self.backends[backend_id]["status"] = status

    def secret_value(self, backend_id: int, name: str) -> Any:
        """The stored value of a secret setting (what the server keeps and never sends)."""
        return self.secrets[backend_id][name]

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
