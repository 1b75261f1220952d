"""Reasons from the log: an errored (or long stuck) backend whose service gave no ``status_message`` — a SwarmUI
server never gives one — shows in Details the last error line of its log (``core/logs.py last_error_line``).

Cost: the log is read once per status episode, not per poll: when a backend turns errored without a message
(or has been waiting or loading without one for ``stuck_after_s``), ``backend_log(id, 0)`` is asked once, and
its answer is kept until the backend's status changes. At most ``max_in_flight`` reads run at a time; the rest
queue (a server restart that errors a hundred backends costs a hundred reads, two at a time, once).
Connection-agnostic: the embedded manager always gives its own reasons, so it never needs one.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..core.errors import BackendServiceError, ServiceUnavailable
from ..core.logs import last_error_line
from ..core.models import Backend, BackendStatus
from ..core.service import BackendService
from .tasks import spawn

#: Waiting or loading without a word this long counts as stuck (seconds).
STUCK_AFTER_S = 120.0
MAX_IN_FLIGHT = 2
#: Reads of one episode's log that may fail to reach the service before it is left alone.
MAX_ATTEMPTS = 3
_STUCK = (BackendStatus.WAITING, BackendStatus.LOADING)
#: How a stuck backend's line reads (it may still come up: the line is a hint, not a verdict).
STUCK_PREFIX = "last error in its log: "

SetReason = Callable[[int, "str | None"], None]


@dataclass
class _Episode:
    """One stretch of a backend in one status without a message: since when, and whether its log was read."""

    status: BackendStatus
    since: float
    #: "new" (not asked), "queued", "reading", "done"
    state: str = "new"
    shown: bool = False
    failures: int = 0


class LogReasons:
    """Feed it every snapshot (``saw``); it calls ``set_reason(id, text or None)`` for the table's Details."""

    def __init__(
        self,
        set_reason: SetReason,
        *,
        stuck_after_s: float = STUCK_AFTER_S,
        max_in_flight: int = MAX_IN_FLIGHT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._set_reason = set_reason
        self.stuck_after_s = stuck_after_s
        self.max_in_flight = max_in_flight
        self._clock = clock
        self._service: BackendService | None = None
        self._episodes: dict[int, _Episode] = {}
        self._queue: deque[int] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        #: logs read so far (``backend_log`` calls), for the cost figures
        self.reads = 0

    def set_service(self, service: BackendService | None) -> None:
        """A new connection: forget everything (the table is cleared too) and drop the reads in flight."""
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self._queue.clear()
        self._episodes.clear()
        self._service = service

    def saw(self, snapshot: Mapping[int, Backend]) -> None:
        now = self._clock()
        for gone in [i for i in self._episodes if i not in snapshot]:
            del self._episodes[gone]
        for backend_id, backend in snapshot.items():
            episode = self._episodes.get(backend_id)
            wanted = not backend.status_message and (backend.status is BackendStatus.ERRORED
                                                     or backend.status in _STUCK)
            if episode is not None and (episode.status is not backend.status or not wanted):
                if episode.shown:
                    self._set_reason(backend_id, None)
                del self._episodes[backend_id]
                episode = None
            if not wanted:
                continue
            if episode is None:
                episode = self._episodes[backend_id] = _Episode(backend.status, now)
            due = backend.status is BackendStatus.ERRORED or now - episode.since >= self.stuck_after_s
            if episode.state == "new" and due:
                episode.state = "queued"
                self._queue.append(backend_id)
        self._pump()

    def _pump(self) -> None:
        while self._queue and len(self._tasks) < self.max_in_flight and self._service is not None:
            backend_id = self._queue.popleft()
            episode = self._episodes.get(backend_id)
            if episode is None or episode.state != "queued":
                continue
            episode.state = "reading"
            self.reads += 1
            task = spawn(self._read(self._service, backend_id, episode), what=f"Reading backend {backend_id}'s log")
            self._tasks.add(task)
            task.add_done_callback(self._on_read_done)

    def _on_read_done(self, task: asyncio.Task[None]) -> None:
        if task in self._tasks:
            self._tasks.discard(task)
            self._pump()  # the next in the queue

    async def _read(self, service: BackendService, backend_id: int, episode: _Episode) -> None:
        try:
            log = await service.backend_log(backend_id, 0)
        except ServiceUnavailable:
            episode.failures += 1
            # asked again with a later snapshot (one that got through), a few times at most
            episode.state = "new" if episode.failures < MAX_ATTEMPTS else "done"
            return
        except BackendServiceError:
            episode.state = "done"  # refused: nothing to show until the status changes
            return
        episode.state = "done"
        line = last_error_line(log.lines)
        if line and self._episodes.get(backend_id) is episode and service is self._service:
            episode.shown = True
            stuck = episode.status is not BackendStatus.ERRORED
            self._set_reason(backend_id, f"{STUCK_PREFIX}{line}" if stuck else line)
