"""The status bar's line: where the window is connected, how that is going, and what the backends are doing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from ..core.models import Backend, BackendStatus
from .poller import Poller
from .tasks import describe_error

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
