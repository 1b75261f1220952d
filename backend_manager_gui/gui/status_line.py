"""The status bar's line: where the window is connected, how that is going, and what the backends are doing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..core.models import Backend, BackendStatus
from .poller import Poller
from .tasks import describe_error

if TYPE_CHECKING:
    from .hosts import Hosts

#: Order of the status summary ("3 running · 1 loading · 1 errored").
SUMMARY_ORDER = (BackendStatus.RUNNING, BackendStatus.IDLE, BackendStatus.LOADING, BackendStatus.WAITING,
                 BackendStatus.ERRORED, BackendStatus.DISABLED)


def status_summary(backends: Iterable[Backend]) -> str:
    counts: dict[BackendStatus, int] = {}
    for b in backends:
        counts[b.status] = counts.get(b.status, 0) + 1
    if not counts:
        return "no backends yet"
    return " · ".join(f"{counts[s]} {s.value}" for s in SUMMARY_ORDER if counts.get(s))


def connection_status(where: str, poller: Poller, backends: Iterable[Backend]) -> tuple[str, str]:
    """(the line, its tooltip). "Cannot reach" only while the poller says unreachable; a server that fails now
    and then but mostly answers is "Connected … — some calls failing (k of the last n)"."""
    failed, total = poller.failing_calls
    if poller.unreachable:
        due = poller.next_poll_at
        seconds = 0 if due is None else max(0, round(due - asyncio.get_event_loop().time()))
        text = f"Cannot reach {where} — retrying in {seconds} s" if seconds else f"Cannot reach {where} — retrying now…"
        return text, describe_error(poller.last_error, where) if poller.last_error is not None else ""
    if poller.last_snapshot is None:
        return f"Connecting to {where}…", ""
    summary = status_summary(backends)
    if not failed:
        return f"Connected to {where} — {summary}", ""
    latest = poller.last_failure
    tooltip = f"The latest failure: {describe_error(latest, where)}" if latest is not None else ""
    return f"Connected to {where} — some calls failing ({failed} of the last {total}) — {summary}", tooltip


def several_status(hosts: Hosts) -> tuple[str, str]:
    """The line while several connections are open: how many answer, which do not, and every backend's summary."""
    down = [h for h in hosts if h.poller.unreachable]
    waiting = [h for h in hosts if h.snapshot is None and not h.poller.unreachable]
    backends = [b for h in hosts if h.snapshot is not None for b in h.snapshot.values()]
    parts = [f"{len(hosts)} connections"]
    if down:
        names = ", ".join(h.name for h in down[:3]) + (f" and {len(down) - 3} more" if len(down) > 3 else "")
        parts.append(f"cannot reach {names}")
    if waiting:
        parts.append(f"connecting to {len(waiting)}")
    parts.append(status_summary(backends))
    tooltip = "\n".join(f"{h.name}: {describe_error(h.poller.last_error, h.service.location)}"
                        for h in down if h.poller.last_error is not None)
    return " — ".join(parts), tooltip
