"""What each service declares it offers beyond the contract (core/service.py), as the GUI asks it."""

from __future__ import annotations

from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.core.service import (
    BackendService,
    ChangeFeed,
    HasWarnings,
    WorkerHost,
)


async def test_the_embedded_manager_hosts_workers_and_a_server_client_does_not(tmp_path):
    local = LocalService(tmp_path / "data")
    remote = RemoteService("http://127.0.0.1:9")
    try:
        for service in (local, remote):
            assert isinstance(service, BackendService)
        assert isinstance(local, WorkerHost) and isinstance(local, ChangeFeed) and isinstance(local, HasWarnings)
        assert not isinstance(remote, WorkerHost) and not isinstance(remote, ChangeFeed)
        assert not isinstance(remote, HasWarnings)
    finally:
        await remote.aclose()
        await local.aclose()
