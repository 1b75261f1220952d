from __future__ import annotations

import asyncio

from PySide6.QtCore import QObject, QTimer, Signal

from tests.gui.conftest import run


class _Emitter(QObject):
    fired = Signal(int)


def test_qt_timer_and_asyncio_share_one_loop(loop, qtbot):
    """A QTimer fires while a coroutine awaits: Qt and asyncio really are one loop."""
    seen: list[str] = []
    QTimer.singleShot(10, lambda: seen.append("qt"))

    async def body() -> str:
        await asyncio.sleep(0.1)
        return "async"

    seen.append(run(loop, body()))
    assert seen == ["qt", "async"]


def test_thousands_of_python_emits_keep_the_process_alive(loop, qtbot):
    """PySide6 6.12.0 on CPython 3.11 aborts after a few hundred Python-side emits (STYLE.md pitfall 12)."""
    import sys

    em = _Emitter()
    got: list[int] = []
    em.fired.connect(got.append)
    before = sys.getrefcount(True)
    for i in range(5000):
        em.fired.emit(i)
    assert len(got) == 5000
    # a leaking binding drops one reference to True per emit
    assert sys.getrefcount(True) >= before - 10
