"""What RemoteService says when a server answers wrongly, in full sentences, and what it sends for the routes that
take a selector. Against a real HTTP server that answers each route with exactly the bytes a test gives it
(mutation testing found the sentences unchecked: docs/TESTING.md)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Self

import httpx
import pytest
from aiohttp import web

from backend_manager_gui.core.errors import BackendApiError, ServiceUnavailable
from backend_manager_gui.core.remote import RemoteService, _connect_reason


class Scripted:
    """A server that opens sessions like SwarmUI and answers every other route with ``reply`` (status, bytes,
    content type); it keeps the last body of each route."""

    def __init__(self) -> None:
        self.reply: tuple[int, bytes, str] = (200, b"{}", "application/json")
        self.bodies: dict[str, dict] = {}
        self.auth: str | None = None  # the Authorization header of the last request
        self.url = ""
        self.delay = 0.0  # seconds before each route's reply
        self.expire_next = 0  # this many route calls are told their session expired
        self.expire_while_busy = 0  # ... this many, of those that come while another route call is being answered
        self.sessions = 0
        self.session_reply: dict | None = None  # what GetNewSession answers instead of a fresh session
        self.cookies: dict[str, str] = {}  # the cookies of the last request
        self.in_flight = 0
        self.most_in_flight = 0
        self.in_flight_at_session: list[int] = []  # route calls in flight when each GetNewSession came
        self.session_times: list[float] = []  # when each GetNewSession came (time.monotonic())
        self._runner: web.AppRunner | None = None

    def answer(self, body: bytes | dict, status: int = 200, content_type: str = "application/json") -> None:
        self.reply = (status, json.dumps(body).encode() if isinstance(body, dict) else body, content_type)

    async def _handle(self, request: web.Request) -> web.Response:
        route = request.match_info["route"]
        self.bodies[route] = json.loads(await request.read())
        self.auth = request.headers.get("Authorization")
        self.cookies = dict(request.cookies)
        if route == "GetNewSession":
            self.in_flight_at_session.append(self.in_flight)
            self.session_times.append(time.monotonic())
            if self.session_reply is not None:
                return web.json_response(self.session_reply)
            self.sessions += 1
            return web.json_response({"session_id": f"{self.sessions:032d}", "version": "0.9.8.2"})
        if self.expire_next or (self.expire_while_busy and self.in_flight):
            if self.expire_next:
                self.expire_next -= 1
            else:
                self.expire_while_busy -= 1
            return web.json_response({"error_id": "invalid_session_id", "error": "Invalid session ID."})
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        status, body, content_type = self.reply
        headers = {"Content-Type": content_type}
        if 300 <= status < 400:
            headers["Location"] = "/API/Elsewhere"
        return web.Response(body=body, status=status, headers=headers)

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


async def test_credentials_in_the_address_travel_as_basic_auth_and_never_in_what_is_shown(server) -> None:
    import base64

    host = server.url.removeprefix("http://")
    server.answer({"count": 0})
    for address, user, password in ((f"http://ann:s3cr%40t:x@{host}", "ann", "s3cr@t:x"),  # quoted @, a colon kept
                                    (f"http://bob:pa@ss@{host}/", "bob", "pa@ss"),  # the last @ ends them
                                    (f"http://carl@{host}", "carl", "")):
        async with RemoteService(address) as service:
            await service.restart_backends()
            assert service.location == server.url and "@" not in repr(service)
        assert server.auth == "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(), address
    async with RemoteService(f"{host}/") as service:  # no scheme, a trailing slash: no credentials at all
        await service.restart_backends()
        assert service.location == server.url
    assert server.auth is None


def test_the_service_shows_whether_a_token_is_set_never_the_token() -> None:
    assert repr(RemoteService("http://127.0.0.1:7801", token="s3cr3t-token")) == \
        "RemoteService('http://127.0.0.1:7801', token=<set>)"
    assert repr(RemoteService("127.0.0.1:7801")) == "RemoteService('http://127.0.0.1:7801', token=None)"


async def test_the_list_and_free_memory_send_what_was_asked(server, svc) -> None:
    server.answer({"count": 1})
    await svc.free_memory()
    assert server.bodies["FreeBackendMemory"] == {"system_ram": False, "backend": "all",
                                                  "session_id": server.bodies["FreeBackendMemory"]["session_id"]}
    server.answer({})
    await svc.list_backends(nonreal=True, full_data=True)
    assert (server.bodies["ListBackends"]["nonreal"], server.bodies["ListBackends"]["full_data"]) == (True, True)
    await svc.list_backends()
    assert (server.bodies["ListBackends"]["nonreal"], server.bodies["ListBackends"]["full_data"]) == (False, False)


async def test_unchanged_backends_come_back_as_the_same_objects_poll_after_poll(server, svc) -> None:
    entry = {"id": 1, "type": "comfyui_api", "status": "running"}
    server.answer({"1": entry, "2": {**entry, "id": 2}})
    first = await svc.list_backends()
    server.answer({"1": entry, "2": {**entry, "id": 2, "status": "errored"}})
    second = await svc.list_backends()
    assert second[1] is first[1] and second[2].status.value == "errored"  # the table skips row 1 by identity
    server.answer({"1": {**entry, "status": 5}})
    with pytest.raises(ServiceUnavailable) as err:
        await svc.list_backends()
    assert str(err.value) == (f"{server.url} sent a reply to ListBackends this app cannot read. Malformed backend "
                              "from the server: field 'status' should be text, got int")


async def test_after_a_session_expires_the_calls_in_flight_climb_back_to_eight(server, svc) -> None:
    server.answer({"count": 0})
    await svc.restart_backends()  # a session; eight calls may be out at once
    server.expire_next = 1  # the next call is told its session expired: one call at a time again
    server.delay = 0.02
    await svc.restart_backends()
    server.most_in_flight = 0
    # the window opens by one for each answered call, up to eight, never more
    await asyncio.gather(*(svc.restart_backends() for _ in range(60)))
    assert server.most_in_flight == 8 and server.sessions == 2


@pytest.mark.parametrize(("chain", "reason"), [
    # what httpx raises where the OS's error is not chained (seen on macOS and Windows): read from the text
    ([OSError("[Errno 61] Connection refused")], "connection refused (is the server running on that port?)"),
    ([OSError("[Errno -2] Name or service not known")], "the host name is unknown"),
    ([OSError("[Errno 8] nodename nor servname provided, or not known")], "the host name is unknown"),
    ([OSError(errno.ENETUNREACH, "Network is unreachable")], "the network or host is unreachable"),
    ([OSError(errno.EHOSTUNREACH, "No route to host")], "the network or host is unreachable"),
    ([OSError("something else")], "could not connect"),
])
def test_why_a_connection_failed_is_read_from_the_whole_chain(chain, reason) -> None:
    top = httpx.ConnectError("All connection attempts failed")
    top.__cause__ = chain[0]
    assert _connect_reason(top) == reason


async def test_what_the_server_says_about_itself_is_kept(server, svc) -> None:
    from backend_manager_gui.core.remote import ServerInfo

    server.session_reply = {"session_id": "x" * 32, "version": "0.9.8.2", "server_id": "5f0c", "user_id": "local",
                            "permissions": ["admin", 7]}
    server.answer({"count": 0})
    await svc.restart_backends()
    assert svc.server_info == ServerInfo(version="0.9.8.2", server_id="5f0c", user_id="local", permissions=("admin", "7"))
    async with RemoteService(server.url) as other:
        server.session_reply = {"session_id": "y" * 32, "permissions": "all"}  # an older server says less
        await other.restart_backends()
        assert other.server_info == ServerInfo(version="", server_id="", user_id="", permissions=())


@pytest.mark.parametrize(("session_reply", "error", "message"), [
    ({"version": "1.0"}, ServiceUnavailable,
     "{url} answered GetNewSession without a session id: this does not look like a SwarmUI server."),
    ({"session_id": ""}, ServiceUnavailable,
     "{url} answered GetNewSession without a session id: this does not look like a SwarmUI server."),
    ({"session_id": 5}, ServiceUnavailable,
     "{url} answered GetNewSession without a session id: this does not look like a SwarmUI server."),
    ({"error_id": "invalid_session_id"}, BackendApiError, "{url} refused to open a session."),
    ({"error": "Invalid or unauthorized."}, BackendApiError,
     "{url} requires a token (an account's swarm_token) and none was given."),
])
async def test_a_server_that_will_not_open_a_session_says_why(server, svc, session_reply, error, message) -> None:
    server.session_reply = session_reply
    with pytest.raises(error) as err:
        await svc.restart_backends()
    assert str(err.value) == message.format(url=server.url)
    if "refused to open" in message:
        assert err.value.error_id == "invalid_session_id"


async def test_the_token_goes_as_a_cookie_only_when_there_is_one(server) -> None:
    server.answer({"count": 0})
    async with RemoteService(server.url, token="tok-123") as service:
        await service.restart_backends()
    assert server.cookies == {"swarm_token": "tok-123"}
    async with RemoteService(server.url) as service:
        await service.restart_backends()
    assert server.cookies == {}


async def test_a_redirect_is_not_followed(server, svc) -> None:
    server.reply = (307, b"", "text/plain")  # to /API/Elsewhere, which redirects again
    with pytest.raises(ServiceUnavailable) as err:
        await svc.restart_backends()
    assert str(err.value) == f"{server.url} did not answer like a SwarmUI server: it sent an empty reply (HTTP 307)."
    assert "Elsewhere" not in server.bodies


def _request_lines(caplog) -> list[tuple[str, str]]:
    """The log's one line per request: (level, text without the duration)."""
    import re

    return [(r.levelname, re.sub(r" in \d+ ms$", "", r.getMessage())) for r in caplog.records
            if r.name == "backend_manager_gui.remote" and r.getMessage().startswith("POST ")]


