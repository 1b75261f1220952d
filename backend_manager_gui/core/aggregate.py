"""Many connections as one service: this computer's embedded manager, ``serve`` boxes and SwarmUI servers, each a
``BackendService`` of its own, behind the same contract.

**Row keys.** Two machines may both have a backend 3, so a backend is identified by (connection, backend id)
everywhere the window keeps one: the table's rows, the selection, busy rows, notifications, the calls of an
action. The pair is carried as one integer, its *row key*: ``row_key(host, id) = host * 2**40 + id`` (``host`` is
the connection's number, given once and never reused while the app runs; backend ids are 32-bit on the wire).
Integer keys keep the table's bisect and dict lookups as fast as they were, keys sort by connection then id, and
the first connection's keys *are* its backend ids: one connection is simply the case of one part, not a second
code path. ``split_key`` gives the pair back; what a person reads (the ID column, "#3") is the backend's own id.

The aggregate hands out its parts' ``Backend`` values with ``id`` set to the row key (``Connection.keyed``: the
same object back while the part's value is the same object, so the table's "unchanged row: skip it" test still
holds) and routes each call on a row key to the part that owns it, with the part's own id.

**Each connection lives on its own**: the window polls each part through ``Connection.feed`` (its own poller,
back-off and session), so a slow or dead host never delays another's rows. ``list_backends`` of the aggregate
(one call over all of them, for a script) asks every part at once and leaves out those that fail.

**Capabilities stay per connection.** The aggregate is not itself a ``WorkerHost``; ``worker_host()`` is the one
part that runs workers on this computer (an embedded manager), seen through row keys, or None.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from .errors import BackendApiError, BackendServiceError, ServiceUnavailable
from .models import Backend, BackendLog, BackendType
from .rowkeys import ID_LIMIT, backend_number, host_of, row_key, split_key
from .service import (
    BackendSelector,
    BackendService,
    ChangeFeed,
    GpuReport,
    HasWarnings,
    WorkerDetails,
    WorkerHost,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

__all__ = ["AggregateService", "Connection", "ConnectionFeed", "KeyedWorkerHost", "backend_number", "row_key",
           "split_key"]


class Connection:
    """One part of the aggregate: its number in row keys, its name (the Host column), its service."""

    def __init__(self, host: int, name: str, service: BackendService) -> None:
        self.host = host
        self.name = name
        self.service = service
        # the part's id -> (the part's Backend, the same with its row key): unchanged values are handed back as is
        self._keyed: dict[int, tuple[Backend, Backend]] = {}
        self.feed = ConnectionFeed(self)

    def __repr__(self) -> str:
        return f"Connection({self.host}, {self.name!r}, {self.service.location!r})"

    def key(self, backend_id: int) -> int:
        return row_key(self.host, backend_id)

    def keyed(self, backend: Backend) -> Backend:
        """``backend`` with its row key as ``id`` (the first connection's are its own ids: the very object)."""
        if self.host == 0:
            return backend
        known = self._keyed.get(backend.id)
        if known is not None and known[0] is backend:
            return known[1]
        keyed = dataclasses.replace(backend, id=self.key(backend.id))
        self._keyed[backend.id] = (backend, keyed)
        return keyed

    def keyed_snapshot(self, snapshot: Mapping[int, Backend]) -> dict[int, Backend]:
        """A part's ``{id: Backend}`` as ``{row key: Backend}``; an id out of range is left out (logged). The first
        connection's snapshot, whose keys are its ids, is handed back as it is (one connection polls as it always
        did: no copy of every entry per poll)."""
        if self.host == 0 and (not snapshot or (min(snapshot) > -ID_LIMIT and max(snapshot) < ID_LIMIT)):
            return dict(snapshot) if not isinstance(snapshot, dict) else snapshot
        out: dict[int, Backend] = {}
        for backend_id, backend in snapshot.items():
            if not -ID_LIMIT < backend_id < ID_LIMIT:
                log.warning("%s: backend id %d is out of range, left out", self.name, backend_id)
                continue
            out[self.key(backend_id)] = self.keyed(backend)
        if self.host != 0 and len(self._keyed) > len(snapshot):
            for gone in self._keyed.keys() - snapshot.keys():
                del self._keyed[gone]
        return out


class ConnectionFeed:
    """What a connection's own poller reads: the part's list, in row keys (and its location, for its log)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @property
    def location(self) -> str:
        return self._connection.service.location

    async def list_backends(self, *, nonreal: bool = False, full_data: bool = False) -> dict[int, Backend]:
        part = await self._connection.service.list_backends(nonreal=nonreal, full_data=full_data)
        return self._connection.keyed_snapshot(part)


class AggregateService:
    """``BackendService`` over several connections, on row keys (module docstring)."""

    def __init__(self, parts: Iterable[tuple[str, BackendService]] = ()) -> None:
        self.connections: list[Connection] = []
        self._next_host = 0
        self._listeners: list[Callable[[Backend], None]] = []
        self._unlisten: dict[int, Callable[[], None]] = {}
        self._worker_host: tuple[KeyedWorkerHost | None] | None = None  # worked out once per set of connections
        # the numbers of the connections with a change feed (an isinstance against a runtime-checkable protocol is
        # ~20 µs: fed() is asked for each changed row of a poll, so it is worked out once per set of connections)
        self._fed_hosts: frozenset[int] = frozenset()
        for name, service in parts:
            self.add(name, service)

    def __repr__(self) -> str:
        return f"AggregateService({self.connections!r})"

    # ---- the parts ----------------------------------------------------------------------------------
    def add(self, name: str, service: BackendService) -> Connection:
        """A new connection, numbered after every one before (a number is never reused)."""
        connection = Connection(self._next_host, name, service)
        self._next_host += 1
        self.connections.append(connection)
        self._connections_changed()
        if isinstance(service, ChangeFeed) and self._listeners:
            self._listen_to(connection)
        return connection

    def remove(self, host: int) -> Connection:
        """Take a connection out (the caller closes its service: closing one never touches another)."""
        connection = self.connection(host)
        self.connections.remove(connection)
        self._connections_changed()
        unlisten = self._unlisten.pop(host, None)
        if unlisten is not None:
            unlisten()
        return connection

    def _connections_changed(self) -> None:
        self._worker_host = None
        self._fed_hosts = frozenset(c.host for c in self.connections if isinstance(c.service, ChangeFeed))

    def connection(self, host: int) -> Connection:
        for connection in self.connections:
            if connection.host == host:
                return connection
        raise BackendApiError(f"Connection {host} is closed.")

    def part(self, key: int) -> tuple[Connection, int]:
        """The connection that owns a row key, and the backend's id there."""
        host, backend_id = split_key(key)
        return self.connection(host), backend_id

    def location_of(self, key: int) -> str:
        """Where the connection of a row key is ("this computer", "http://gpu-box:7801")."""
        host = split_key(key)[0]
        return next((c.service.location for c in self.connections if c.host == host), self.location)

    @property
    def location(self) -> str:
        if len(self.connections) == 1:
            return self.connections[0].service.location
        return f"{len(self.connections)} connections"

    # ---- the contract, on row keys ---------------------------------------------------------------------
    async def list_backend_types(self) -> list[BackendType]:
        """Every connection's types, each id once (the first connection that has it describes it)."""
        results = await self._gather(lambda c: c.service.list_backend_types())
        seen: dict[str, BackendType] = {}
        for types in results.values():
            if isinstance(types, list):
                for t in types:
                    seen.setdefault(t.id, t)
        self._raise_if_all_failed(results)
        return list(seen.values())

    async def list_backends(self, *, nonreal: bool = False, full_data: bool = False) -> dict[int, Backend]:
        results = await self._gather(lambda c: c.feed.list_backends(nonreal=nonreal, full_data=full_data))
        self._raise_if_all_failed(results)
        merged: dict[int, Backend] = {}
        for part in results.values():
            if isinstance(part, dict):
                merged.update(part)
        return merged

    async def add_backend(self, type_id: str, *, host: int | None = None) -> Backend:
        """A new backend of ``type_id`` on connection ``host`` (the first one by default)."""
        if not self.connections:
            raise BackendApiError("No connection is open.")
        connection = self.connections[0] if host is None else self.connection(host)
        return connection.keyed(await connection.service.add_backend(type_id))

    async def edit_backend(
        self, backend_id: int, title: str, settings: dict[str, object], new_id: int | None = None
    ) -> Backend:
        """``new_id`` is the backend's new id on its own connection (what the ID field of Edit shows)."""
        connection, own = self.part(backend_id)
        return connection.keyed(await connection.service.edit_backend(own, title, settings, new_id))

    async def delete_backend(self, backend_id: int) -> bool:
        connection, own = self.part(backend_id)
        return await connection.service.delete_backend(own)

    async def toggle_backend(self, backend_id: int, enabled: bool) -> bool:
        connection, own = self.part(backend_id)
        return await connection.service.toggle_backend(own, enabled)

    async def restart_backends(self, backend: BackendSelector = "all") -> int:
        if backend == "all":
            return self._total(await self._gather(lambda c: c.service.restart_backends("all")))
        connection, own = self.part(backend)
        return await connection.service.restart_backends(own)

    async def free_memory(self, *, system_ram: bool = False, backend: BackendSelector = "all") -> int:
        if backend == "all":
            return self._total(await self._gather(lambda c: c.service.free_memory(system_ram=system_ram)))
        connection, own = self.part(backend)
        return await connection.service.free_memory(system_ram=system_ram, backend=own)

    async def backend_log(self, backend_id: int, after: int = 0) -> BackendLog:
        connection, own = self.part(backend_id)
        return await connection.service.backend_log(own, after)

    async def aclose(self) -> None:
        """Close every connection (each its own; one failing does not keep the others open)."""
        for unlisten in self._unlisten.values():
            unlisten()
        self._unlisten.clear()
        results = await self._gather(lambda c: c.service.aclose())
        failed = [f"{self.connection(h).name}: {r}" for h, r in results.items() if isinstance(r, BaseException)]
        if failed:
            raise ServiceUnavailable("; ".join(failed))

    # ---- several connections at once ----------------------------------------------------------------------
    async def each(self, hosts: Iterable[int], op: Callable[[BackendService], Awaitable[T]]) -> dict[int, T | BackendServiceError]:
        """``op`` on the service of each of ``hosts``, all at once; per host its answer or its error."""
        return await self._gather(lambda c: op(c.service), [self.connection(h) for h in hosts])

    async def _gather(self, op: Callable[[Connection], Awaitable[T]], connections: list[Connection] | None = None
                      ) -> dict[int, T | BackendServiceError]:
        """``op`` on each connection (every one by default), all at once; per connection its answer or its error
        (anything but a service error is a bug: raised)."""
        connections = list(self.connections) if connections is None else connections
        results = await asyncio.gather(*(op(c) for c in connections), return_exceptions=True)
        out: dict[int, T | BackendServiceError] = {}
        for connection, result in zip(connections, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, BackendServiceError):
                raise result
            out[connection.host] = result
        return out

    def _raise_if_all_failed(self, results: Mapping[int, object]) -> None:
        errors = [r for r in results.values() if isinstance(r, BackendServiceError)]
        if errors and len(errors) == len(results):
            raise errors[0]

    def _total(self, results: Mapping[int, int | BackendServiceError]) -> int:
        """The sum of what every connection did; any that failed: the first failure, naming its connection."""
        for host, result in results.items():
            if isinstance(result, BackendServiceError):
                name = self.connection(host).name
                raise type(result)(f"{name}: {result}") if name not in str(result) else result
        return sum(r for r in results.values() if isinstance(r, int))

    # ---- capabilities: per connection ---------------------------------------------------------------------
    def worker_host(self) -> KeyedWorkerHost | None:
        """The connection that runs workers on this computer, on row keys; None when none does."""
        if self._worker_host is None:
            keyed: KeyedWorkerHost | None = None
            for c in self.connections:
                if isinstance(c.service, WorkerHost):
                    keyed = KeyedWorkerHost(c, c.service)
                    break
            self._worker_host = (keyed,)
        return self._worker_host[0]

    @property
    def warnings(self) -> Sequence[str]:
        out: list[str] = []
        for c in self.connections:
            if isinstance(c.service, HasWarnings):
                prefix = f"{c.name}: " if len(self.connections) > 1 else ""
                out.extend(f"{prefix}{w}" for w in c.service.warnings)
        return out

    def fed(self, key: int) -> bool:
        """Whether the connection of a row key tells of its changes itself (a ``ChangeFeed``)."""
        return host_of(key) in self._fed_hosts

    def add_listener(self, callback: Callable[[Backend], None]) -> Callable[[], None]:
        """Each connection's change feed (where it has one), with row keys; returns the unsubscribe."""
        self._listeners.append(callback)
        for connection in self.connections:
            if connection.host not in self._unlisten and isinstance(connection.service, ChangeFeed):
                self._listen_to(connection)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)
            if not self._listeners:
                for unlisten in self._unlisten.values():
                    unlisten()
                self._unlisten.clear()

        return unsubscribe

    def _listen_to(self, connection: Connection) -> None:
        service = connection.service
        assert isinstance(service, ChangeFeed)

        def tell(backend: Backend) -> None:
            keyed = dataclasses.replace(backend, id=connection.key(backend.id)) if connection.host else backend
            for listener in list(self._listeners):
                listener(keyed)

        self._unlisten[connection.host] = service.add_listener(tell)


class KeyedWorkerHost:
    """An embedded manager's ``WorkerHost`` seen through row keys: a key of another connection is refused."""

    def __init__(self, connection: Connection, host: WorkerHost) -> None:
        self.connection = connection
        self._host = host

    def _own(self, key: int) -> int:
        host, own = split_key(key)
        if host != self.connection.host:
            raise BackendApiError(f"Backend {own} is not on {self.connection.name}.")
        return own

    def owns(self, key: int) -> bool:
        return split_key(key)[0] == self.connection.host

    def details(self, backend_id: int) -> WorkerDetails:
        details = self._host.details(self._own(backend_id))
        return dataclasses.replace(details, backend_id=backend_id)

    def log_path(self, backend_id: int) -> Path:
        return self._host.log_path(self._own(backend_id))

    def log_tail(self, backend_id: int, lines: int = 2000) -> list[str]:
        return self._host.log_tail(self._own(backend_id), lines)

    async def gpus(self) -> GpuReport:
        report = await self._host.gpus()
        if self.connection.host == 0:
            return report
        gpus = tuple(
            dataclasses.replace(g, processes={self.connection.key(b): used for b, used in g.processes.items()})
            for g in report.gpus
        )
        return dataclasses.replace(report, gpus=gpus)
