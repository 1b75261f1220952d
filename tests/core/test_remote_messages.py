"""What RemoteService says when a server answers wrongly, in full sentences, and what it sends for the routes that
take a selector. Against a real HTTP server that answers each route with exactly the bytes a test gives it
(mutation testing found the sentences unchecked: docs/TESTING.md)."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Self

import pytest
from aiohttp import web

from backend_manager_gui.core.errors import BackendApiError, ServiceUnavailable
from backend_manager_gui.core.remote import RemoteService


class Scripted:
    """A server that opens sessions like SwarmUI and answers every other route with ``reply`` (status, bytes,
    content type); it keeps the last body of each route."""

    def __init__(self) -> None:
        self.reply: tuple[int, bytes, str] = (200, b"{}", "application/json")
        self.bodies: dict[str, dict] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None

    def answer(self, body: bytes | dict, status: int = 200, content_type: str = "application/json") -> None:
        self.reply = (status, json.dumps(body).encode() if isinstance(body, dict) else body, content_type)

    async def _handle(self, request: web.Request) -> web.Response:
        route = request.match_info["route"]
        self.bodies[route] = json.loads(await request.read())
        if route == "GetNewSession":
            return web.json_response({"session_id": "s" * 32, "version": "0.9.8.2"})
        status, body, content_type = self.reply
        return web.Response(body=body, status=status, headers={"Content-Type": content_type})

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/API/{route}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[Scripted]:
    async with Scripted() as s:
        yield s


@pytest.fixture
async def svc(server: Scripted) -> AsyncIterator[RemoteService]:
    async with RemoteService(server.url) as service:
        yield service


@pytest.mark.parametrize(("body", "content_type", "kind"), [
    (b"Not found", "text/html; charset=utf-8", "a web page instead of an API reply"),
    (b"<!DOCTYPE html><html></html>", "text/plain", "a web page instead of an API reply"),
    (b"  \n<HTML><body>Proxy error</body></HTML>", "application/json", "a web page instead of an API reply"),
    (b"<h1>Bad Gateway</h1>", "application/octet-stream", "a web page instead of an API reply"),
    (b"<p>moved</p>", "text/plain", "a web page instead of an API reply"),
    (b"", "application/json", "an empty reply"),
    (b" \r\n ", "application/json", "an empty reply"),
    (b'{"session_id": "ab', "application/json", "an incomplete (cut off) reply"),
    (b"[1, 2, ", "application/json", "an incomplete (cut off) reply"),
    (b"[" + b"7" * 5000 + b"]", "application/json", "a reply that is not valid JSON"),  # over Python's int limit
    (b"OK", "text/plain", "a reply that is not JSON"),
    (b'{"a": "\xff"}', "application/json", "a reply that is not UTF-8 text"),
])
async def test_a_reply_that_is_not_json_is_named_for_what_it_is(server, svc, body, content_type, kind) -> None:
    server.answer(body, content_type=content_type)
    with pytest.raises(ServiceUnavailable) as err:
        await svc.list_backend_types()
    assert str(err.value) == f"{server.url} did not answer like a SwarmUI server: it sent {kind} (HTTP 200)."


@pytest.mark.parametrize(("reply", "message"), [
    ({"error": "  Settings are locked.  "}, "Settings are locked."),
    ({"error": {"code": 7}}, '{"code": 7}'),
    ({"error": ""}, '""'),
    ({"error_id": "no_permission"}, "The server refused the request (no_permission)."),
    ({"error": "x" * 600}, "x" * 500 + "…"),  # a page of text is cut to 500 characters
    ({"error": ["y" * 600]}, json.dumps(["y" * 600])[:500]),
])
async def test_a_refusal_says_what_the_server_said(server, svc, reply, message) -> None:
    server.answer(reply)
    with pytest.raises(BackendApiError) as err:
        await svc.list_backend_types()
    assert str(err.value) == message and not isinstance(err.value, ServiceUnavailable)


async def test_an_error_reply_without_a_reason_names_the_status(server, svc) -> None:
    server.answer({}, status=404)
    with pytest.raises(ServiceUnavailable) as err:
        await svc.list_backend_types()
    assert str(err.value) == f"{server.url} answered ListBackendTypes with HTTP 404 and no explanation."


@pytest.mark.parametrize(("selector", "sent"), [("all", "all"), (" ALL ", "all"), (" 7 ", "7"), (7, "7"), (True, "1")])
async def test_restart_and_free_memory_send_all_or_the_id(server, svc, selector, sent) -> None:
    server.answer({"count": 2})
    assert await svc.restart_backends(selector) == 2
    assert server.bodies["RestartBackends"]["backend"] == sent
    assert await svc.free_memory(backend=selector, system_ram=True) == 2
    assert server.bodies["FreeBackendMemory"]["backend"] == sent
    assert server.bodies["FreeBackendMemory"]["system_ram"] is True


async def test_counts_and_results_read_as_the_server_means_them(server, svc) -> None:
    server.answer({"count": 3.0})
    assert await svc.restart_backends() == 3  # a whole number sent as 3.0
    server.answer({"result": False})
    assert await svc.free_memory() == 0  # nothing was loaded: SwarmUI says false, not a count
    server.answer({"result": "Already didn't exist."})
    assert await svc.delete_backend(4) is False
    server.answer({"result": "Deleted."})
    assert await svc.delete_backend(4) is True
    assert server.bodies["DeleteBackend"]["backend_id"] == 4
    server.answer({"result": "No change."})
    assert await svc.toggle_backend(4, True) is False
    server.answer({"result": "Success."})
    assert await svc.toggle_backend(4, False) is True
    assert (server.bodies["ToggleBackend"]["backend_id"], server.bodies["ToggleBackend"]["enabled"]) == (4, False)


@pytest.mark.parametrize(("call", "route", "reply", "key"), [
    ("restart", "RestartBackends", {"count": True}, "count"),
    ("restart", "RestartBackends", {"count": 2.5}, "count"),
    ("restart", "RestartBackends", {}, "count"),
    ("free", "FreeBackendMemory", {"result": True}, "count"),
    ("delete", "DeleteBackend", {"result": 1}, "result"),
    ("toggle", "ToggleBackend", {}, "result"),
])
async def test_a_reply_missing_its_field_is_the_server_not_speaking_the_api(server, svc, call, route, reply, key) -> None:
    server.answer(reply)
    calls = {"restart": svc.restart_backends, "free": svc.free_memory, "delete": lambda: svc.delete_backend(1),
             "toggle": lambda: svc.toggle_backend(1, True)}
    with pytest.raises(ServiceUnavailable) as err:
        await calls[call]()
    assert str(err.value) == (f"{server.url} sent a reply to {route} this app cannot read: field '{key}' is missing "
                              "or of the wrong type.")


async def test_a_reply_with_a_malformed_backend_names_the_route_and_the_field(server, svc) -> None:
    server.answer({"id": "seven", "type": "x", "status": "idle"})
    with pytest.raises(ServiceUnavailable) as err:
        await svc.add_backend("x")
    assert str(err.value) == (f"{server.url} sent a reply to AddNewBackend this app cannot read. Malformed backend "
                              "from the server: field 'id' should be an integer, got str")
    for call, route in ((lambda: svc.edit_backend(1, "t", {}), "EditBackend"),
                        (svc.list_backend_types, "ListBackendTypes")):
        server.answer({"list": 5} if route == "ListBackendTypes" else {"id": 1})
        with pytest.raises(ServiceUnavailable, match=f"sent a reply to {route} this app cannot read. Malformed"):
            await call()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_closed_port_is_named_as_refused() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    async with RemoteService(url) as service:
        with pytest.raises(ServiceUnavailable) as err:
            await service.list_backends()
    assert str(err.value) == f"Cannot reach {url}: connection refused (is the server running on that port?)."


async def test_https_to_a_plain_http_server_says_the_secure_connection_failed(server) -> None:
    url = server.url.replace("http://", "https://")
    async with RemoteService(url) as service:
        with pytest.raises(ServiceUnavailable) as err:
            await service.list_backends()
    assert str(err.value) == f"Cannot reach {url}: the secure (https) connection could not be set up."


async def test_an_unknown_host_name_is_named_as_such() -> None:
    url = "http://no-such-host.invalid:7801"  # .invalid never resolves (RFC 2606)
    async with RemoteService(url, timeout=10) as service:
        with pytest.raises(ServiceUnavailable) as err:
            await service.list_backends()
    if "no answer within" in str(err.value):
        pytest.skip("this machine's resolver does not answer at all")
    assert str(err.value) == f"Cannot reach {url}: the host name is unknown."
