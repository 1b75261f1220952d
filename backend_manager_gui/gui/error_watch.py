"""Which backends just went to errored: news worth a desktop notification, told once per crash.

A service with a change feed (``core.service.ChangeFeed``) tells of each change itself, also while the window
is minimized and polling is paused; for any other service the news is read off successive snapshots. What
was already errored when the window connected is in the table, not news.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..core.models import Backend, BackendStatus
from ..core.service import BackendService
from .tasks import change_feed


class ErrorWatch:
    """Calls ``on_errored(backend)`` once each time a backend goes to errored; ``known(id)`` is the status the
    table shows (for a change event about a row the feed has not mentioned before)."""

    def __init__(self, known: Callable[[int], BackendStatus | None], on_errored: Callable[[Backend], None]) -> None:
        self._known = known
        self._on_errored = on_errored
        self._previous: Mapping[int, Backend] | None = None
        self._unlisten: Callable[[], None] | None = None
        self._listened: dict[int, BackendStatus] = {}
        # of several connections, whether a row's connection has a change feed (its news come from there)
        self._fed: Callable[[int], bool] | None = None

    def watch(self, service: BackendService | None) -> None:
        """Follow ``service`` from now on (None: nothing); what was seen of the one before is forgotten."""
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        self._previous = None
        self._listened = {}
        from ..core.aggregate import AggregateService

        self._fed = service.fed if isinstance(service, AggregateService) else None
        feed = change_feed(service)
        if feed is not None:
            self._unlisten = feed.add_listener(self._on_changed)

    def saw(self, snapshot: Mapping[int, Backend]) -> None:
        """A new snapshot arrived (kept until the next one: it is not changed after it is handed on)."""
        previous = self._previous
        self._previous = snapshot
        fed = self._fed
        if previous is None or (self._unlisten is not None and fed is None):
            return  # the first look, or the change feed tells of each change itself
        errored = BackendStatus.ERRORED
        get = previous.get
        for backend_id, backend in snapshot.items():
            # an entry that did not change is the very same object (the remote list decoder hands those back): it
            # is skipped without being read (at 50,000 backends, reading each one's status was 15 ms a poll)
            before = get(backend_id)
            if before is None or before is backend or (fed is not None and fed(backend_id)):
                continue
            if backend.status is errored and before.status is not errored:
                self._on_errored(backend)

    def _on_changed(self, backend: Backend) -> None:
        before = self._listened.get(backend.id)
        if before is None:
            before = self._known(backend.id)
        self._listened[backend.id] = backend.status
        if backend.status is BackendStatus.ERRORED and before not in (None, BackendStatus.ERRORED):
            self._on_errored(backend)
