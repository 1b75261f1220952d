"""What every action is given: the service and its poller, the table and its selection, ``spawn()``, and ways to
tell the person. Actions never import the window (STYLE.md: moving methods out of a window that they still
import only makes an import circle); the window builds one ``ActionContext`` and keeps it current.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMainWindow

from ...core.aggregate import AggregateService, KeyedWorkerHost
from ...core.errors import BackendServiceError, ServiceUnavailable
from ...core.models import Backend, BackendType
from ..backends_view import BackendsView
from ..connections import ConnectionProfile
from ..hosts import Hosts
from ..message_bar import MessageBar
from ..poller import Poller
from ..tasks import describe_error, spawn

log = logging.getLogger(__name__)
T = TypeVar("T")


class ActionContext(QObject):
    """The open connections (``service``: all of them as one, on row keys; ``hosts``: each with its poller and
    types) and the rows in flight."""

    #: rows became busy or idle, or an edit dialog opened or closed: which actions are enabled may change
    state_changed = Signal()
    #: the service's backend types arrived (or were forgotten on a switch)
    types_changed = Signal()

    def __init__(self, window: QMainWindow, view: BackendsView, message_bar: MessageBar, hosts: Hosts) -> None:
        super().__init__(window)
        #: parent of every dialog and question box, and owner of the status bar
        self.window = window
        self.view = view
        self.model = view.model
        self.message_bar = message_bar
        self.hosts = hosts
        #: every connection's backend types, each id once (names, the Add menu); ``types_for()`` is one connection's
        self.types: dict[str, BackendType] = {}
        #: rows with a request in flight: they cannot be acted on until the answer
        self.busy: set[int] = set()
        #: this computer's addresses as SwarmUI servers see it (found by Use in SwarmUI…, for the linked pairs)
        self.this_computer: set[str] = set()
        #: connection number -> (its snapshot, the rows of it that may be linked), for ``swarm.show_links``
        self.link_scans: dict[int, tuple[Mapping[int, Backend], list[Backend]]] = {}
        #: rows with an edit dialog open (one dialog per backend)
        self.editing: set[int] = set()
        #: every action task still running, cancelled on a switch and on shutdown
        self.tasks: set[asyncio.Task[Any]] = set()
        self._types_task: asyncio.Task[None] | None = None

    # ---- the service ----------------------------------------------------------------------------
    @property
    def service(self) -> AggregateService:
        """Every open connection as one service, on row keys (``core/aggregate.py``)."""
        return self.hosts.aggregate

    @property
    def poller(self) -> Poller:
        """The first connection's poller (the only one, with one connection)."""
        return self.hosts.first().poller

    @property
    def profile(self) -> ConnectionProfile | None:
        """The first connection's profile."""
        return self.hosts.first().profile

    @property
    def where(self) -> str:
        return self.service.location

    @property
    def host(self) -> KeyedWorkerHost | None:
        """The connection that runs workers on this computer (GPUs, details), on row keys, or None."""
        return self.service.worker_host()

    def where_of(self, key: int) -> str:
        """The location of the connection a row is on."""
        return self.service.location_of(key)

    def types_for(self, key: int) -> dict[str, BackendType]:
        """The backend types of the connection a row is on."""
        host = self.hosts.of_key(key)
        return host.types if host is not None else {}

    def reset(self, hosts: Hosts) -> None:
        """Other connections from now on: what was known of the old ones is forgotten."""
        self.hosts = hosts
        self.types = {}
        self.busy.clear()
        self.types_changed.emit()

    async def refresh(self, keys: Iterable[int] | None = None) -> None:
        """Poll now (the connections of ``keys``, else every one) and return when done."""
        from ...core.rowkeys import host_of

        await self.hosts.refresh(None if keys is None else {host_of(k) for k in keys})

    def request_types(self) -> None:
        """Read the backend types in the background unless that is under way."""
        if self._types_task is None or self._types_task.done():
            self._types_task = self.spawn(self.load_types(), "Reading the backend types", quiet=True)

    async def load_types(self) -> None:
        """Each connection's types that are not known yet, all at once."""
        hosts = self.hosts
        missing = [h for h in hosts if not h.types]
        results = await asyncio.gather(*(h.service.list_backend_types() for h in missing), return_exceptions=True)
        for host, types in zip(missing, results, strict=True):
            if isinstance(types, BackendServiceError):
                log.info("could not read backend types from %s: %s", host.service.location, types)
                continue  # retried after the next successful poll
            if isinstance(types, BaseException):
                raise types
            host.types = {t.id: t for t in types}
        if hosts is not self.hosts:
            return
        merged: dict[str, BackendType] = {}
        for host in hosts:
            for type_id, btype in host.types.items():
                merged.setdefault(type_id, btype)
        if merged.keys() != self.types.keys() or not self.types:
            self.types = merged
            self.model.set_type_names({t.id: t.name for t in merged.values()})
            self.types_changed.emit()

    def types_missing(self) -> bool:
        return any(not h.types for h in self.hosts)

    # ---- running actions --------------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, T], what: str, *, quiet: bool = False) -> asyncio.Task[T]:
        """Run an action with ``tasks.spawn``: a refusal goes to the message bar, a bug to the loop's handler."""

        def _on_error(exc: BaseException) -> None:
            if isinstance(exc, BackendServiceError):
                if not quiet:
                    self.message_bar.show_error(f"{what}: {describe_error(exc, self.where)}")
                return
            raise exc  # a bug: to the loop's exception handler (logged and shown by the app, fails a test)

        task = spawn(coro, what=what, on_error=_on_error)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def idle_selection(self) -> list[Backend]:
        """The selected backends without a request in flight."""
        return [b for b in self.view.selected_backends() if b.id not in self.busy]

    def set_busy(self, ids: Iterable[int], busy: bool) -> None:
        for backend_id in ids:
            if busy:
                self.busy.add(backend_id)
            else:
                self.busy.discard(backend_id)
            self.model.set_busy(backend_id, busy)
        self.state_changed.emit()

    async def on_each(self, verb: str, backends: list[Backend], op: Callable[[Backend], Awaitable[Any]]) -> list[Any]:
        """Run ``op`` on each backend at once; their rows are busy until the refresh that follows."""
        ids = [b.id for b in backends]
        self.set_busy(ids, True)
        try:
            results = await asyncio.gather(*(op(b) for b in backends), return_exceptions=True)
            failed: dict[str, list[Backend]] = {}
            for b, r in zip(backends, results, strict=True):
                if isinstance(r, BaseException):
                    if not isinstance(r, BackendServiceError):
                        raise r
                    failed.setdefault(describe_error(r, self.where_of(b.id)), []).append(b)
                self._record(r, b.id)
            if failed:
                self.message_bar.show_error(
                    "\n".join(f"Could not {verb} {self.names(bs)}: {text}" for text, bs in failed.items())
                )
            await self.refresh(ids)
        finally:
            self.set_busy(ids, False)
        return list(results)

    async def on_all(self, verb: str, op: Callable[[Any], Awaitable[int]], numbers: Iterable[int] | None = None
                     ) -> int | None:
        """One request about every backend ("all") of each chosen connection (default: every one), all at once,
        each to its own connection; their rows are busy until the refresh after it. The sum of the answers, or None
        when every connection failed (the message bar says what failed where)."""
        from ...core.rowkeys import host_of

        chosen = list(numbers) if numbers is not None else [h.number for h in self.hosts]
        ids = [k for k in self.model.backends() if host_of(k) in chosen]
        self.set_busy(ids, True)
        try:
            results = await self.service.each(chosen, op)
            failed = []
            for number, result in results.items():
                host = self.hosts.get(number)
                if host is None:
                    continue
                if isinstance(result, BackendServiceError):
                    where = host.service.location
                    text = describe_error(result, where)
                    failed.append(text if not self.hosts.several or host.name in text else f"{host.name}: {text}")
                host.poller.record_call(not isinstance(result, ServiceUnavailable),
                                        result if isinstance(result, ServiceUnavailable) else None)
            if failed:
                self.message_bar.show_error(f"Could not {verb}: " + "\n".join(failed))
            await self.refresh(ids if ids else None)
        finally:
            self.set_busy(ids, False)
        answered = [r for r in results.values() if isinstance(r, int)]
        return sum(answered) if answered else None

    def _record(self, outcome: object, key: int) -> None:
        """Count an action's call for the status bar of the row's connection: one that got no answer
        (``ServiceUnavailable``) failed; a refusal is the service answering."""
        if isinstance(outcome, ServiceUnavailable):
            self.hosts.record_call(key, False, outcome)
        else:
            self.hosts.record_call(key, True)

    # ---- telling the person -----------------------------------------------------------------------
    def names(self, backends: list[Backend], limit: int = 6) -> str:
        names = [self.model.label(b, quoted=True) for b in backends[:limit]]
        if len(backends) > limit:
            names.append(f"and {len(backends) - limit} more")
        return ", ".join(names)

    def done(self, text: str, ms: int = 5000) -> None:
        """A short note in the status bar that an action went through."""
        self.window.statusBar().showMessage(text, ms)
