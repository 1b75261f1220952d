"""Many connections as one service (core/aggregate.py) against real parts: two fake SwarmUI servers and the
embedded manager. Row keys keep equal ids of different hosts apart, each call reaches the connection that owns
the row with that connection's own id, a dead connection is left out of a listing, and capabilities stay per
connection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend_manager_gui.core.aggregate import AggregateService, KeyedWorkerHost
from backend_manager_gui.core.errors import BackendApiError, ServiceUnavailable
from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.core.rowkeys import ID_LIMIT, backend_number, host_of, row_key, split_key
from backend_manager_gui.core.service import BackendService, WorkerHost
from tests.support.fake_swarm import FakeSwarm


@given(st.integers(0, 10_000), st.integers(-(2**31), 2**31 - 1))
def test_a_row_key_gives_back_its_connection_and_id(host, backend_id):
    key = row_key(host, backend_id)
    assert split_key(key) == (host, backend_id)
    assert host_of(key) == host and backend_number(key) == backend_id


@given(st.integers(0, 50), st.integers(-(2**31), 2**31 - 1), st.integers(0, 50), st.integers(-(2**31), 2**31 - 1))
def test_row_keys_sort_by_connection_then_id(h1, i1, h2, i2):
    assert (row_key(h1, i1) < row_key(h2, i2)) == ((h1, i1) < (h2, i2))


def test_the_first_connections_keys_are_its_ids():
    assert [row_key(0, i) for i in (-3, 0, 7)] == [-3, 0, 7]


async def test_equal_ids_on_two_servers_stay_apart_and_each_call_reaches_its_own():
    async with FakeSwarm() as a, FakeSwarm() as b:
        a.add("comfyui_api", title="A zero")
        a.add("comfyui_api", title="A one")
        b.add("comfyui_api", title="B zero")
        agg = AggregateService([("a", RemoteService(a.url)), ("b", RemoteService(b.url))])
        try:
            assert isinstance(agg, BackendService) and agg.location == "2 connections"
            listed = await agg.list_backends()
            assert {k: v.title for k, v in listed.items()} == {
                row_key(0, 0): "A zero", row_key(0, 1): "A one", row_key(1, 0): "B zero"}
            assert all(v.id == k for k, v in listed.items())  # each value carries its row key
            # an unchanged entry is the very object it was (the table skips it without a look)
            again = await agg.list_backends()
            assert all(again[k] is listed[k] for k in listed)

            assert await agg.toggle_backend(row_key(1, 0), False)
            assert not b.backends[0]["enabled"] and a.backends[0]["enabled"]
            assert await agg.restart_backends(row_key(0, 1)) >= 0 and a.calls["restartbackends"] == 1
            assert b.calls["restartbackends"] == 0
            edited = await agg.edit_backend(row_key(1, 0), "Renamed", {}, new_id=5)
            assert edited.id == row_key(1, 5) and b.backends[5]["title"] == "Renamed" and 0 not in b.backends
            added = await agg.add_backend("comfyui_api", host=1)
            assert host_of(added.id) == 1 and backend_number(added.id) in b.backends
            assert await agg.delete_backend(added.id) and backend_number(added.id) not in b.backends
            # "all" of each chosen connection: its own answer or error per connection
            results = await agg.each([0], lambda s: s.restart_backends("all"))
            assert list(results) == [0] and isinstance(results[0], int) and b.calls["restartbackends"] == 0
        finally:
            await agg.aclose()


async def test_a_dead_connection_is_left_out_and_named_where_it_fails():
    async with FakeSwarm(backends=2) as a:
        agg = AggregateService([("a", RemoteService(a.url)), ("dead", RemoteService("http://127.0.0.1:9", timeout=1.0))])
        try:
            listed = await agg.list_backends()
            assert set(listed) == {row_key(0, 0), row_key(0, 1)}
            with pytest.raises(ServiceUnavailable, match="dead"):
                await agg.restart_backends("all")  # every connection's, and one could not be reached
            assert a.calls["restartbackends"] == 1  # the live one was asked all the same
            agg.remove(0)
            with pytest.raises(ServiceUnavailable):
                await agg.list_backends()  # nothing answers at all
            with pytest.raises(BackendApiError, match="closed"):
                await agg.toggle_backend(row_key(0, 0), True)
        finally:
            await agg.aclose()


async def test_an_id_that_would_reach_into_the_next_connection_is_left_out():
    async with FakeSwarm() as a:
        a.add("comfyui_api", title="fine")
        a.backends[ID_LIMIT] = {**a.backends[0], "id": ID_LIMIT}
        agg = AggregateService([("first", RemoteService(a.url)), ("second", RemoteService(a.url))])
        try:
            listed = await agg.list_backends()
            assert set(listed) == {row_key(0, 0), row_key(1, 0)}
        finally:
            await agg.aclose()


async def test_worker_details_stay_with_this_computers_connection(tmp_path):
    async with FakeSwarm(backends=1) as a:
        local = LocalService(tmp_path / "data")
        await local.start()
        agg = AggregateService([("server", RemoteService(a.url)), ("this computer", local)])
        try:
            assert not isinstance(agg, WorkerHost)  # the aggregate itself hosts no workers
            host = agg.worker_host()
            assert isinstance(host, KeyedWorkerHost) and host.connection.service is local
            new = await agg.add_backend("comfyui_selfstart", host=1)
            assert host.owns(new.id) and not host.owns(row_key(0, 0))
            assert host.details(new.id).backend_id == new.id  # in row keys
            assert host.log_path(new.id) == local.log_path(backend_number(new.id))
            with pytest.raises(BackendApiError, match="not on this computer"):
                host.details(row_key(0, 0))  # the server's backend 0 is not this computer's
            assert agg.fed(new.id) and not agg.fed(row_key(0, 0))
            seen = []
            unsubscribe = agg.add_listener(seen.append)
            await agg.toggle_backend(new.id, False)
            assert seen and all(b.id == new.id for b in seen)  # the change feed speaks row keys too
            unsubscribe()
            servers_only = AggregateService([("server", RemoteService(a.url))])
            assert servers_only.worker_host() is None
            await servers_only.aclose()
        finally:
            await agg.aclose()
