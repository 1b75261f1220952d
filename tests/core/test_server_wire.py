"""``serve``'s HTTP layer (core/server.py) on the wire: every route, every error shape, tokens, limits.

The served service here is a real ``RemoteService`` talking to the fake SwarmUI server (serve wraps *any*
BackendService), so the chain is: test client → serve → RemoteService → FakeSwarm. Raw requests use aiohttp's
client so that malformed bodies, wrong content types and chunked uploads go out exactly as written.
The local manager behind serve is covered in test_server_local.py and test_server_subprocess.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from backend_manager_gui.core.errors import BackendApiError
from backend_manager_gui.core.models import SECRET_MARKER, Backend, BackendStatus
from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.core.server import BindRefused, ServeRunner, check_bind_allowed, is_loopback_host
from tests.support.fake_swarm import BACKEND_TYPES, FakeSwarm

SECRET = "Bearer hunter2-do-not-leak"
TOKEN = "Zr8q-serve-test-token-4f1c9a"


@pytest.fixture
async def upstream() -> AsyncIterator[FakeSwarm]:
    async with FakeSwarm(backends=2) as fake:
        yield fake


@pytest.fixture
async def served(upstream: FakeSwarm) -> AsyncIterator[ServeRunner]:
    inner = RemoteService(upstream.url)
    try:
        async with ServeRunner(inner) as srv:
            yield srv
    finally:
        await inner.aclose()


@pytest.fixture
async def client(served: ServeRunner) -> AsyncIterator[RemoteService]:
    async with RemoteService(served.url) as svc:
        yield svc


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def raw_post(
    http: aiohttp.ClientSession,
    url: str,
    route: str,
    body: Any = None,
    *,
    data: bytes | None = None,
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
) -> tuple[int, Any, str]:
    """POST exactly these bytes; returns (status, parsed JSON reply, reply content type)."""
    if data is None:
        data = json.dumps(body if body is not None else {}).encode()
    hdrs = dict(headers or {})
    if content_type is not None:
        hdrs["Content-Type"] = content_type
    async with http.post(f"{url}/API/{route}", data=data, headers=hdrs, cookies=cookies, allow_redirects=False) as r:
        text = await r.text()
        return r.status, json.loads(text), r.content_type


async def new_session(http: aiohttp.ClientSession, url: str, cookies: dict[str, str] | None = None) -> str:
    status, reply, _ = await raw_post(http, url, "GetNewSession", {}, cookies=cookies)
    assert status == 200, reply
    return reply["session_id"]


# ---------------------------------------------------------------------------------------------------------------
# Every method, through RemoteService


async def test_every_method_through_serve_reaches_the_wrapped_service(
    client: RemoteService, upstream: FakeSwarm
) -> None:
    types = await client.list_backend_types()
    assert [t.id for t in types] == [t["id"] for t in BACKEND_TYPES]
    assert {"comfyui_selfstart", "comfyui_api", "swarmswarmbackend"} <= {t.id for t in types}
    selfstart = next(t for t in types if t.id == "comfyui_selfstart")
    assert selfstart.setting("GPU_ID") is not None and selfstart.setting("StartScript") is not None

    backends = await client.list_backends(full_data=True)
    assert list(backends) == [0, 1]
    assert all(b.status is BackendStatus.RUNNING for b in backends.values())

    added = await client.add_backend("comfyui_api")
    assert added.id == 2 and added.type == "comfyui_api" and 2 in upstream.backends

    edited = await client.edit_backend(2, "GPU 1", {"Address": "http://gpu1:8188"})
    assert (edited.title, edited.modcount, edited.settings["Address"]) == ("GPU 1", 1, "http://gpu1:8188")
    assert upstream.backends[2]["title"] == "GPU 1"

    moved = await client.edit_backend(2, "GPU 1", {"Address": "http://gpu1:8188"}, new_id=7)
    assert moved.id == 7 and sorted(upstream.backends) == [0, 1, 7]
    with pytest.raises(BackendApiError, match="Backend ID 0 is already in use"):
        await client.edit_backend(7, "GPU 1", {}, new_id=0)

    assert await client.toggle_backend(7, False) is True
    assert await client.toggle_backend(7, False) is False
    assert upstream.backends[7]["enabled"] is False

    assert await client.restart_backends("all") == 2  # the two running ones, not the disabled one
    assert [upstream.backends[i]["status"] for i in (0, 1)] == ["waiting", "waiting"]
    upstream.set_status(0, "running")
    assert await client.restart_backends(0) == 1
    assert await client.free_memory(backend="all") == 0  # nothing running any more
    upstream.set_status(1, "running")
    assert await client.free_memory(system_ram=True, backend=1) == 1

    assert await client.delete_backend(7) is True
    assert await client.delete_backend(7) is False
    assert sorted(await client.list_backends()) == [0, 1]


async def test_route_refusals_are_200_with_the_services_text(
    client: RemoteService, served: ServeRunner, upstream: FakeSwarm, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(BackendApiError, match="Invalid backend type: nope"):
        await client.add_backend("nope")
    with pytest.raises(BackendApiError, match="Invalid backend ID 42"):
        await client.toggle_backend(42, True)
    upstream.locked = True
    with pytest.raises(BackendApiError, match="Settings are locked."):
        await client.delete_backend(0)
    sid = await new_session(http, served.url)
    status, reply, ctype = await raw_post(http, served.url, "DeleteBackend", {"session_id": sid, "backend_id": 0})
    assert (status, reply, ctype) == (200, {"error": "Settings are locked."}, "application/json")
    assert 0 in upstream.backends


async def test_list_backends_wire_shape(served: ServeRunner, http: aiohttp.ClientSession, upstream: FakeSwarm) -> None:
    upstream.backends[1]["current_model"] = "sdxl/base.safetensors"
    sid = await new_session(http, served.url)
    status, reply, _ = await raw_post(http, served.url, "ListBackends", {"session_id": sid, "full_data": True})
    assert status == 200
    assert list(reply) == ["0", "1"]  # keyed by the id as a string, ordered by id
    one = reply["1"]
    assert one["id"] == 1 and one["status"] == "running" and one["current_model"] == "sdxl/base.safetensors"
    assert one["status_message"] == "" and one["time_since_used"] == "Never" and one["max_usages"] == 1
    _, brief, _ = await raw_post(http, served.url, "ListBackends", {"session_id": sid})
    assert "current_model" not in brief["1"]  # only with full_data, as SwarmUI
    assert all("status_message" in b for b in brief.values())
    _, added, _ = await raw_post(http, served.url, "AddNewBackend", {"session_id": sid, "type_id": "comfyui_api"})
    assert added["id"] == 2 and "status_message" in added and "current_model" not in added


# ---------------------------------------------------------------------------------------------------------------
# Secrets


class _LeakyService:
    """A buggy service that hands out a secret's real value: serve must still send only the marker."""

    def __init__(self, inner: RemoteService, secret_value: str) -> None:
        self._inner = inner
        self._secret_value = secret_value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def list_backends(self, *, nonreal: bool = False, full_data: bool = False) -> dict[int, Backend]:
        out = await self._inner.list_backends(nonreal=nonreal, full_data=full_data)
        return {
            i: Backend.from_wire({**b.to_wire(), "settings": {**b.settings, "AuthorizationHeader": self._secret_value}})
            if "AuthorizationHeader" in b.settings else b
            for i, b in out.items()
        }


