"""What every action is given: the service and its poller, the table and its selection, ``spawn()``, and ways to
tell the person. Actions never import the window (STYLE.md: moving methods out of a window that they still
import only makes an import circle); the window builds one ``ActionContext`` and keeps it current.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMainWindow

from ...core.errors import BackendServiceError, ServiceUnavailable
from ...core.models import Backend, BackendType
from ...core.service import BackendService, WorkerHost
from ..backends_view import BackendsView
from ..connections import ConnectionProfile
from ..message_bar import MessageBar
from ..poller import Poller
from ..tasks import describe_error, spawn, worker_host

log = logging.getLogger(__name__)
T = TypeVar("T")


class ActionContext(QObject):
    """The current connection (``service``, ``poller``, ``profile``, ``types``) and the rows in flight."""

    #: rows became busy or idle, or an edit dialog opened or closed: which actions are enabled may change
    state_changed = Signal()
    #: the service's backend types arrived (or were forgotten on a switch)
    types_changed = Signal()

    def __init__(self, window: QMainWindow, view: BackendsView, message_bar: MessageBar, service: BackendService,
                 profile: ConnectionProfile | None, poller: Poller) -> None:
        super().__init__(window)
        #: parent of every dialog and question box, and owner of the status bar
        self.window = window
        self.view = view
        self.model = view.model
        self.message_bar = message_bar
        self.service = service
        self.profile = profile
        self.poller = poller
        self.types: dict[str, BackendType] = {}
        #: rows with a request in flight: they cannot be acted on until the answer
        self.busy: set[int] = set()
        #: rows with an edit dialog open (one dialog per backend)
        self.editing: set[int] = set()
        #: every action task still running, cancelled on a switch and on shutdown
        self.tasks: set[asyncio.Task[Any]] = set()
        self._types_task: asyncio.Task[None] | None = None

    # ---- the service ----------------------------------------------------------------------------
    @property
    def where(self) -> str:
        return self.service.location

    @property
    def host(self) -> WorkerHost | None:
        """The service as a host of workers on this computer (GPUs, details), or None."""
        return worker_host(self.service)

    def reset(self, service: BackendService, profile: ConnectionProfile | None, poller: Poller) -> None:
        """Another service from now on: what was known of the old one is forgotten."""
        self.service = service
        self.profile = profile
        self.poller = poller
        self.types = {}
        self.busy.clear()
        self.types_changed.emit()

    async def refresh(self) -> None:
        await self.poller.refresh()

    def request_types(self) -> None:
        """Read the backend types in the background unless that is under way."""
        if self._types_task is None or self._types_task.done():
            self._types_task = self.spawn(self.load_types(), "Reading the backend types", quiet=True)

    async def load_types(self) -> None:
        service = self.service
        try:
            types = await service.list_backend_types()
        except BackendServiceError as exc:
            log.info("could not read backend types from %s: %s", service.location, exc)
            return  # retried after the next successful poll
        if service is not self.service:
            return
        self.types = {t.id: t for t in types}
        self.model.set_type_names({t.id: t.name for t in types})
        self.types_changed.emit()

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
                    failed.setdefault(describe_error(r, self.where), []).append(b)
                self._record(r)
            if failed:
                self.message_bar.show_error(
                    "\n".join(f"Could not {verb} {self.names(bs)}: {text}" for text, bs in failed.items())
                )
            await self.refresh()
        finally:
            self.set_busy(ids, False)
        return list(results)

    async def on_all(self, verb: str, op: Callable[[], Awaitable[T]]) -> T | None:
        """One request about every backend ("all"); every row is busy until the refresh after it."""
        ids = list(self.model.backends())
        self.set_busy(ids, True)
        try:
            try:
                result: T | None = await op()
            except BackendServiceError as exc:
                self._record(exc)
                self.message_bar.show_error(f"Could not {verb}: {describe_error(exc, self.where)}")
                result = None
            else:
                self._record(result)
            await self.refresh()
        finally:
            self.set_busy(ids, False)
        return result

    def _record(self, outcome: object) -> None:
        """Count an action's call for the status bar: one that got no answer (``ServiceUnavailable``) failed; a
        refusal is the service answering."""
        if isinstance(outcome, ServiceUnavailable):
            self.poller.record_call(False, outcome)
        else:
            self.poller.record_call(True)

    # ---- telling the person -----------------------------------------------------------------------
    def names(self, backends: list[Backend], limit: int = 6) -> str:
        names = [f"“{self.model.display_title(b)}” (#{b.id})" for b in backends[:limit]]
        if len(backends) > limit:
            names.append(f"and {len(backends) - limit} more")
        return ", ".join(names)

    def done(self, text: str, ms: int = 5000) -> None:
        """A short note in the status bar that an action went through."""
        self.window.statusBar().showMessage(text, ms)
