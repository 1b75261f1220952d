"""The yardsticks of the timing bounds can fail: the lateness probe catches a loop blocked by its own work and one
blocked without working, on an idle machine and on a busy one (tests/support/load.py, ``pytest --burn N``)."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.gui.conftest import run
from tests.reliability.gui_support import LatenessProbe
from tests.support import load as machine
from tests.support.load import Load


def _probe_while(loop, block) -> tuple[LatenessProbe, Load]:
    load = machine.measure()
    probe = LatenessProbe()

    async def body() -> None:
        await asyncio.sleep(0.1)
        block()
        await asyncio.sleep(0.1)

    probe.start()
    run(loop, body())
    probe.stop()
    return probe, load.worst(machine.measure())


def test_a_loop_that_only_awaits_passes(loop, qtbot) -> None:
    probe, load = _probe_while(loop, lambda: None)
    assert probe.ticks >= 5
    probe.assert_never_blocked(100, load)


def test_the_loops_own_work_fails_it_whatever_the_load(loop, qtbot) -> None:
    def work() -> None:
        start = time.thread_time()
        while time.thread_time() - start < 0.3:
            pass

    probe, load = _probe_while(loop, work)
    assert probe.worst_busy_ms >= 250  # CPU time: the same on a busy machine
    with pytest.raises(AssertionError):
        probe.assert_never_blocked(100, load)


def test_a_blocking_wait_on_the_loop_fails_it(loop, qtbot) -> None:
    probe, load = _probe_while(loop, lambda: time.sleep(1.0))  # as a synchronous read would
    assert probe.worst_busy_ms < 100 and probe.worst_ms >= 900
    if load.bound(0.1, wakeups=2) >= 0.9:
        pytest.skip(f"the machine is too busy for a 1 s wait to stand out ({load})")
    with pytest.raises(AssertionError):
        probe.assert_never_blocked(100, load)


def test_a_bound_grows_with_the_load_and_with_nothing_else() -> None:
    assert Load().bound(1.0, wakeups=5) == 1.0
    assert Load(stretch=0.8, wake_s=0.0).bound(1.0) == 1.0  # never below the idle budget
    assert Load(stretch=3.0, wake_s=0.01).bound(1.0, wakeups=5) == pytest.approx(3.05)