@pytest.mark.parametrize(("reply", "outcome", "level"), [
    ((200, b'{"count": 1}', "application/json"), "HTTP 200", "DEBUG"),
    ((503, b"busy", "text/plain"), "HTTP 503", "INFO"),
    ((200, b"<html>", "text/html"), "HTTP 200, a web page instead of an API reply", "INFO"),
    ((200, b"[1]", "application/json"), "HTTP 200, JSON list", "INFO"),
    ((200, b"[" * 100_000 + b"]" * 100_000, "application/json"), "HTTP 200, nested too deeply", "INFO"),
    ((200, b'{"error": "Settings are locked."}', "application/json"), "HTTP 200, refused (route)", "INFO"),
    ((200, b'{"error_id": "no_permission"}', "application/json"), "HTTP 200, refused (no_permission)", "INFO"),
    ((404, b"{}", "application/json"), "HTTP 404", "INFO"),
])
async def test_the_log_has_one_line_per_request_saying_how_it_went(server, svc, caplog, reply, outcome, level) -> None:
    caplog.set_level(logging.DEBUG, logger="backend_manager_gui.remote")
    server.reply = reply
    with contextlib.suppress(BackendApiError, ServiceUnavailable):
        await svc.restart_backends()
    assert _request_lines(caplog)[-1] == (level, f"POST {server.url}/API/RestartBackends -> {outcome}")
    assert _request_lines(caplog)[0] == ("DEBUG", f"POST {server.url}/API/GetNewSession -> HTTP 200")


