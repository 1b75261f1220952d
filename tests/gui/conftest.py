"""GUI test fixtures: a fresh qasync loop per test (pytest-qt has no asyncio support of its own).

GUI tests are plain ``def`` tests: they get ``loop`` and drive coroutines with ``run(loop, coro)`` or let
the window's own slots run while ``qtbot.waitUntil`` spins the Qt event loop (which is the asyncio loop).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import qasync

T = TypeVar("T")


class _TestLoop(qasync.QEventLoop):
    """qasync's loop, still asyncio's "running loop" between two ``run()`` calls of a test.

    qasync's run_until_complete ends with one last ``processEvents()`` after it has cleared the running loop,
    and pytest-qt calls ``processEvents()`` after each test body: a background task (a poll, an HTTP read)
    resumed there would call ``get_running_loop()`` and fail with "no running event loop". Keeping the loop
    registered lets such steps run as they would in the app, where the loop runs all the time.
    """

    def _after_run_forever(self) -> None:
        super()._after_run_forever()
        asyncio.events._set_running_loop(self)


@pytest.fixture
def loop(qapp) -> Iterator[qasync.QEventLoop]:
    """A qasync loop that fails the test on any unhandled task error (STYLE.md pitfalls 2, 3, 8)."""
    # earlier tests' loops and windows sit in reference cycles; collected here, they die on the GUI thread.
    # Left to chance, a collection in a worker thread (a to_thread call) destroys a loop's QObjects there and
    # leaves Qt a dangling timer: a segfault a test or two later (what the app's MainThreadGarbageCollector avoids)
    gc.collect()
    ev = _TestLoop(qapp)
    errors: list[dict[str, Any]] = []

    def _handler(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        errors.append(context)

    ev.set_exception_handler(_handler)
    asyncio.set_event_loop(ev)
    try:
        yield ev
    finally:
        pending = [t for t in asyncio.all_tasks(ev) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            ev.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        ev.run_until_complete(ev.shutdown_asyncgens())
        asyncio.events._set_running_loop(None)
        ev.close()
        asyncio.set_event_loop(None)
    if errors:
        msgs = "; ".join(f"{c.get('message')}: {c.get('exception')!r}" for c in errors)
        pytest.fail(f"unhandled errors in the event loop: {msgs}")


def run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    """Run ``coro`` to completion on the test's qasync loop (Qt events are processed meanwhile)."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


@pytest.fixture(autouse=True)
def _isolated_qsettings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """QSettings() in any GUI code writes to a temp folder: no test touches the user's real config."""
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("qsettings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(folder))
    yield
