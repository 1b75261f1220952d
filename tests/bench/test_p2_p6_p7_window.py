"""The window against a server with 5,000 backends (the fake SwarmUI in its own process, 1% churn per poll).

P2: worst event-loop stall while the window polls a server that answers after 1 s, with the person scrolling
    and typing in the filter box (goal ≤ 50 ms). ``--p2-seconds`` sets how long (default 30 s, as the issue says).
P6: memory (RSS) of the app with 5,000 backends listed (goal ≤ 200 MB), measured in a process of its own.
P7: each keystroke in the filter box with 5,000 backends applied (goal ≤ 30 ms), polling stopped meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.gui.main_window import MainWindow
from tests.bench.conftest import record
from tests.bench.support import N_BACKENDS, ms
from tests.gui.conftest import run
from tests.gui.window_helpers import temp_settings, until

ROOT = Path(__file__).resolve().parents[2]
LATENCY = 1.0


def child_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    # an installed app runs from compiled bytecode: let the children cache theirs (outside the tree), as pip's
    # install would have, whatever this shell says
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(os.environ.get("TMPDIR", "/tmp")) / "backend-manager-bench-pycache")
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(tmp / "config"),
               XDG_DATA_HOME=str(tmp / "data"), XDG_STATE_HOME=str(tmp / "state"), XDG_CACHE_HOME=str(tmp / "cache"),
               PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    return env


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("server")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.bench_server", "--backends", str(N_BACKENDS), "--latency", str(LATENCY),
         "--churn", "0.01"], cwd=ROOT, env=child_env(tmp), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("FAKE_SWARM_URL "), line
        yield line.split()[1]
    finally:
        proc.kill()
        proc.wait(10)


class StallProbe:
    """Two clocks that should tick every 10 ms: an asyncio sleep loop and a Qt timer. A late tick is a stall."""

    def __init__(self) -> None:
        self.lateness: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)
        self._last_tick = 0.0

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._sleeper())
        self._last_tick = time.perf_counter()
        self._timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.lateness.append(now - self._last_tick - 0.010)
        self._last_tick = now

    async def _sleeper(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.010)
            self.lateness.append(time.perf_counter() - t - 0.010)

    def take(self) -> list[float]:
        out, self.lateness = self.lateness, []
        return out

    async def stop(self) -> None:
        self._timer.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def person(window: MainWindow, seconds: float) -> int:
    """Scroll the table every 50 ms and type into the filter box now and then, as a person does."""
    rnd = random.Random(5)
    bar = window.table.verticalScrollBar()
    word = "node 1"
    end = time.perf_counter() + seconds
    keystrokes = 0
    step = 0
    while time.perf_counter() < end:
        bar.setValue(rnd.randint(0, max(0, bar.maximum())))
        step += 1
        if step % 10 == 0:  # a keystroke every half second: the word letter by letter, then erased
            phase = (step // 10) % (2 * len(word))
            if phase < len(word):
                QTest.keyClick(window.filter_edit, word[phase])
            else:
                QTest.keyClick(window.filter_edit, Qt.Key.Key_Backspace)
            keystrokes += 1
        await asyncio.sleep(0.05)
    return keystrokes


@pytest.fixture
def window(loop, qtbot, tmp_path, server_url) -> Iterator[MainWindow]:
    win = MainWindow(RemoteService(server_url, timeout=30.0), settings=temp_settings(tmp_path))
    qtbot.addWidget(win)
    try:
        yield win
    finally:
        run(loop, win.shutdown(), 60)


def test_p2_worst_stall_while_polling_5000(loop, window, benchmark, request, strict):
    from backend_manager_gui.gui.app import MainThreadGarbageCollector

    seconds = float(request.config.getoption("--p2-seconds"))
    collector = MainThreadGarbageCollector()  # the app's own garbage collection policy, as run_app installs it
    probe = StallProbe()
    probe.start()
    # the floor: the same probe on the same loop with nothing else to do (this machine is shared)
    run(loop, asyncio.sleep(3.0))
    floor = max(probe.take())
    started = time.perf_counter()
    window.show()
    until(loop, lambda: window.backends_model.rowCount() == N_BACKENDS, 120, "5,000 rows listed")
    first_load = probe.take()
    load_s = time.perf_counter() - started
    polls_before = window.poller.polls

    def steady() -> int:
        return run(loop, person(window, seconds), seconds + 60)

    keystrokes = benchmark.pedantic(steady, rounds=1, iterations=1)
    steady_lateness = probe.take()
    run(loop, probe.stop())
    collector.stop()
    polls = window.poller.polls - polls_before
    assert polls >= max(1, int(seconds / (2.0 + LATENCY)) - 1), "the window kept polling"
    assert window.backends_model.rowCount() == N_BACKENDS

    worst = max(steady_lateness)
    p99 = statistics.quantiles(steady_lateness, n=100)[98]
    worst_first = max(first_load)
    over = sum(1 for x in steady_lateness if x > 0.050)
    met = worst <= 0.050
    figure = (f"worst {ms(worst)} (p99 {ms(p99)}; {over} of {len(steady_lateness)} ticks > 50 ms) over {seconds:g} s, "
              f"{polls} polls, {keystrokes} keystrokes; "
              f"first load of 5,000 rows: worst {ms(worst_first)}; idle floor {ms(floor)}")
    record(benchmark, "P2", f"worst loop stall, polling 5,000 (1 s latency), {seconds:g} s", "≤ 50 ms", figure, met,
           worst_ms=worst * 1000, p99_ms=p99 * 1000, ticks_over_50ms=over, ticks=len(steady_lateness), polls=polls, keystrokes=keystrokes, seconds=seconds,
           first_load_worst_ms=worst_first * 1000, first_load_s=load_s, idle_floor_ms=floor * 1000)
    print(f"\nP2: {figure}")
    if strict:
        assert met, figure


KEYS: list[str | Qt.Key] = [*"node 12", *[Qt.Key.Key_Backspace] * 7, *"err", *[Qt.Key.Key_Backspace] * 3, *"comfy",
                            "all", *"zzz", "all"]


def type_sequence(window: MainWindow) -> list[float]:
    app = QApplication.instance()
    edit = window.filter_edit
    times = []
    for key in KEYS:
        t = time.perf_counter()
        if key == "all":  # select everything and delete it at once
            edit.selectAll()
            QTest.keyClick(edit, Qt.Key.Key_Delete)
        elif isinstance(key, str):
            QTest.keyClick(edit, key)
        else:
            QTest.keyClick(edit, key)
        app.processEvents()  # the table's relayout and repaint are part of what the person waits for
        times.append(time.perf_counter() - t)
    return times


def test_p7_filter_keystrokes_with_5000(loop, window, benchmark, strict):
    window.show()
    until(loop, lambda: window.backends_model.rowCount() == N_BACKENDS, 120, "5,000 rows listed")
    run(loop, window.poller.stop())  # each keystroke alone, no poll landing in between
    window.filter_edit.setFocus()
    shown: dict[str, int] = {}
    window.filter_edit.textChanged.connect(lambda text: shown.__setitem__(text, window.proxy.rowCount()))
    rounds: list[list[float]] = []

    def one_round() -> None:
        rounds.append(type_sequence(window))

    benchmark.pedantic(one_round, rounds=3, iterations=1, warmup_rounds=0)
    assert window.filter_edit.text() == ""
    assert window.proxy.rowCount() == N_BACKENDS
    assert 0 < shown["node 12"] < N_BACKENDS and shown["zzz"] == 0
    # per keystroke the best of the rounds (the machine is shared), then the worst keystroke
    per_key = [min(r[i] for r in rounds) for i in range(len(KEYS))]
    worst = max(per_key)
    worst_raw = max(max(r) for r in rounds)
    median = statistics.median(per_key)
    met = worst <= 0.030
    figure = f"worst keystroke {ms(worst)} (median {ms(median)}; worst single try {ms(worst_raw)}), {len(KEYS)} keystrokes × 3"
    record(benchmark, "P7", "filter keystroke with 5,000 backends", "≤ 30 ms each", figure, met,
           worst_ms=worst * 1000, median_ms=median * 1000, worst_raw_ms=worst_raw * 1000,
           per_key_ms=[round(x * 1000, 2) for x in per_key])
    print(f"\nP7: {figure}")
    if strict:
        assert met, figure


def test_p6_memory_with_5000_listed(server_url, tmp_path, benchmark, strict):
    def measure() -> dict[str, float]:
        out = subprocess.run(
            [sys.executable, "-m", "tests.bench.app_probe", "rss", "--server", server_url, "--rows", str(N_BACKENDS)],
            cwd=ROOT, env=child_env(tmp_path), capture_output=True, text=True, timeout=240)
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        assert lines, out.stderr[-2000:]
        return json.loads(lines[-1])

    result = benchmark.pedantic(measure, rounds=1, iterations=1)
    assert result["rows"] == N_BACKENDS and result["polls"] >= 2
    rss = result["rss_mb"]
    met = rss <= 200
    figure = f"{rss:.0f} MB RSS after {result['polls']:.0f} polls"
    record(benchmark, "P6", "RSS with 5,000 backends listed", "≤ 200 MB", figure, met, rss_mb=rss)
    print(f"\nP6: {figure}")
    if strict:
        assert met, figure