async def test_the_log_says_when_a_request_never_got_through(server, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="backend_manager_gui.remote")
    closed = f"http://127.0.0.1:{_closed_port()}"
    cases = [(RemoteService(closed), "GetNewSession", "connect error"),
             (RemoteService(server.url, timeout=0.2), "RestartBackends", "timeout"),
             (RemoteService("http://[::1"), "GetNewSession", "invalid URL")]
    server.delay = 1.0
    for service, route, outcome in cases:
        base = service.location
        with contextlib.suppress(ServiceUnavailable):
            await service.restart_backends()
        await service.aclose()
        assert _request_lines(caplog)[-1] == ("INFO", f"POST {base}/API/{route} -> {outcome}"), outcome
    closed_service = RemoteService(server.url)
    await closed_service.aclose()
    with pytest.raises(ServiceUnavailable) as err:
        await closed_service.restart_backends()
    assert str(err.value) == f"The connection to {server.url} was closed."
    assert _request_lines(caplog)[-1] == ("INFO", f"POST {server.url}/API/GetNewSession -> closed")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
async def test_a_number_json_cannot_carry_is_refused_before_anything_is_sent(server, svc, value) -> None:
    server.answer({"count": 0})
    await svc.restart_backends()  # a session is open: the refusal below is not the server's
    with pytest.raises(BackendApiError) as err:
        await svc.edit_backend(1, "t", {"Weight": value})
    # Python writes NaN and Infinity, which JSON does not have: the server would refuse the whole body
    assert str(err.value) == "The request to EditBackend holds a value that cannot be sent as JSON."
    assert "EditBackend" not in server.bodies


