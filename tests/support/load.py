"""How busy the machine is right now, measured in the test's own run: the yardstick for wall-clock bounds.

A wall-clock bound in a test ("a crash is seen within 1 s", "the window is never frozen over 100 ms") holds on an
idle machine and breaks on a busy one without any bug. Such a bound is written as the product's budget on an
idle machine and scaled by what this module measures in the same run, just before and after the timed part:

- ``stretch``: wall time over CPU time of a short piece of pure work in this thread (1.0 = it had a core to
  itself; 3.0 = it got a third of one). The product's own work takes ``stretch`` times longer now.
- ``wake_s``: how late a short sleep wakes up (how long a woken thread waits for a core). Every hop between
  processes or threads (a child's exit reaching the loop, a reply reaching the client) costs up to this much.

``Load.bound(seconds, wakeups)`` is then ``seconds × stretch + wakeups × wake_s``: on an idle machine the bound
the test always had, under load one that grows with the load and with nothing else. Where the product's own
work can be measured directly (CPU time of the loop thread: ``time.thread_time``), tests assert on that too.

``pytest --burn N`` (or ``BM_TEST_BURN=N``) runs N CPU-burning processes beside the suite (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

#: one sample: a sleep of this long, then this much CPU work
_SLEEP_S = 0.01
_WORK_S = 0.02


@dataclass(frozen=True)
class Load:
    #: wall time / CPU time of pure work in this thread: how much longer the product's own work takes now
    stretch: float = 1.0
    #: the worst lateness of a short sleep: what one wake-up (a hop between processes or threads) costs now
    wake_s: float = 0.0

    def bound(self, seconds: float, wakeups: int = 0) -> float:
        """``seconds`` of budget on an idle machine, and ``wakeups`` hops, on this machine as loaded now."""
        return seconds * max(1.0, self.stretch) + wakeups * self.wake_s

    def worst(self, other: Load) -> Load:
        return Load(max(self.stretch, other.stretch), max(self.wake_s, other.wake_s))

    def __str__(self) -> str:
        return f"load now: work takes ×{self.stretch:.2f} its CPU time, a wake-up is up to {self.wake_s * 1000:.0f} ms late"


def _work_ratio() -> float:
    """Wall over CPU time of ~20 ms of pure work in this thread."""
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    x = 0
    while time.thread_time() - cpu0 < _WORK_S:
        for i in range(2000):
            x ^= i
    wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
    return wall / cpu if cpu > 0 else 1.0


def measure(samples: int = 5) -> Load:
    """The load as this thread feels it now (about ``samples`` × 30 ms on an idle machine; blocks the thread)."""
    load = Load()
    for _ in range(samples):
        t0 = time.perf_counter()
        time.sleep(_SLEEP_S)
        late = time.perf_counter() - t0 - _SLEEP_S
        load = load.worst(Load(_work_ratio(), max(0.0, late)))
    return load


async def ameasure(samples: int = 5) -> Load:
    """``measure`` for a coroutine: the sleeps are the event loop's (the work still runs on its thread)."""
    load = Load()
    loop = asyncio.get_running_loop()
    for _ in range(samples):
        t0 = loop.time()
        await asyncio.sleep(_SLEEP_S)
        late = loop.time() - t0 - _SLEEP_S
        load = load.worst(Load(_work_ratio(), max(0.0, late)))
    return load
