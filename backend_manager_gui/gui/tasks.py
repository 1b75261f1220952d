"""The one sanctioned way to run background work in the GUI (STYLE.md pitfalls 1-4).

``spawn()`` keeps a strong reference to every task (a bare ``ensure_future`` may be garbage collected
mid-flight) and sends any failure nobody handled to the loop's exception handler: the app installs one
that logs and shows it, and the test loop fixture fails the test. ``ask()`` and ``wait_dialog()`` let a
coroutine wait for a person's answer without a nested modal ``exec()``. ``worker_host()``, ``change_feed()``
and ``service_warnings()`` are the one place the GUI asks what a service offers beyond the contract.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from ..core.aggregate import AggregateService
from ..core.errors import BackendServiceError, ServiceUnavailable
from ..core.service import ChangeFeed, HasWarnings, WorkerHost

log = logging.getLogger(__name__)
T = TypeVar("T")

_TASKS: set[asyncio.Task[Any]] = set()


def spawn(
    coro: Coroutine[Any, Any, T],
    *,
    what: str,
    on_error: Callable[[BaseException], None] | None = None,
) -> asyncio.Task[T]:
    """Run ``coro`` in the background. ``what`` names it for the person ("Restart backend 3").

    An exception is given to ``on_error`` when one is passed; otherwise to the loop's exception
    handler, so it is never lost. Cancellation is not an error.
    """
    task = asyncio.ensure_future(coro)
    _TASKS.add(task)

    def _done(t: asyncio.Task[Any]) -> None:
        _TASKS.discard(t)
        if t.cancelled():
            return
        exc = t.exception()
        if exc is None:
            return
        if on_error is not None:
            try:
                on_error(exc)
                return
            except Exception as handler_exc:  # the handler itself broke: report both
                exc = handler_exc
        t.get_loop().call_exception_handler({"message": f"{what} failed", "exception": exc, "task": t})

    task.add_done_callback(_done)
    return task


def running_tasks() -> list[asyncio.Task[Any]]:
    """Tasks started through spawn() that have not finished yet."""
    return [t for t in _TASKS if not t.done()]


async def cancel_tasks(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel and await ``tasks``, except the one calling (a task cannot wait for itself)."""
    me = asyncio.current_task()
    tasks = [t for t in tasks if not t.done() and t is not me]
    for t in tasks:
        t.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


# ---- what a service offers beyond the contract: the one place the GUI asks (core/service.py declares them)


def worker_host(service: object) -> WorkerHost | None:
    """The service as a ``WorkerHost`` (workers on this computer: details, log files, GPUs), else None. Of several
    connections (``AggregateService``), the one that runs workers here, on row keys."""
    if isinstance(service, AggregateService):
        return service.worker_host()
    return service if isinstance(service, WorkerHost) else None


def change_feed(service: object) -> ChangeFeed | None:
    """The service as a ``ChangeFeed`` (tells of each status change itself), else None."""
    return service if isinstance(service, ChangeFeed) else None


def service_warnings(service: object) -> list[str]:
    """The notes a service has for the person from its start (none for a service without any)."""
    return [str(w) for w in service.warnings] if isinstance(service, HasWarnings) else []


def is_embedded(service: object) -> bool:
    """The embedded manager (this computer) has extras a server has not: GPU report, worker details."""
    return worker_host(service) is not None


def describe_error(exc: BaseException, where: str | None = None) -> str:
    """The one place that turns a service error into a sentence for a person: one sentence per failure.

    A service's own text already says what happened ("Cannot reach http://…: connection refused", "The server
    at http://… answered HTTP 500 to RestartBackends."); ``where`` is put in front only of a transport failure
    whose text does not name the place itself.
    """
    if isinstance(exc, ServiceUnavailable):
        text = str(exc)
        return text if not where or where in text else f"{where}: {text}"
    if isinstance(exc, BackendServiceError):
        return str(exc)
    return f"Unexpected error: {type(exc).__name__}: {exc}"


async def wait_dialog(dialog: QDialog) -> int:
    """Show ``dialog`` window-modal with ``open()`` and wait for its result code (no nested exec())."""
    fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def _finished(result: int) -> None:
        if not fut.done():
            fut.set_result(result)

    dialog.finished.connect(_finished)
    dialog.open()
    try:
        return await fut
    finally:
        try:
            dialog.finished.disconnect(_finished)
        except (RuntimeError, TypeError):  # the dialog is already gone
            pass


async def ask(
    parent: QWidget,
    title: str,
    text: str,
    *,
    accept: str,
    informative: str = "",
    icon: QMessageBox.Icon = QMessageBox.Icon.Question,
    object_name: str = "confirm",
) -> bool:
    """A yes/no question with a named accept button ("Delete", "Stop and quit"); True when accepted."""
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.NoButton, parent)
    box.setObjectName(object_name)
    if informative:
        box.setInformativeText(informative)
    yes = box.addButton(accept, QMessageBox.ButtonRole.AcceptRole)
    no = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(no)
    box.setEscapeButton(no)
    try:
        await wait_dialog(box)
        return box.clickedButton() is yes
    finally:
        box.deleteLater()