async def test_a_server_refusing_every_session_says_so_and_the_service_still_works_later(server, svc) -> None:
    server.answer({"count": 2})
    server.expire_next = 100  # every call is told its session expired
    with pytest.raises(BackendApiError) as err:
        await svc.restart_backends()
    assert str(err.value) == f"{server.url} refused every new session it handed out; try again later."
    assert err.value.error_id == "invalid_session_id"
    assert server.sessions == 4  # the first session and three more, none of which served a call
    with pytest.raises(BackendApiError):  # the next call gets its own four sessions, not what the last left
        await svc.restart_backends()
    assert server.sessions == 8
    server.expire_next = 0  # the server is well again: the next call is not given up on at once
    assert await svc.restart_backends() == 2
    assert server.sessions == 9


async def test_a_call_refused_at_every_attempt_gives_up_with_a_sentence(server, svc, monkeypatch) -> None:
    """The backstop against a livelock: a call whose session is refused at every one of its attempts. With the
    product's 32 attempts, reaching it takes a server that serves other calls between the refusals (else the
    barren-session rule gives up first, above); three attempts show the same sentence without 32 sessions."""
    from backend_manager_gui.core import remote

    monkeypatch.setattr(remote, "_MAX_ATTEMPTS", 3)
    server.answer({"count": 2})
    server.expire_next = 100
    with pytest.raises(BackendApiError) as err:
        await svc.restart_backends()
    assert str(err.value) == f"{server.url} keeps rejecting new sessions; try again later."
    assert err.value.error_id == "invalid_session_id"
    assert server.sessions == 3


async def test_a_connection_dropped_under_the_reply_is_said_and_logged(caplog) -> None:
    from tests.support.fake_swarm import FakeSwarm

    caplog.set_level(logging.DEBUG, logger="backend_manager_gui.remote")
    async with FakeSwarm(fault="drop") as fake, RemoteService(fake.url) as service:
        with pytest.raises(ServiceUnavailable) as err:
            await service.list_backends()
    assert str(err.value) == f"Cannot reach {fake.url}: the connection was dropped before the reply was complete."
    assert _request_lines(caplog) == [("INFO", f"POST {fake.url}/API/GetNewSession -> connection dropped")]


async def test_a_reply_that_cannot_be_unpacked_names_the_failure(caplog) -> None:
    """A proxy that marks a reply as gzip and sends something else: httpx cannot decode it."""
    caplog.set_level(logging.DEBUG, logger="backend_manager_gui.remote")

    async def garbled(request: web.Request) -> web.Response:
        return web.Response(body=b"this is not gzip", headers={"Content-Type": "application/json",
                                                                "Content-Encoding": "gzip"})

    app = web.Application()
    app.router.add_post("/API/{route}", garbled)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with RemoteService(url) as service:
            with pytest.raises(ServiceUnavailable) as err:
                await service.list_backends()
    finally:
        await runner.cleanup()
    assert str(err.value) == f"Cannot reach {url}: DecodingError."
    assert _request_lines(caplog) == [("INFO", f"POST {url}/API/GetNewSession -> DecodingError")]