async def test_secrets_are_never_sent_nor_logged(
    upstream: FakeSwarm, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bid = upstream.add("swarmswarmbackend", settings={"AuthorizationHeader": SECRET, "Address": "http://peer:7801"})
    inner = RemoteService(upstream.url)
    try:
        for service in (inner, _LeakyService(inner, SECRET)):
            async with ServeRunner(service) as srv:  # type: ignore[arg-type]
                sid = await new_session(http, srv.url)
                for full in (False, True):
                    async with http.post(
                        f"{srv.url}/API/ListBackends", json={"session_id": sid, "full_data": full}
                    ) as r:
                        text = await r.text()
                    assert r.status == 200 and "hunter2" not in text
                    assert json.loads(text)[str(bid)]["settings"]["AuthorizationHeader"] == SECRET_MARKER
                # sending the marker back keeps the stored value (and the secret still does not come back)
                async with RemoteService(srv.url) as client:
                    edited = await client.edit_backend(
                        bid, "peer", {"AuthorizationHeader": SECRET_MARKER, "Address": "http://peer:7802"}
                    )
                assert edited.settings["AuthorizationHeader"] == SECRET_MARKER
                assert upstream.secret_value(bid, "AuthorizationHeader") == SECRET
                # a new secret goes in, and is not echoed
                async with http.post(
                    f"{srv.url}/API/EditBackend",
                    json={"session_id": sid, "backend_id": bid, "title": "peer",
                          "settings": {"AuthorizationHeader": SECRET + "-2"}},
                ) as r:
                    assert "hunter2" not in await r.text()
                upstream.secrets[bid]["AuthorizationHeader"] = SECRET
    finally:
        await inner.aclose()
    assert upstream.secret_value(bid, "AuthorizationHeader") == SECRET
    assert "hunter2" not in caplog.text


# ---------------------------------------------------------------------------------------------------------------
# Error shapes, raw


async def test_malformed_requests_get_swarmuis_error_shapes(served: ServeRunner, http: aiohttp.ClientSession) -> None:
    url = served.url
    sid = await new_session(http, url)

    async def expect(route: str, want_status: int, want: dict[str, str], **kw: Any) -> None:
        status, reply, ctype = await raw_post(http, url, route, **kw)
        assert (status, reply, ctype) == (want_status, want, "application/json"), (route, kw)

    basic = "basic_api"
    await expect("ListBackends", 400, {"error_id": basic, "error": "Wrong content type"},
                 body={"session_id": sid}, content_type="text/plain")
    await expect("ListBackends", 400, {"error_id": basic, "error": "Wrong content type"},
                 body={"session_id": sid}, content_type=None)
    await expect("ListBackends", 400, {"error_id": basic, "error": "bad content length"}, data=b"")
    await expect("ListBackends", 400, {"error_id": basic, "error": "null input"}, data=b"null")
    await expect("ListBackends", 400, {"error_id": basic, "error": "input must be a JSON object"}, data=b"[1, 2]")
    await expect("ListBackends", 400, {"error_id": basic, "error": "input must be a JSON object"}, data=b'"text"')
    await expect("ListBackends", 400, {"error_id": basic, "error": "invalid JSON"}, data=b'{"session_id": ')
    await expect("ListBackends", 400, {"error_id": basic, "error": "invalid JSON"}, data=b"\xff\xfe{}")
    await expect("ListBackends", 400, {"error_id": basic, "error": "invalid JSON"}, data=b'{"a": NaN}')
    await expect("ListBackends", 400, {"error_id": basic, "error": "invalid JSON"}, data=b"[" * 100_000)
    await expect("ListBackends", 400, {"error_id": basic, "error": "missing session id"}, body={})
    await expect("Nope", 400, {"error_id": basic, "error": "missing session id"}, body={})  # session before route
    invalid = {"error": "Invalid session ID. You may need to refresh the page.", "error_id": "invalid_session_id"}
    await expect("ListBackends", 401, invalid, body={"session_id": "not-a-session"})
    await expect("ListBackends", 401, invalid, body={"session_id": None}, headers={"X-Session-ID": sid})
    await expect("Nope", 401, invalid, body={"session_id": "not-a-session"})
    await expect("Nope", 400, {"error_id": "bad_route", "error": "Unknown API route"}, body={"session_id": sid})
    await expect("ListBackends/", 400, {"error_id": "bad_route", "error": "Unknown API route"}, body={"session_id": sid})
    # parameters are read as SwarmUI's reflection builder reads them: refusals, HTTP 200
    await expect("DeleteBackend", 200, {"error": "Missing required parameter 'backend_id'"}, body={"session_id": sid})
    await expect("DeleteBackend", 200, {"error": "Invalid value 'abc' for parameter 'backend_id', must be type 'Int32'"},
                 body={"session_id": sid, "backend_id": "abc"})
    await expect("ToggleBackend", 200, {"error": "Invalid value '1' for parameter 'enabled', must be type 'Boolean'"},
                 body={"session_id": sid, "backend_id": 0, "enabled": 1})
    await expect("EditBackend", 200, {"error": "Missing required parameter 'title'"},
                 body={"session_id": sid, "backend_id": 0})
    await expect("EditBackend", 200, {"error": "Missing settings."},
                 body={"session_id": sid, "backend_id": 0, "title": "x", "settings": [1]})


async def test_session_in_header_and_route_names_in_any_case(served: ServeRunner, http: aiohttp.ClientSession) -> None:
    sid = await new_session(http, served.url)
    for route in ("ListBackends", "listbackends", "LISTBACKENDS", "lIsTbAcKeNdS"):
        status, reply, _ = await raw_post(http, served.url, route, {}, headers={"X-Session-ID": sid})
        assert status == 200 and list(reply) == ["0", "1"], route
    async with http.post(f"{served.url}/api/getnewsession", json={}) as r:
        assert r.status == 200 and "session_id" in await r.json()
    # "true" as text is a Boolean, "1" as text an Int32, as SwarmUI coerces through the value's text
    status, reply, _ = await raw_post(http, served.url, "ToggleBackend",
                                      {"session_id": sid, "backend_id": "1", "enabled": "true"})
    assert (status, reply) == (200, {"result": "No change."})


async def test_get_on_the_api_redirects_to_swarmuis_no_get_page(served: ServeRunner, http: aiohttp.ClientSession) -> None:
    for method in ("GET", "PUT", "DELETE"):
        async with http.request(method, f"{served.url}/API/ListBackends", allow_redirects=False) as r:
            assert (r.status, r.headers["Location"]) == (302, "/Error/NoGetAPI"), method
    async with http.get(f"{served.url}/api/ListBackends") as r:  # followed
        page = await r.text()
        assert r.status == 200 and r.content_type == "text/html"
        assert "Cannot 'GET' the API" in page and "You must use 'POST' requests" in page
    async with http.get(f"{served.url}/Text2Image", allow_redirects=False) as r:
        assert (r.status, r.headers["Location"], await r.read()) == (302, "/Error/404", b"")


async def test_the_error_shapes_match_the_fake_swarmui_server(
    served: ServeRunner, upstream: FakeSwarm, http: aiohttp.ClientSession
) -> None:
    """The same requests to SwarmUI (its stand-in) and to serve get the same status and body."""
    cases: list[tuple[str, dict[str, Any]]] = [
        ("ListBackends", {"body": {"session_id": "x"}, "content_type": "text/plain"}),
        ("ListBackends", {"data": b""}),
        ("ListBackends", {"body": {}}),
        ("ListBackends", {"body": {"session_id": "not-a-session"}}),
        ("Nope", {"body": {}}),
        ("Nope", {"body": {"session_id": "SID"}}),
        ("DeleteBackend", {"body": {"session_id": "SID"}}),
        ("DeleteBackend", {"body": {"session_id": "SID", "backend_id": 99}}),
        ("DeleteBackend", {"body": {"session_id": "SID", "backend_id": "x"}}),
        ("ToggleBackend", {"body": {"session_id": "SID", "backend_id": 0, "enabled": True}}),
        ("ToggleBackend", {"body": {"session_id": "SID", "backend_id": 99, "enabled": True}}),
        ("EditBackend", {"body": {"session_id": "SID", "backend_id": 0, "title": "t"}}),
        ("EditBackend", {"body": {"session_id": "SID", "backend_id": 99, "title": "t", "settings": {}}}),
        ("AddNewBackend", {"body": {"session_id": "SID", "type_id": "nope"}}),
        ("AddNewBackend", {"body": {"session_id": "SID"}}),
        ("RestartBackends", {"body": {"session_id": "SID", "backend": "99"}}),
        ("FreeBackendMemory", {"body": {"session_id": "SID", "backend": "99"}}),
    ]
    sids = {served.url: await new_session(http, served.url), upstream.url: await new_session(http, upstream.url)}
    for route, kw in cases:
        answers = []
        for url in (upstream.url, served.url):
            kw2 = dict(kw)
            if "body" in kw2 and kw2["body"].get("session_id") == "SID":
                kw2["body"] = {**kw2["body"], "session_id": sids[url]}
            status, reply, _ = await raw_post(http, url, route, **kw2)
            answers.append((status, reply))
        assert answers[0] == answers[1], (route, kw)


async def test_unexpected_exceptions_are_internal_error_and_logged_without_their_message(
    upstream: FakeSwarm, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(RemoteService):
        async def list_backends(self, *, nonreal: bool = False, full_data: bool = False) -> dict[int, Backend]:
            raise KeyError(f"settings value {SECRET}")  # a bug whose message quotes a secret

    caplog.set_level(logging.DEBUG)
    async with Broken(upstream.url) as inner, ServeRunner(inner) as srv:
        sid = await new_session(http, srv.url)
        status, reply, _ = await raw_post(http, srv.url, "ListBackends", {"session_id": sid})
        assert (status, reply) == (400, {"error_id": "internal_error", "error": "An internal error occurred"})
        async with RemoteService(srv.url) as client:
            with pytest.raises(BackendApiError, match="internal"):
                await client.list_backends()
            assert len(await client.list_backend_types()) > 3  # the server is still serving
    assert "KeyError" in caplog.text and "listbackends" in caplog.text
    assert "hunter2" not in caplog.text


async def test_an_unreachable_wrapped_service_is_a_refusal_with_its_text(http: aiohttp.ClientSession) -> None:
    # a port nothing listens on: take one, close it
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    dead_port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    async with RemoteService(f"http://127.0.0.1:{dead_port}", timeout=2.0) as inner, ServeRunner(inner) as srv:
        sid = await new_session(http, srv.url)
        status, reply, _ = await raw_post(http, srv.url, "ListBackends", {"session_id": sid})
        assert status == 200 and set(reply) == {"error"}
        assert f"Cannot reach http://127.0.0.1:{dead_port}" in reply["error"]
        async with RemoteService(srv.url) as client:
            with pytest.raises(BackendApiError, match=f"Cannot reach http://127.0.0.1:{dead_port}"):
                await client.list_backends()


# ---------------------------------------------------------------------------------------------------------------
# Tokens and binding


async def test_token_rules(upstream: FakeSwarm, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with RemoteService(upstream.url) as inner, ServeRunner(inner, token=TOKEN) as srv:
        url = srv.url
        # GetNewSession without (or with a wrong) cookie: SwarmUI's own refusal, HTTP 200
        for cookies in (None, {"swarm_token": "wrong"}, {"swarm_token": TOKEN[:-1]}, {"other": TOKEN}):
            status, reply, _ = await raw_post(http, url, "GetNewSession", {}, cookies=cookies)
            assert (status, reply) == (200, {"error": "Invalid or unauthorized."}), cookies
        good = {"swarm_token": TOKEN}
        sid = await new_session(http, url, cookies=good)
        status, reply, _ = await raw_post(http, url, "ListBackends", {"session_id": sid}, cookies=good)
        assert status == 200 and list(reply) == ["0", "1"]
        # a valid session without the cookie is not enough
        invalid = {"error": "Invalid session ID. You may need to refresh the page.", "error_id": "invalid_session_id"}
        for cookies in (None, {"swarm_token": "wrong"}):
            status, reply, _ = await raw_post(http, url, "ListBackends", {"session_id": sid}, cookies=cookies)
            assert (status, reply) == (401, invalid)
        # what a person sees through the app
        async with RemoteService(url) as no_token:
            with pytest.raises(BackendApiError, match="requires a token"):
                await no_token.list_backends()
        async with RemoteService(url, token="wrong-token") as wrong:
            with pytest.raises(BackendApiError, match="refused the token"):
                await wrong.list_backends()
        async with RemoteService(url, token=TOKEN) as right:
            assert list(await right.list_backends()) == [0, 1]
            assert (await right.add_backend("comfyui_api")).id == 2
    assert TOKEN not in caplog.text


def test_non_loopback_addresses_need_a_token() -> None:
    for host in ("127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost"):
        assert is_loopback_host(host), host
        check_bind_allowed(host, None)
    for host in ("0.0.0.0", "::", "", "192.168.1.20", "10.0.0.1", "example.com", "gpu-box.local"):
        assert not is_loopback_host(host), host
        with pytest.raises(BindRefused, match="--token-file"):
            check_bind_allowed(host, None)
        check_bind_allowed(host, TOKEN)  # allowed with a token
    with pytest.raises(BindRefused, match="SSH tunnel"):
        ServeRunner(object(), "0.0.0.0", 0)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------------
# Limits


async def test_oversized_bodies_get_a_json_error_not_an_html_413(served: ServeRunner, http: aiohttp.ClientSession) -> None:
    sid = await new_session(http, served.url)
    huge = json.dumps({"session_id": sid, "pad": "x" * (1024 * 1024)}).encode()
    status, reply, ctype = await raw_post(http, served.url, "ListBackends", data=huge)
    assert (status, reply, ctype) == (400, {"error_id": "basic_api", "error": "bad content length"}, "application/json")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: SwarmUI refuses those too
        yield json.dumps({"session_id": sid}).encode()

    async with http.post(f"{served.url}/API/ListBackends", data=chunks(),
                         headers={"Content-Type": "application/json"}) as r:
        assert r.status == 400 and await r.json() == {"error_id": "basic_api", "error": "bad content length"}
    # the server is fine afterwards
    status, reply, _ = await raw_post(http, served.url, "ListBackends", {"session_id": sid})
    assert status == 200 and list(reply) == ["0", "1"]


async def test_expect_100_continue_is_refused_before_an_oversized_body_is_sent(
    served: ServeRunner, http: aiohttp.ClientSession
) -> None:
    sid = await new_session(http, served.url)

    async def exchange(length: int, body: bytes | None) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        try:
            writer.write(
                b"POST /API/ListBackends HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Expect: 100-continue\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % length
            )
            await writer.drain()
            first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            if body is not None and first.startswith(b"HTTP/1.1 100"):
                writer.write(body)
                await writer.drain()
                first += await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            length = int(re.search(rb"Content-Length: (\d+)", first).group(1))  # type: ignore[union-attr]
            return first + await asyncio.wait_for(reader.readexactly(length), 5.0)
        finally:
            writer.close()

    refused = await exchange(2 * 1024 * 1024, None)  # the client never has to send the 2 MiB
    assert refused.startswith(b"HTTP/1.1 400") and b"100 Continue" not in refused
    assert b'{"error_id":"basic_api","error":"bad content length"}' in refused
    body = json.dumps({"session_id": sid}).encode()
    accepted = await exchange(len(body), body)
    assert accepted.startswith(b"HTTP/1.1 100 Continue") and b"HTTP/1.1 200 OK" in accepted


async def test_a_slow_drip_client_does_not_block_others_and_is_cut_off(upstream: FakeSwarm) -> None:
    async with RemoteService(upstream.url) as inner, ServeRunner(inner, read_timeout=1.0) as srv:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(
            b"POST /API/GetNewSession HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 200\r\n\r\n{"
        )
        await writer.drain()
        try:
            async with RemoteService(srv.url) as client:
                for _ in range(3):  # served while the drip is stuck mid-body
                    assert list(await client.list_backends()) == [0, 1]
            head = await asyncio.wait_for(reader.read(4096), timeout=5.0)  # the drip is answered, within a deadline
        finally:
            writer.close()
        assert head.startswith(b"HTTP/1.1 400")
        assert b'{"error_id":"basic_api","error":"request body timed out"}' in head


async def test_old_sessions_are_dropped_beyond_the_limit(upstream: FakeSwarm, http: aiohttp.ClientSession) -> None:
    async with RemoteService(upstream.url) as inner, ServeRunner(inner, max_sessions=3) as srv:
        sids = [await new_session(http, srv.url) for _ in range(5)]
        statuses = [(await raw_post(http, srv.url, "ListBackends", {"session_id": s}))[0] for s in sids]
        assert statuses == [401, 401, 200, 200, 200]
        # a client whose session was dropped gets a new one silently
        async with RemoteService(srv.url) as client:
            assert list(await client.list_backends()) == [0, 1]
