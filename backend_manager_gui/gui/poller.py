"""Keeps the table fresh: ``list_backends(full_data=True)`` every 2 s while the window is visible.

One request in flight at a time (the poll loop is the only caller), paused while the window is minimized or
hidden, and backing off 2 → 4 → 8 → 10 s while the service cannot be reached. ``refresh()`` polls at once
(after an action) and returns when that poll is done.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from PySide6.QtCore import QObject, Signal

from ..core.errors import BackendServiceError
from ..core.models import Backend
from .tasks import spawn

log = logging.getLogger(__name__)

#: How many of the latest calls "some calls failing (2 of the last 10)" looks back on.
RECENT_CALLS = 10


class BackendList(Protocol):
    """What a poller reads: a service, or one connection of many (``core.aggregate.ConnectionFeed``)."""

    @property
    def location(self) -> str: ...

    async def list_backends(self, *, nonreal: bool = False, full_data: bool = False) -> dict[int, Backend]: ...


class Poller(QObject):
    #: A fresh snapshot {id: Backend}.
    snapshot_received = Signal(object)
    #: A poll failed with this service error (ServiceUnavailable or BackendApiError).
    poll_failed = Signal(object)

    def __init__(
        self,
        service: BackendList,
        parent: QObject | None = None,
        *,
        interval: float = 2.0,
        max_interval: float = 10.0,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.interval = interval
        self.max_interval = max_interval
        #: polls failed in a row (0 after a successful one)
        self.failures = 0
        self.last_error: BaseException | None = None
        #: the latest failure of any call, kept after later calls succeed (for "some calls failing")
        self.last_failure: BaseException | None = None
        #: outcome of each of the latest calls, polls and actions (True: answered)
        self.recent: deque[bool] = deque(maxlen=RECENT_CALLS)
        self.last_snapshot: Mapping[int, Backend] | None = None
        #: loop.time() when the next poll is due (None while paused, stopped or polling)
        self.next_poll_at: float | None = None
        self.polls = 0
        self._task: asyncio.Task[None] | None = None
        self._kick = asyncio.Event()
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._waiters: list[asyncio.Future[None]] = []
        #: awaited with each snapshot before it is handed on (the table works out its new rows here, a slice
        #: at a time, so a big first load does not freeze the window)
        self.prepare: Callable[[Mapping[int, Backend]], Awaitable[None]] | None = None

    # ---- control -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    @property
    def reachable(self) -> bool:
        return self.failures == 0

    @property
    def unreachable(self) -> bool:
        """Whether to say "Cannot reach": the last poll failed and it is not a lone failure among calls that mostly
        work (never answered yet, two polls failed in a row, or most of the latest calls failed)."""
        if self.failures == 0:
            return False
        failed, total = self.failing_calls
        return self.last_snapshot is None or self.failures >= 2 or failed * 2 > total

    @property
    def failing_calls(self) -> tuple[int, int]:
        """(failed, of how many) among the latest calls."""
        return self.recent.count(False), len(self.recent)

    def record_call(self, ok: bool, error: BaseException | None = None) -> None:
        """One call's outcome (an action's, or a poll's): the status bar counts the failures among the latest."""
        self.recent.append(ok)
        if not ok and error is not None:
            self.last_failure = error

    def current_delay(self) -> float:
        """Seconds between polls now: the interval, doubled per failure in a row, at most ``max_interval``."""
        if self.failures == 0:
            return self.interval
        return min(self.max_interval, self.interval * 2 ** (self.failures - 1))

    def start(self) -> None:
        """Start polling (the first poll happens at once). Needs the qasync loop to be current."""
        if not self.running:
            self._task = spawn(self._run(), what="Refreshing the backend list")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.next_poll_at = None
        for fut in self._waiters:
            if not fut.done():
                fut.cancel()
        self._waiters.clear()

    def pause(self) -> None:
        self._resumed.clear()

    def resume(self) -> None:
        if self.paused:
            self._resumed.set()
            self._kick.set()  # what the person sees after restoring the window must be fresh

    def kick(self) -> None:
        """Poll as soon as the request in flight (if any) is done."""
        self._kick.set()

    async def refresh(self) -> None:
        """Poll now and return when that poll is over (whatever its outcome)."""
        if not self.running:
            await self._poll_once()
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._kick.set()
        await fut

    # ---- the loop ------------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if self.paused:
                self.next_poll_at = None
                await self._resumed.wait()
            self._kick.clear()
            # waiters that arrive while this poll is in flight are served by the next one, whose
            # answer is sure to reflect their change
            waiters, self._waiters = self._waiters, []
            self.next_poll_at = None
            try:
                await self._poll_once()
            finally:
                for fut in waiters:
                    if not fut.done():
                        fut.set_result(None)
            delay = self.current_delay()
            self.next_poll_at = loop.time() + delay
            try:
                await asyncio.wait_for(self._kick.wait(), delay)
            except TimeoutError:
                pass

    async def _poll_once(self) -> None:
        try:
            snapshot = await self.service.list_backends(full_data=True)
        except BackendServiceError as exc:
            self.failures += 1
            self.last_error = exc
            self.record_call(False, exc)
            log.info("poll of %s failed (%d in a row): %s", self.service.location, self.failures, exc)
            self.poll_failed.emit(exc)
            return
        if self.prepare is not None:
            await self.prepare(snapshot)
        self.polls += 1
        self.record_call(True)
        self.failures = 0
        self.last_error = None
        self.last_snapshot = snapshot
        self.snapshot_received.emit(snapshot)