async def test_https_with_an_unreadable_certificate_file_falls_back_and_says_so(server, monkeypatch, caplog, tmp_path) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca-bundle.pem"))
    caplog.set_level(logging.DEBUG, logger="backend_manager_gui.remote")
    url = server.url.replace("http://", "https://")
    async with RemoteService(url) as service:
        with pytest.raises(ServiceUnavailable) as err:
            await service.list_backends()  # certifi's bundle is used: the TLS handshake is what fails
    assert str(err.value) == f"Cannot reach {url}: the secure (https) connection could not be set up."
    assert [(r.levelname, r.getMessage()) for r in caplog.records if not r.getMessage().startswith("POST ")] == [
        ("WARNING", "the certificate file named by SSL_CERT_FILE/SSL_CERT_DIR cannot be read; using certifi's bundle")]


async def test_two_calls_refused_together_each_get_their_own_retries(server, svc) -> None:
    """Both calls carry the first session and both are refused: the second refusal, of a session already dropped,
    is not counted against the retries again. The first call gives up after its four sessions, then the second
    tries its own four (the count starts over once a call has given up, so the service works again later)."""
    server.answer({"count": 2})
    server.expire_next = 100
    results = await asyncio.gather(svc.restart_backends(), svc.restart_backends(), return_exceptions=True)
    assert [(type(r), str(r)) for r in results] == [
        (BackendApiError, f"{server.url} refused every new session it handed out; try again later.")] * 2
    assert server.sessions == 8


async def test_the_log_says_how_long_a_request_took(server, svc, caplog) -> None:
    import re
    import time

    caplog.set_level(logging.DEBUG, logger="backend_manager_gui.remote")
    server.answer({"count": 0})
    await svc.restart_backends()  # the session is open: the next request is the route's alone
    server.delay = 0.3  # the server takes at least 300 ms
    started = time.monotonic()
    await svc.restart_backends()
    elapsed_ms = (time.monotonic() - started) * 1000
    last = [r.getMessage() for r in caplog.records if r.getMessage().startswith("POST ")][-1]
    took = re.fullmatch(rf"POST {server.url}/API/RestartBackends -> HTTP 200 in (\d+) ms", last)
    assert took is not None, last
    # at least the server's 300 ms, and no more than the call took as measured around it
    assert 300 <= int(took.group(1)) <= elapsed_ms + 1


async def test_after_a_server_that_served_goes_bad_the_expired_session_does_not_count_against_it(server, svc) -> None:
    """The first session served a call, so its expiry is ordinary: the client then tries four new sessions (the
    first plus three retries) before it gives up, as with a server that refuses from the start."""
    server.answer({"count": 2})
    assert await svc.restart_backends() == 2
    server.expire_next = 100  # from now on every call is told its session expired
    with pytest.raises(BackendApiError) as err:
        await svc.restart_backends()
    assert str(err.value) == f"{server.url} refused every new session it handed out; try again later."
    assert server.sessions == 1 + 4


async def test_a_new_session_is_asked_for_only_once_the_calls_with_the_old_one_came_back(server, svc) -> None:
    """A request that carries a dead session counts against a restarting server's patience: the new session is
    tried alone. One call is refused its session while another is still being answered (0.5 s; the client waits
    up to 2 s for it)."""
    server.answer({"count": 2})
    await svc.restart_backends()
    server.delay = 0.5
    server.expire_while_busy = 1  # the second of the two to arrive is refused while the first is answered
    assert await asyncio.gather(svc.restart_backends(), svc.restart_backends()) == [2, 2]
    assert server.sessions == 2 and server.in_flight_at_session == [0, 0]


