"""Hosts: with several connections, snapshots landing together reach the table as one (COALESCE_S), and a
refresh returns with its answer already handed on."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import QObject

from backend_manager_gui.core.aggregate import AggregateService
from backend_manager_gui.core.models import Backend, BackendStatus
from backend_manager_gui.core.rowkeys import row_key
from backend_manager_gui.gui import hosts as hosts_module
from backend_manager_gui.gui.hosts import Hosts
from tests.gui.conftest import run


class _Server:
    """Just what a poller reads: a location and a list."""

    def __init__(self, name: str, n: int) -> None:
        self.location = f"http://{name}:7801"
        self.backends = {i: Backend(id=i, type="comfyui_api", status=BackendStatus.RUNNING) for i in range(n)}

    async def list_backends(self, **_kw: Any) -> dict[int, Backend]:
        return dict(self.backends)


def _hosts(*servers: _Server) -> tuple[Hosts, list[dict[int, Backend]], QObject]:
    parent = QObject()
    aggregate = AggregateService([(s.location, s) for s in servers])  # type: ignore[misc]
    hosts = Hosts(aggregate, parent, interval=60.0, max_interval=60.0)
    seen: list[dict[int, Backend]] = []
    hosts.snapshot_ready.connect(seen.append)
    return hosts, seen, parent


def test_snapshots_landing_together_are_handed_on_once(loop):
    hosts, seen, _parent = _hosts(_Server("a", 2), _Server("b", 3), _Server("c", 1))
    for host in hosts:  # three answers in the same moment, as pollers in step give them
        hosts._on_snapshot(host, run(loop, host.poller.service.list_backends()))
    assert seen == []
    run(loop, asyncio.sleep(hosts_module.COALESCE_S * 3))
    assert len(seen) == 1 and set(seen[0]) == {row_key(h, i) for h, n in ((0, 2), (1, 3), (2, 1)) for i in range(n)}


def test_a_refresh_returns_with_its_answer_handed_on(loop):
    hosts, seen, _parent = _hosts(_Server("a", 2), _Server("b", 1))
    run(loop, hosts.refresh([1]))
    assert len(seen) == 1 and set(seen[0]) == {row_key(1, 0)}
    run(loop, hosts.stop())


def test_one_connection_hands_each_snapshot_on_at_once(loop):
    hosts, seen, _parent = _hosts(_Server("a", 2))
    host = hosts.first()
    hosts._on_snapshot(host, run(loop, host.poller.service.list_backends()))
    assert len(seen) == 1


def test_a_pending_snapshot_is_dropped_when_polling_stops(loop):
    hosts, seen, _parent = _hosts(_Server("a", 2), _Server("b", 1))
    host = hosts.first()
    hosts._on_snapshot(host, run(loop, host.poller.service.list_backends()))
    run(loop, hosts.stop())
    run(loop, asyncio.sleep(hosts_module.COALESCE_S * 3))
    assert seen == []
