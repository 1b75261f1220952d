"""Poller against the real fake SwarmUI: one request in flight, refresh on demand, back-off and recovery."""

from __future__ import annotations

import asyncio

from backend_manager_gui.core.errors import ServiceUnavailable
from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.gui.poller import Poller
from tests.gui.conftest import run
from tests.support.fake_swarm import FakeSwarm


class CountingRemote(RemoteService):
    """The real client, counting how many list requests are open at once."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.open = 0
        self.most_open = 0

    async def list_backends(self, **kwargs):
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            return await super().list_backends(**kwargs)
        finally:
            self.open -= 1


def test_one_request_in_flight_however_often_refresh_is_asked(loop, qapp):
    async def body() -> None:
        async with FakeSwarm(backends=2, latency=0.2) as fake:
            service = CountingRemote(fake.url, timeout=5.0)
            poller = Poller(service, interval=0.05, max_interval=0.2)
            snapshots: list[dict] = []
            poller.snapshot_received.connect(snapshots.append)
            poller.start()
            # many impatient refreshes at once, as a person hammering F5 would cause
            await asyncio.gather(*(poller.refresh() for _ in range(8)))
            await asyncio.sleep(0.3)
            await poller.stop()
            await service.aclose()
            assert service.most_open == 1
            assert snapshots and sorted(snapshots[-1]) == [0, 1]

    run(loop, body())


def test_refresh_returns_a_snapshot_newer_than_the_change(loop, qapp):
    async def body() -> None:
        async with FakeSwarm(backends=1) as fake:
            service = RemoteService(fake.url)
            poller = Poller(service, interval=10.0)
            seen: list[str] = []
            poller.snapshot_received.connect(lambda snap: seen.append(snap[0].status.value))
            fake.hold("listbackends", at="reply")
            poller.start()
            await fake.until_waiting("listbackends")  # the first poll is in flight, its answer says "running"
            fake.set_status(0, "errored")
            refreshed = asyncio.ensure_future(poller.refresh())
            await asyncio.sleep(0)  # refresh() has asked (while the first poll is still under way)
            assert not refreshed.done()
            fake.unhold("listbackends")
            await refreshed
            # the poll under way answered first; refresh() waited for one that started after the change
            assert seen == ["running", "errored"]
            await poller.stop()
            await service.aclose()

    run(loop, body())


def test_unreachable_backs_off_and_recovers(loop, qapp):
    async def body() -> None:
        fake = FakeSwarm(backends=1)
        await fake.start()
        service = RemoteService(fake.url, timeout=1.0)
        poller = Poller(service, interval=0.1, max_interval=0.4)
        failures: list[BaseException] = []
        poller.poll_failed.connect(failures.append)
        poller.start()
        await poller.refresh()
        assert poller.reachable
        await fake.stop()
        while poller.failures < 3:
            await asyncio.sleep(0.02)
        assert isinstance(failures[0], ServiceUnavailable)
        assert poller.current_delay() == 0.4  # 0.1 → 0.2 → 0.4, capped
        await fake.start()
        while not poller.reachable:
            await asyncio.sleep(0.02)
        assert poller.current_delay() == 0.1
        await poller.stop()
        await service.aclose()
        await fake.stop()

    run(loop, body())


def test_paused_poller_does_not_poll_until_resumed(loop, qapp):
    async def body() -> None:
        async with FakeSwarm(backends=1) as fake:
            service = RemoteService(fake.url)
            poller = Poller(service, interval=0.05)
            poller.start()
            await poller.refresh()
            poller.pause()
            await asyncio.sleep(0.1)
            before = fake.calls["listbackends"]
            await asyncio.sleep(0.4)
            assert fake.calls["listbackends"] == before
            poller.resume()
            while fake.calls["listbackends"] == before:  # at once (the run's timeout bounds the wait)
                await asyncio.sleep(0.01)
            await poller.stop()
            await service.aclose()

    run(loop, body())
