"""RemoteService against the real aiohttp fake SwarmUI on 127.0.0.1: every route, every error row of WIRE.md."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from backend_manager_gui.core.errors import BackendApiError, ServiceUnavailable
from backend_manager_gui.core.models import SECRET_MARKER, BackendStatus
from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.core.service import BackendService
from tests.support.fake_swarm import BACKEND_TYPES, FakeSwarm


@pytest.fixture
async def fake() -> AsyncIterator[FakeSwarm]:
    async with FakeSwarm() as server:
        yield server


@pytest.fixture
async def svc(fake: FakeSwarm) -> AsyncIterator[RemoteService]:
    async with RemoteService(fake.url) as service:
        yield service


async def raw_post(fake: FakeSwarm, route: str, content: bytes, *, content_type: str = "application/json",
                   headers: dict[str, str] | None = None) -> httpx.Response:
    """A request the client itself never makes, to check the fake answers as SwarmUI does."""
    async with httpx.AsyncClient() as client:
        return await client.post(f"{fake.url}/API/{route}", content=content,
                                 headers={"Content-Type": content_type, **(headers or {})})


async def new_session(fake: FakeSwarm) -> str:
    reply = await raw_post(fake, "GetNewSession", b"{}")
    return reply.json()["session_id"]


# ---------------------------------------------------------------------------------------------- the contract
async def test_remote_service_satisfies_the_protocol_and_says_where_it_is(fake: FakeSwarm) -> None:
    service = RemoteService(f"127.0.0.1:{fake.port}/")
    assert isinstance(service, BackendService)
    assert service.location == fake.url  # scheme added, trailing slash gone
    assert fake.requests == 0  # the session is fetched lazily, not on construction
    assert service.server_info is None
    await service.list_backends()
    assert service.server_info is not None and service.server_info.version == fake.version
    assert service.server_info.server_id == fake.server_id
    await service.aclose()


async def test_list_backend_types_gives_the_real_servers_types(svc: RemoteService, fake: FakeSwarm) -> None:
    types = await svc.list_backend_types()
    assert [t.id for t in types] == [t["id"] for t in BACKEND_TYPES]
    comfy = next(t for t in types if t.id == "comfyui_selfstart")
    assert comfy.setting("GPU_ID") is not None and comfy.setting("GPU_ID").type == "text"
    swarm = next(t for t in types if t.id == "swarmswarmbackend")
    assert swarm.setting("AuthorizationHeader").is_secret
    assert fake.new_sessions == 1 and fake.calls["listbackendtypes"] == 1


async def test_list_backends_is_ordered_by_id_and_current_model_only_with_full_data(svc: RemoteService, fake: FakeSwarm) -> None:
    fake.add("comfyui_api", backend_id=5, status="idle", current_model="sdxl/base.safetensors", title="GPU 5")
    fake.add("comfyui_selfstart", backend_id=2, status="running")
    plain = await svc.list_backends()
    assert list(plain) == [2, 5]
    assert plain[5].status is BackendStatus.IDLE and plain[5].title == "GPU 5"
    assert plain[5].current_model is None
    assert fake.last_body is not None and fake.last_body["full_data"] is False and fake.last_body["nonreal"] is False
    full = await svc.list_backends(full_data=True)
    assert full[5].current_model == "sdxl/base.safetensors"
    assert fake.last_body["full_data"] is True


async def test_add_backend_fills_the_types_defaults(svc: RemoteService, fake: FakeSwarm) -> None:
    backend = await svc.add_backend("comfyui_selfstart")
    assert backend.type == "comfyui_selfstart" and backend.status is BackendStatus.WAITING
    defaults = {s["name"]: s["default"] for s in fake.type_("comfyui_selfstart")["settings"]}
    assert backend.settings == defaults
    assert list(await svc.list_backends()) == [backend.id]
    with pytest.raises(BackendApiError) as err:
        await svc.add_backend("no_such_type")
    assert err.value.message == "Invalid backend type: no_such_type" and err.value.error_id is None


async def test_edit_backend_sends_settings_at_top_level_and_grows_modcount(svc: RemoteService, fake: FakeSwarm) -> None:
    bid = fake.add("comfyui_api", status="running")
    before = (await svc.list_backends())[bid]
    edited = await svc.edit_backend(bid, "GPU 1", {**before.settings, "Address": "http://10.0.0.2:8188"})
    assert fake.last_body is not None
    assert fake.last_body["settings"]["Address"] == "http://10.0.0.2:8188"
    assert "new_id" not in fake.last_body and "raw_inp" not in fake.last_body
    assert edited.title == "GPU 1" and edited.settings["Address"] == "http://10.0.0.2:8188"
    assert edited.modcount == before.modcount + 1
    assert edited.status is BackendStatus.WAITING  # an edit re-inits the backend


async def test_edit_backend_keeps_a_secret_when_the_marker_is_sent_back(svc: RemoteService, fake: FakeSwarm) -> None:
    bid = fake.add("swarmswarmbackend", settings={"AuthorizationHeader": "Bearer stored-value"})
    listed = (await svc.list_backends())[bid]
    assert listed.settings["AuthorizationHeader"] == SECRET_MARKER
    await svc.edit_backend(bid, "kept", dict(listed.settings))
    assert fake.last_body["settings"]["AuthorizationHeader"] == SECRET_MARKER  # passed through untouched
    assert fake.secret_value(bid, "AuthorizationHeader") == "Bearer stored-value"
    await svc.edit_backend(bid, "changed", {**listed.settings, "AuthorizationHeader": "Bearer new-value"})
    assert fake.secret_value(bid, "AuthorizationHeader") == "Bearer new-value"
    assert (await svc.list_backends())[bid].settings["AuthorizationHeader"] == SECRET_MARKER


async def test_edit_backend_new_id_moves_it_and_the_refusals_read_as_the_server_wrote_them(svc: RemoteService, fake: FakeSwarm) -> None:
    a = fake.add("comfyui_api")
    b = fake.add("comfyui_api")
    moved = await svc.edit_backend(a, "moved", {}, new_id=7)
    assert fake.last_body["new_id"] == 7 and moved.id == 7
    assert list(await svc.list_backends()) == [b, 7]
    with pytest.raises(BackendApiError) as err:
        await svc.edit_backend(7, "clash", {}, new_id=b)
    assert str(err.value) == f"Backend ID {b} is already in use."
    with pytest.raises(BackendApiError) as err:
        await svc.edit_backend(3, "nobody", {})
    assert str(err.value) == "Invalid backend ID 3" and err.value.error_id is None


async def test_edit_without_settings_is_refused_by_the_fake_as_by_swarmui(fake: FakeSwarm) -> None:
    # the client always sends settings; this checks the fake's row of WIRE.md with a raw request
    session = await new_session(fake)
    bid = fake.add("comfyui_api")
    reply = await raw_post(fake, "EditBackend", f'{{"session_id": "{session}", "backend_id": {bid}, "title": "x"}}'.encode())
    assert reply.status_code == 200 and reply.json() == {"error": "Missing settings."}


async def test_delete_backend_true_then_false(svc: RemoteService, fake: FakeSwarm) -> None:
    bid = fake.add("comfyui_api")
    assert await svc.delete_backend(bid) is True
    assert fake.last_body["backend_id"] == bid
    assert await svc.delete_backend(bid) is False
    assert await svc.list_backends() == {}


async def test_toggle_backend_success_no_change_and_invalid_id(svc: RemoteService, fake: FakeSwarm) -> None:
    bid = fake.add("comfyui_api", status="running")
    assert await svc.toggle_backend(bid, False) is True
    assert (await svc.list_backends())[bid].status is BackendStatus.DISABLED
    assert await svc.toggle_backend(bid, False) is False
    assert await svc.toggle_backend(bid, True) is True
    assert (await svc.list_backends())[bid].enabled is True
    with pytest.raises(BackendApiError, match=r"^Invalid backend ID 3$"):
        await svc.toggle_backend(3, True)


async def test_restart_counts_only_running_and_errored_and_sends_the_id_as_text(svc: RemoteService, fake: FakeSwarm) -> None:
    ids = [fake.add("comfyui_api", status=s) for s in ("running", "errored", "idle", "disabled", "loading")]
    assert await svc.restart_backends(ids[1]) == 1
    assert fake.last_body["backend"] == str(ids[1])
    assert await svc.restart_backends() == 1  # the errored one is now waiting: only the running one is left
    assert fake.last_body["backend"] == "all"
    statuses = {b.id: b.status for b in (await svc.list_backends()).values()}
    assert statuses[ids[0]] is BackendStatus.WAITING and statuses[ids[2]] is BackendStatus.IDLE


async def test_free_memory_counts_running_backends_and_zero_when_none_runs(svc: RemoteService, fake: FakeSwarm) -> None:
    assert await svc.free_memory() == 0
    first = fake.add("comfyui_api", status="running")
    fake.add("comfyui_api", status="running")
    fake.add("comfyui_api", status="errored")
    assert await svc.free_memory(system_ram=True) == 2
    assert fake.last_body == {**fake.last_body, "system_ram": True, "backend": "all"}
    assert await svc.free_memory(backend=first) == 1
    assert fake.last_body["backend"] == str(first)


# ---------------------------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    "call",
    [
        lambda s, b: s.add_backend("comfyui_api"),
        lambda s, b: s.edit_backend(b, "t", {}),
        lambda s, b: s.delete_backend(b),
        lambda s, b: s.toggle_backend(b, False),
        lambda s, b: s.restart_backends(),
    ],
    ids=["add", "edit", "delete", "toggle", "restart"],
)
async def test_locked_settings_refuse_every_change_with_the_servers_text(svc: RemoteService, fake: FakeSwarm, call) -> None:
    bid = fake.add("comfyui_api", status="running")
    fake.locked = True
    with pytest.raises(BackendApiError) as err:
        await call(svc, bid)
    assert str(err.value) == "Settings are locked." and err.value.error_id is None
    assert list(await svc.list_backends()) == [bid]  # reading still works, nothing changed
    assert (await svc.list_backends())[bid].status is BackendStatus.RUNNING


async def test_missing_permission_is_bad_permissions(svc: RemoteService, fake: FakeSwarm) -> None:
    fake.permissions.discard("add_remove_backends")
    with pytest.raises(BackendApiError) as err:
        await svc.add_backend("comfyui_api")
    assert (err.value.message, err.value.error_id) == ("You lack permissions for this route.", "bad_permissions")
    assert await svc.list_backends() == {}


async def test_internal_error_is_reported_with_its_id(svc: RemoteService, fake: FakeSwarm) -> None:
    fake.internal_error_routes.add("listbackends")
    with pytest.raises(BackendApiError) as err:
        await svc.list_backends()
    assert (err.value.message, err.value.error_id) == ("An internal error occurred", "internal_error")


async def test_a_server_without_the_route_answers_bad_route(svc: RemoteService, fake: FakeSwarm) -> None:
    fake.missing_routes.add("freebackendmemory")  # an older server
    with pytest.raises(BackendApiError) as err:
        await svc.free_memory()
    assert (err.value.message, err.value.error_id) == ("Unknown API route", "bad_route")


async def test_parameter_of_the_wrong_type_is_a_route_refusal(fake: FakeSwarm) -> None:
    session = await new_session(fake)
    reply = await raw_post(fake, "DeleteBackend", f'{{"session_id": "{session}", "backend_id": "three"}}'.encode())
    assert reply.status_code == 200
    assert reply.json() == {"error": "Invalid value 'three' for parameter 'backend_id', must be type 'Int32'"}


@pytest.mark.parametrize(
    ("content", "content_type", "status", "error_id", "text"),
    [
        (b"{}", "text/plain", 400, "basic_api", "Wrong content type"),
        (b"{}", "application/json", 400, "basic_api", "missing session id"),
        (b'{"session_id": "nope"}', "application/json", 401, "invalid_session_id",
         "Invalid session ID. You may need to refresh the page."),
        (b"[1, 2]", "application/json", 400, "internal_error", "An internal error occurred"),
    ],
    ids=["wrong-content-type", "missing-session", "unknown-session", "not-an-object"],
)
async def test_malformed_requests_get_swarmuis_error_shapes(fake: FakeSwarm, content, content_type, status, error_id, text) -> None:
    reply = await raw_post(fake, "ListBackends", content, content_type=content_type)
    assert reply.status_code == status
    assert reply.json() == {"error_id": error_id, "error": text}


async def test_session_id_in_the_header_is_accepted_and_unknown_routes_are_bad_route(fake: FakeSwarm) -> None:
    session = await new_session(fake)
    fake.add("comfyui_api")
    reply = await raw_post(fake, "listbackends", b"{}", headers={"X-Session-ID": session})  # any case
    assert reply.status_code == 200 and list(reply.json()) == ["0"]
    reply = await raw_post(fake, "NoSuchRoute", f'{{"session_id": "{session}"}}'.encode())
    assert reply.status_code == 400 and reply.json() == {"error_id": "bad_route", "error": "Unknown API route"}


# ---------------------------------------------------------------------------------------------- sessions
async def test_expired_session_is_renewed_silently(svc: RemoteService, fake: FakeSwarm) -> None:
    bid = fake.add("comfyui_api")
    assert list(await svc.list_backends()) == [bid]
    fake.expire_all_sessions()
    assert list(await svc.list_backends()) == [bid]
    assert fake.new_sessions == 2


async def test_sessions_expiring_every_3_calls_20_sequential_calls(svc: RemoteService, fake: FakeSwarm) -> None:
    bid = fake.add("comfyui_api")
    fake.expire_every = 3
    results = [await svc.list_backends() for _ in range(20)]
    assert all(list(r) == [bid] for r in results)
    assert fake.new_sessions == 7  # ceil(20 / 3): one per session, none wasted
    assert fake.calls["listbackends"] == 20


async def test_sessions_expiring_every_3_calls_20_concurrent_calls_share_renewals(svc: RemoteService, fake: FakeSwarm) -> None:
    bid = fake.add("comfyui_api")
    fake.expire_every = 3
    results = await asyncio.gather(*(svc.list_backends() for _ in range(20)))
    assert all(list(r) == [bid] for r in results)
    # every expiry is met by many calls at once, yet each expired session is replaced exactly once
    assert fake.new_sessions == 7
    assert fake.calls["listbackends"] == 20


@pytest.mark.parametrize("every", [3, 2])
async def test_many_calls_in_flight_while_the_server_keeps_dropping_all_sessions(
    svc: RemoteService, fake: FakeSwarm, every: int
) -> None:
    """Issue 12 item 13: a server that forgets all its sessions on every third request it checks (a restart loop
    would) still hands out sessions, yet 20 calls at once ended with ~11 failures: requests carrying a stale
    session used up the server's patience, so fresh sessions were gone before anyone used them."""
    bid = fake.add("comfyui_api")
    fake.drop_sessions_every = every
    results = await asyncio.gather(*(svc.list_backends() for _ in range(20)), return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert all(list(r) == [bid] for r in results)
    assert fake.calls["listbackends"] == 20
    # and a mix of routes at once, twice over
    for _ in range(2):
        results = await asyncio.gather(*(svc.list_backends() for _ in range(10)),
                                       *(svc.toggle_backend(bid, i % 2 == 0) for i in range(10)),
                                       *(svc.list_backend_types() for _ in range(5)), return_exceptions=True)
        assert [r for r in results if isinstance(r, BaseException)] == []


async def test_concurrent_first_calls_open_one_session(svc: RemoteService, fake: FakeSwarm) -> None:
    await asyncio.gather(*(svc.list_backends() for _ in range(10)))
    assert fake.new_sessions == 1


async def test_a_server_refusing_every_session_gives_up_after_three_retries(svc: RemoteService, fake: FakeSwarm) -> None:
    fake.expire_every = 0  # no session serves a single call
    with pytest.raises(BackendApiError) as err:
        await svc.list_backends()
    assert err.value.error_id == "invalid_session_id" and fake.url in str(err.value)
    assert fake.new_sessions == 4  # the first session plus three retries
    fake.expire_every = None
    assert await svc.list_backends() == {}  # and the same service works once the server does


async def test_a_late_reply_from_an_old_session_does_not_vouch_for_the_new_one(svc: RemoteService, fake: FakeSwarm) -> None:
    """A reply served on an expired session that arrives after the renewal says nothing about the new session:
    a server that then refuses every session is given up on after the same three retries."""
    await svc.list_backends()  # session 1 serves a call
    fake.hold("listbackendtypes", at="reply")
    slow = asyncio.ensure_future(svc.list_backend_types())
    await fake.until_waiting("listbackendtypes")  # served on session 1, its reply not sent yet
    fake.expire_all_sessions()
    fake.expire_every = 0  # from now on no session serves a single call
    failing = asyncio.ensure_future(svc.list_backends())  # refused: session 1 expired
    for _ in range(1000):  # the client waits (a bounded time) for the old call, then opens session 2 anyway
        if fake.new_sessions == 2:
            break
        await asyncio.sleep(0.01)
    assert fake.new_sessions == 2
    fake.unhold("listbackendtypes")
    assert [t.id for t in await slow] == [t["id"] for t in BACKEND_TYPES]  # the late reply, on session 2's watch
    with pytest.raises(BackendApiError) as err:
        await failing
    assert err.value.error_id == "invalid_session_id"
    # sessions 2 to 5 refused, as when the server refuses from the start (the first plus three retries)
    assert fake.new_sessions == 1 + 4


# ---------------------------------------------------------------------------------------------- tokens
async def test_token_required_and_none_given(fake: FakeSwarm) -> None:
    fake.token = "tok-ABC-123"
    async with RemoteService(fake.url) as service:
        with pytest.raises(BackendApiError) as err:
            await service.list_backends()
    assert err.value.error_id == "unauthorized"
    assert "token" in str(err.value) and "requires" in str(err.value)
    assert fake.new_sessions == 0


async def test_token_refused(fake: FakeSwarm) -> None:
    fake.token = "tok-ABC-123"
    async with RemoteService(fake.url, token="tok-WRONG-999") as service:
        with pytest.raises(BackendApiError) as err:
            await service.list_backends()
    assert err.value.error_id == "unauthorized" and "refused the token" in str(err.value)
    assert "tok-WRONG-999" not in str(err.value) and "tok-WRONG-999" not in repr(err.value)
    assert "tok-WRONG-999" not in repr(service)


async def test_token_accepted_is_sent_as_the_swarm_token_cookie(fake: FakeSwarm) -> None:
    fake.token = "tok-ABC-123"
    fake.add("comfyui_api")
    async with RemoteService(fake.url, token="tok-ABC-123") as service:
        assert list(await service.list_backends()) == [0]
        assert fake.last_cookies.get("swarm_token") == "tok-ABC-123"
        fake.expire_all_sessions()  # the renewal carries the cookie too
        assert list(await service.list_backends()) == [0]
    assert fake.new_sessions == 2


# ---------------------------------------------------------------------------------------------- transport faults
@pytest.mark.parametrize("fault", ["http500", "html200", "truncated_json", "drop"])
async def test_fault_gives_service_unavailable_then_the_same_service_recovers(svc: RemoteService, fake: FakeSwarm, fault: str) -> None:
    bid = fake.add("comfyui_api")
    assert list(await svc.list_backends()) == [bid]  # a session is open
    fake.fault = fault
    with pytest.raises(ServiceUnavailable) as err:
        await svc.list_backends()
    assert fake.url in str(err.value)
    assert "Traceback" not in str(err.value) and "httpx" not in str(err.value)
    with pytest.raises(ServiceUnavailable):
        await svc.toggle_backend(bid, False)
    assert fake.faults_served == 2
    fake.fault = None
    assert list(await svc.list_backends()) == [bid]
    assert await svc.toggle_backend(bid, False) is True


@pytest.mark.parametrize("fault", ["http500", "html200", "truncated_json", "drop"])
async def test_fault_during_the_first_session_request(fake: FakeSwarm, fault: str) -> None:
    fake.fault = fault
    async with RemoteService(fake.url) as service:
        with pytest.raises(ServiceUnavailable):
            await service.list_backend_types()
        fake.fault = None
        assert len(await service.list_backend_types()) == len(BACKEND_TYPES)
    assert fake.new_sessions == 1


async def test_fault_messages_say_what_happened(svc: RemoteService, fake: FakeSwarm) -> None:
    expected = {
        "http500": "answered HTTP 500",
        "html200": "web page",
        "truncated_json": "cut off",
        "drop": "connection was dropped",
    }
    for fault, words in expected.items():
        fake.fault = fault
        with pytest.raises(ServiceUnavailable) as err:
            await svc.list_backends()
        assert words in str(err.value), (fault, str(err.value))


async def test_every_third_call_failing(svc: RemoteService, fake: FakeSwarm) -> None:
    bid = fake.add("comfyui_api")
    await svc.list_backends()  # request 1 of the server: the session, then 2: this call
    fake.fault = "every_third"
    outcomes = []
    for _ in range(9):
        try:
            outcomes.append(list(await svc.list_backends()) == [bid])
        except ServiceUnavailable:
            outcomes.append("unavailable")
    assert outcomes.count("unavailable") == 3 and outcomes.count(True) == 6
    fake.fault = None
    assert all([list(await svc.list_backends()) == [bid] for _ in range(3)])


async def test_non_object_json_reply_is_unavailable(svc: RemoteService, fake: FakeSwarm) -> None:
    fake.reply_overrides["listbackends"] = [1, 2, 3]
    with pytest.raises(ServiceUnavailable, match="not a JSON object"):
        await svc.list_backends()


async def test_malformed_fields_in_a_json_reply_are_unavailable_and_name_the_field(svc: RemoteService, fake: FakeSwarm) -> None:
    fake.reply_overrides["listbackends"] = {"0": {"id": 0, "type": "comfyui_api", "status": 5}}
    with pytest.raises(ServiceUnavailable) as err:
        await svc.list_backends()
    assert "'status'" in str(err.value) and fake.url in str(err.value)
    fake.reply_overrides["restartbackends"] = {"result": "Success."}
    with pytest.raises(ServiceUnavailable, match="'count'"):
        await svc.restart_backends()
    fake.reply_overrides.clear()
    assert await svc.list_backends() == {}


async def test_timeout_is_unavailable_and_recovers(fake: FakeSwarm) -> None:
    async with RemoteService(fake.url, timeout=0.3) as service:
        assert await service.list_backends() == {}
        fake.latency = 1.0
        with pytest.raises(ServiceUnavailable) as err:
            await service.list_backends()
        assert str(err.value) == f"Cannot reach {fake.url}: no answer within 0.3 s."
        fake.latency = 0.0
        assert await service.list_backends() == {}


async def test_refused_connection_names_the_url(unused_tcp_port: int) -> None:
    url = f"http://127.0.0.1:{unused_tcp_port}"
    async with RemoteService(url) as service:
        with pytest.raises(ServiceUnavailable) as err:
            await service.list_backends()
    assert str(err.value).startswith(f"Cannot reach {url}: connection refused")


async def test_server_stopped_and_started_again_on_the_same_port(fake: FakeSwarm) -> None:
    async with RemoteService(fake.url) as service:
        assert await service.list_backends() == {}
        port = fake.port
        await fake.stop()
        with pytest.raises(ServiceUnavailable, match="connection refused|dropped"):
            await service.list_backends()
        async with FakeSwarm(port=port) as again:
            again.add("comfyui_api")
            # a fresh server knows none of the old sessions: the client renews silently
            assert list(await service.list_backends()) == [0]
            assert again.new_sessions == 1


async def test_calls_after_aclose_are_unavailable(svc: RemoteService, fake: FakeSwarm) -> None:
    await svc.list_backends()
    await svc.aclose()
    with pytest.raises(ServiceUnavailable, match="closed"):
        await svc.list_backends()


async def test_broken_ssl_cert_file_does_not_break_plain_http(fake: FakeSwarm, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    missing = str(tmp_path / "no-such-ca-bundle.pem")
    monkeypatch.setenv("SSL_CERT_FILE", missing)
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-such-dir"))
    with pytest.raises(FileNotFoundError):
        httpx.AsyncClient()  # what a default client does in this environment (seen on a bare Debian)
    fake.add("comfyui_api")
    async with RemoteService(fake.url) as service:
        assert list(await service.list_backends()) == [0]


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:7801", "http://127.0.0.1:notaport"])
async def test_an_address_that_is_not_http_is_unavailable_with_a_reason(url: str) -> None:
    async with RemoteService(url) as service:
        with pytest.raises(ServiceUnavailable, match="not a valid http:// or https:// address"):
            await service.list_backends()
