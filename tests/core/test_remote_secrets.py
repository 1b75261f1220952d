"""Secrets (setting values of is_secret specs, the token) never reach log records or exception texts."""

from __future__ import annotations

import logging

import pytest

from backend_manager_gui.core.errors import BackendApiError, ServiceUnavailable
from backend_manager_gui.core.remote import RemoteService
from tests.support.fake_swarm import FakeSwarm

TOKEN = "tok-5ecret-0f-the-user"
SECRET = "Bearer sk-very-secret-header"


def _all_log_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)


async def test_secrets_and_token_never_logged_or_in_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    errors: list[Exception] = []
    async with FakeSwarm(token=TOKEN) as fake:
        bid = fake.add("swarmswarmbackend", settings={"AuthorizationHeader": "Bearer old"})
        async with RemoteService(fake.url, token=TOKEN) as service:
            backend = (await service.list_backends())[bid]
            edited = await service.edit_backend(bid, "remote", {**backend.settings, "AuthorizationHeader": SECRET})
            assert fake.secret_value(bid, "AuthorizationHeader") == SECRET  # the secret did travel
            assert SECRET not in repr(edited)
            fake.locked = True
            try:
                await service.edit_backend(bid, "remote", {**backend.settings, "AuthorizationHeader": SECRET})
            except BackendApiError as err:
                errors.append(err)
            fake.locked = False
            for fault in ("http500", "html200", "truncated_json", "drop"):
                fake.fault = fault
                try:
                    await service.edit_backend(bid, "remote", {"AuthorizationHeader": SECRET})
                except ServiceUnavailable as err:
                    errors.append(err)
            fake.fault = None
            assert TOKEN not in repr(service)
        async with RemoteService(fake.url, token=TOKEN + "-wrong") as wrong:
            try:
                await wrong.list_backends()
            except BackendApiError as err:
                errors.append(err)
    assert len(errors) == 6
    remote_records = [r for r in caplog.records if r.name == "backend_manager_gui.remote"]
    # each request logged as route + outcome + duration
    assert any("EditBackend" in r.getMessage() and "HTTP 200" in r.getMessage() for r in remote_records)
    assert any("EditBackend" in r.getMessage() and "dropped" in r.getMessage() for r in remote_records)
    logged = _all_log_text(caplog)
    for secret in (TOKEN, SECRET, "sk-very-secret"):
        assert secret not in logged
        for err in errors:
            assert secret not in str(err) and secret not in repr(err)


async def test_password_in_the_url_is_never_shown_or_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeSwarm() as fake:
        fake.add("comfyui_api")
        url = f"http://admin:pw-Sup3rSecret@127.0.0.1:{fake.port}/"
        async with RemoteService(url) as service:
            assert list(await service.list_backends()) == [0]  # the credentials still travel (basic auth)
            assert service.location == fake.url
            fake.fault = "http500"
            with pytest.raises(ServiceUnavailable) as err:
                await service.list_backends()
    assert str(err.value) == f"The server at {fake.url} answered HTTP 500 to ListBackends."
    assert "pw-Sup3rSecret" not in _all_log_text(caplog) and "pw-Sup3rSecret" not in repr(service)


async def test_a_value_that_cannot_be_sent_is_refused_without_naming_it() -> None:
    async with FakeSwarm() as fake:
        bid = fake.add("comfyui_api")
        async with RemoteService(fake.url) as service:
            await service.list_backends()
            with pytest.raises(BackendApiError) as err:
                await service.edit_backend(bid, "t", {"Address": float("nan"), "Key": object()})
            assert "cannot be sent" in str(err.value) and "nan" not in str(err.value).lower()
            assert fake.calls["editbackend"] == 0  # nothing half-sent