async def test_a_refused_client_waits_longer_before_each_new_session(server, svc) -> None:
    """0.1 s, 0.2 s, 0.4 s between the sessions a refusing server hands out (gaps measured at the server): at
    least that, and not much more than that in all (0.7 s on an idle machine, scaled by the load measured here)."""
    from tests.support import load as machine

    server.answer({"count": 2})
    server.expire_next = 100
    before = await machine.ameasure()
    with pytest.raises(BackendApiError):
        await svc.restart_backends()
    load = before.worst(await machine.ameasure())
    times = server.session_times
    gaps = [later - earlier for earlier, later in zip(times[:-1], times[1:], strict=True)]
    assert len(gaps) == 3
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2 and gaps[2] >= 0.4, gaps
    assert times[-1] - times[0] <= load.bound(0.9, wakeups=12), (gaps, str(load))


@pytest.mark.parametrize("token", ["tok\u201cen\u201d", "tok\nen", "t\u00f6ken", "tok\ten"])
async def test_a_token_that_cannot_be_sent_is_named_as_the_problem_not_the_server(server, token) -> None:
    """A token pasted with a typographic quote or a line break cannot go in a header: the person is told to check
    the token (it read "Cannot reach …: UnicodeEncodeError.", as if the server were down), and nothing is sent."""
    async with RemoteService(server.url, token=token) as service:
        with pytest.raises(BackendApiError) as err:
            await service.restart_backends()
    assert str(err.value) == (f"The token for {server.url} holds a character no token has (a line break, or a "
                              "letter outside ASCII such as a typographic quote): check the token for this server.")
    assert err.value.error_id == "unauthorized" and server.bodies == {}


async def test_the_log_line_of_a_poll_and_of_an_expired_session(server, svc, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="backend_manager_gui.remote")
    entry = {"id": 1, "type": "comfyui_api", "status": "running", "settings": {}, "modcount": 0, "features": [],
             "enabled": True, "title": "", "can_load_models": True, "max_usages": 1}
    server.answer({"1": entry})
    assert list(await svc.list_backends()) == [1]  # read by the list decoder's own path
    assert _request_lines(caplog)[-1] == ("DEBUG", f"POST {server.url}/API/ListBackends -> HTTP 200")
    server.expire_next = 1
    await svc.list_backends()
    assert _request_lines(caplog)[-3:] == [
        ("DEBUG", f"POST {server.url}/API/ListBackends -> HTTP 200, session expired"),
        ("DEBUG", f"POST {server.url}/API/GetNewSession -> HTTP 200"),
        ("DEBUG", f"POST {server.url}/API/ListBackends -> HTTP 200"),
    ]


async def test_a_reply_nested_too_deeply_is_named_so(server, svc) -> None:
    server.reply = (200, b"[" * 100_000 + b"]" * 100_000, "application/json")
    with pytest.raises(ServiceUnavailable) as err:
        await svc.restart_backends()
    assert str(err.value) == (f"{server.url} did not answer like a SwarmUI server: it sent a reply nested too deeply "
                              "to read (HTTP 200).")


async def test_a_reply_without_a_content_type_is_still_named_for_what_it_is() -> None:
    async def bare(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the request's head; the body does not matter here
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK")
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(bare, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    try:
        async with RemoteService(url) as service:
            with pytest.raises(ServiceUnavailable) as err:
                await service.restart_backends()
    finally:
        listener.close()
        await listener.wait_closed()
    assert str(err.value) == f"{url} did not answer like a SwarmUI server: it sent a reply that is not JSON (HTTP 200)."


async def test_closing_the_service_closes_its_connections(server) -> None:
    import psutil

    port = int(server.url.rsplit(":", 1)[1])

    def open_to_server() -> int:
        return sum(1 for c in psutil.Process().net_connections("tcp")
                   if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED)

    server.answer({"count": 2})
    service = RemoteService(server.url)
    await service.restart_backends()
    assert open_to_server() == 1  # kept alive for the next call
    await service.aclose()
    assert open_to_server() == 0
