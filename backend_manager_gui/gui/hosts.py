"""The open connections of the window, each living on its own: its own ``Poller`` (back-off, pause, session), its
own last snapshot and backend types, and its state in words for the Connections list ("connected — 3 running",
"cannot reach — retrying in 8 s · last seen 40 s ago").

``Hosts`` sits between the pollers and the table: each poller's snapshot (in row keys, ``core/aggregate.py``)
replaces that connection's part, and the table gets all parts as one snapshot. A slow or dead connection delays
only its own poller; the others' snapshots keep coming. One connection is the same code with one part (its
snapshot is handed on as it is).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

from ..core.aggregate import AggregateService, Connection
from ..core.models import Backend, BackendStatus, BackendType
from ..core.rowkeys import host_of
from ..core.service import BackendService
from .poller import Poller
from .profiles import ConnectionProfile

log = logging.getLogger(__name__)

#: With several connections, snapshots that land within this many seconds of each other reach the table as one.
#: Connections opened together keep polling in step (2 s after each answer), so their snapshots come in bursts;
#: the table, the error watch, the log reasons and the status line each look at every row of every connection once
#: per merged snapshot (~7 ms at 10 connections × 500 rows), and three of them back to back were one 24 ms stall
#: (PERFORMANCE.md, P9). 50 ms is nothing next to the 2 s between polls.
COALESCE_S = 0.05


@dataclass(eq=False)
class Host:
    """One open connection as the window keeps it."""

    connection: Connection
    profile: ConnectionProfile | None
    poller: Poller
    #: the latest snapshot in row keys (kept while the connection does not answer: its rows stay, greyed)
    snapshot: Mapping[int, Backend] | None = None
    #: time.monotonic() of the latest answer, None before the first
    last_seen: float | None = None
    types: dict[str, BackendType] = field(default_factory=dict)

    @property
    def number(self) -> int:
        return self.connection.host

    @property
    def name(self) -> str:
        return self.connection.name

    @property
    def service(self) -> BackendService:
        return self.connection.service

    @functools.cached_property
    def runs_workers_here(self) -> bool:
        """Whether its service runs workers on this computer (a ``WorkerHost``). Worked out once: it is asked for
        every row's link as the row is made, and an isinstance check against a runtime-checkable protocol costs
        ~20 µs (0.1 s of a first load of 5,000 rows; PERFORMANCE.md, P9)."""
        from ..core.service import WorkerHost

        return isinstance(self.service, WorkerHost)


def connection_name(service: BackendService, profile: ConnectionProfile | None) -> str:
    """The Host column's name of a connection: "this computer", or the server's host:port."""
    from urllib.parse import urlsplit

    if profile is not None:
        return profile.short_name
    where = service.location
    return urlsplit(where).netloc or where if "://" in where else where


def since(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s} s ago"
    if s < 3600:
        return f"{s // 60} min ago"
    return f"{s // 3600} h ago"


def host_state(host: Host, now_loop: float, now: float) -> tuple[str, str]:
    """(state in words, kind: "ok", "failing", "down" or "connecting") for the Connections list."""
    poller = host.poller
    seen = f" · last seen {since(now - host.last_seen)}" if host.last_seen is not None else ""
    if poller.unreachable:
        due = poller.next_poll_at
        seconds = 0 if due is None else max(0, round(due - now_loop))
        retry = f"retrying in {seconds} s" if seconds else "retrying now…"
        return f"cannot reach — {retry}{seen}", "down"
    if host.snapshot is None:
        return "connecting…", "connecting"
    counts: dict[BackendStatus, int] = {}
    for b in host.snapshot.values():
        counts[b.status] = counts.get(b.status, 0) + 1
    parts = [f"{counts[s]} {s.value}" for s in (BackendStatus.RUNNING, BackendStatus.IDLE, BackendStatus.LOADING,
                                                 BackendStatus.ERRORED) if counts.get(s)]
    summary = " · ".join(parts) if parts else ("no backends" if not host.snapshot else f"{len(host.snapshot)} backends")
    failed, total = poller.failing_calls
    if failed:
        return f"connected — {summary} — some calls failing ({failed} of {total})", "failing"
    return f"connected — {summary}", "ok"


class Hosts(QObject):
    """The window's connections, their pollers and snapshots (module docstring)."""

    #: every connection's rows as one snapshot {row key: Backend}
    snapshot_ready = Signal(object)
    #: (connection number, error) when a connection's poll failed
    poll_failed = Signal(int, object)
    #: a connection was added or removed, or its state changed (the Connections list redraws)
    changed = Signal()

    def __init__(self, aggregate: AggregateService, parent: QObject, *, interval: float, max_interval: float,
                 prepare: Callable[[Mapping[int, Backend]], Awaitable[None]] | None = None) -> None:
        super().__init__(parent)
        self.aggregate = aggregate
        self._interval = (interval, max_interval)
        self._prepare = prepare
        self._hosts: dict[int, Host] = {}
        self._started = False
        self._paused = False
        #: the merged snapshot to hand on soon (several connections, see COALESCE_S)
        self._pending: asyncio.TimerHandle | None = None
        for connection in aggregate.connections:
            self._adopt(connection, None)

    # ---- the connections ------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Host]:
        return iter(list(self._hosts.values()))

    def __len__(self) -> int:
        return len(self._hosts)

    @property
    def several(self) -> bool:
        return len(self._hosts) > 1

    def get(self, number: int) -> Host | None:
        return self._hosts.get(number)

    def first(self) -> Host:
        return next(iter(self._hosts.values()))

    def of_key(self, key: int) -> Host | None:
        return self._hosts.get(host_of(key))

    def names(self) -> dict[int, str]:
        return {n: h.name for n, h in self._hosts.items()}

    def kinds(self) -> list[bool]:
        """Per connection: does it run workers on this computer?"""
        return [h.runs_workers_here for h in self._hosts.values()]

    def served_from(self, key: int) -> str | None:
        """Where a row's worker pages are reached through: None for this computer's, else the server's address."""
        host = self._hosts.get(host_of(key))
        if host is None or host.runs_workers_here:
            return None
        return host.service.location

    def set_profile(self, number: int, profile: ConnectionProfile | None) -> None:
        host = self._hosts.get(number)
        if host is not None:
            host.profile = profile

    def profiles(self) -> list[ConnectionProfile]:
        return [h.profile for h in self._hosts.values() if h.profile is not None]

    def add(self, name: str, service: BackendService, profile: ConnectionProfile | None) -> Host:
        """A new connection, polled from now on (if the window polls)."""
        taken = {h.name for h in self._hosts.values()}
        unique, n = name, 2
        while unique in taken:
            unique, n = f"{name} ({n})", n + 1
        host = self._adopt(self.aggregate.add(unique, service), profile)
        if self._started:
            host.poller.start()
            if self._paused:
                host.poller.pause()
        self.changed.emit()
        return host

    def _adopt(self, connection: Connection, profile: ConnectionProfile | None) -> Host:
        interval, max_interval = self._interval
        poller = Poller(connection.feed, self, interval=interval, max_interval=max_interval)
        poller.prepare = self._prepare
        host = Host(connection, profile, poller)
        poller.snapshot_received.connect(lambda snapshot, h=host: self._on_snapshot(h, snapshot))
        poller.poll_failed.connect(lambda exc, h=host: self._on_failed(h, exc))
        self._hosts[connection.host] = host
        return host

    async def remove(self, number: int) -> Host:
        """Stop polling a connection and drop its rows; the caller closes its service."""
        host = self._hosts.pop(number)
        await host.poller.stop()
        host.poller.deleteLater()
        self.aggregate.remove(number)
        self._cancel_pending()
        self.snapshot_ready.emit(self.merged())
        self.changed.emit()
        return host

    # ---- polling ----------------------------------------------------------------------------------
    def pollers(self) -> list[Poller]:
        return [h.poller for h in self._hosts.values()]

    def start(self) -> None:
        self._started = True
        for poller in self.pollers():
            poller.start()

    async def stop(self) -> None:
        self._started = False
        self._cancel_pending()
        await asyncio.gather(*(p.stop() for p in self.pollers()))

    def pause(self) -> None:
        self._paused = True
        for poller in self.pollers():
            poller.pause()

    def resume(self) -> None:
        self._paused = False
        for poller in self.pollers():
            poller.resume()

    async def refresh(self, numbers: Iterable[int] | None = None) -> None:
        """Poll the connections (all, or ``numbers``) now, at once; returns when every one is done."""
        chosen = self._hosts.values() if numbers is None else [h for n in set(numbers) if (h := self._hosts.get(n))]
        await asyncio.gather(*(h.poller.refresh() for h in chosen))
        self._flush()  # what the caller waited for is in the table when this returns

    def record_call(self, key: int, ok: bool, error: BaseException | None = None) -> None:
        """An action's call about row ``key`` got an answer or not: its connection's status counts it."""
        host = self.of_key(key)
        if host is not None:
            host.poller.record_call(ok, error)

    @property
    def ever_answered(self) -> bool:
        return any(h.snapshot is not None for h in self._hosts.values())

    def merged(self) -> Mapping[int, Backend]:
        parts = [h.snapshot for h in self._hosts.values() if h.snapshot is not None]
        if len(parts) == 1:
            return parts[0]
        merged: dict[int, Backend] = {}
        for part in parts:
            merged.update(part)
        return merged

    def stale(self) -> dict[int, float]:
        """Connection number -> when it last answered (``time.monotonic()``), for each that does not answer now but
        did before: its rows are greyed."""
        return {n: h.last_seen for n, h in self._hosts.items() if h.poller.unreachable and h.last_seen is not None}

    def _on_snapshot(self, host: Host, snapshot: Mapping[int, Backend]) -> None:
        if self._hosts.get(host.number) is not host:
            return  # removed while its poll was under way
        host.snapshot = snapshot
        host.last_seen = time.monotonic()
        if len(self._hosts) == 1:
            self.snapshot_ready.emit(self.merged())  # one connection: handed on at once, as it always was
            self.changed.emit()
        elif self._pending is None:
            self._pending = asyncio.get_running_loop().call_later(COALESCE_S, self._flush)

    def _flush(self) -> None:
        """Hand on the snapshots that came since the last time, as one (COALESCE_S)."""
        if self._pending is None:
            return
        self._cancel_pending()
        self.snapshot_ready.emit(self.merged())
        self.changed.emit()

    def _cancel_pending(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def _on_failed(self, host: Host, exc: BaseException) -> None:
        if self._hosts.get(host.number) is host:
            self.poll_failed.emit(host.number, exc)
            self.changed.emit()
