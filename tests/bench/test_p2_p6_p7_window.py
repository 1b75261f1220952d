"""The window against a server with 5,000 backends (the fake SwarmUI in its own process, 1% churn per poll).

P2: worst event-loop stall while the window polls a server that answers after 1 s, with the person scrolling
    and typing in the filter box (goal ≤ 50 ms, and ≤ 25 ms for margin). ``--p2-seconds`` sets how long
    (default 30 s, as the issue says).
P6: memory (RSS) of the app with 5,000 backends listed (goal ≤ 200 MB), measured in a process of its own.
P7: each keystroke in the filter box with 5,000 backends applied (goal ≤ 30 ms, and ≤ 15 ms for margin), polling
    stopped meanwhile; also sorted by Status, as a person who sorted the table once sees it from then on.
P8: the first load: from the window being shown to all 5,000 rows listed and painted, against a server that
    answers at once, as a ratio to json.loads of the same reply bytes (goal ≤ 10 ×).
Each runs once per size in ``--sizes`` (5,000 and 50,000): the goals are for 5,000.
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
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from backend_manager_gui.core.remote import RemoteService
from backend_manager_gui.gui.main_window import MainWindow
from tests.bench.conftest import record
from tests.bench.support import best_of, ms
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


def _bench_server(tmp: Path, n: int, latency: float, churn: float) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.bench_server", "--backends", str(n), "--latency", str(latency),
         "--churn", str(churn)], cwd=ROOT, env=child_env(tmp), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("FAKE_SWARM_URL "), line
        yield line.split()[1]
    finally:
        proc.kill()
        proc.wait(10)


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory, n_backends: int) -> Iterator[str]:
    """The fake SwarmUI with ``n_backends``, answering after 1 s, 1% of statuses changing before every reply."""
    yield from _bench_server(tmp_path_factory.mktemp("server"), n_backends, LATENCY, 0.01)


@pytest.fixture(scope="module")
def quick_server_url(tmp_path_factory: pytest.TempPathFactory, n_backends: int) -> Iterator[str]:
    """The fake SwarmUI with ``n_backends``, answering at once, nothing changing (the reply encoded once)."""
    yield from _bench_server(tmp_path_factory.mktemp("quick_server"), n_backends, 0.0, 0.0)


class StallProbe:
    """Two clocks that should tick every 10 ms: an asyncio sleep loop and a Qt timer. A late tick is a stall.

    Each interval between two ticks of the Qt timer also notes the CPU time the loop's thread spent in it
    (``busy``): a stall of the app's own making is CPU time in one piece, one of a shared machine is not (the
    thread waited for a core), so the longest busy interval tells the app's own worst stall apart from the
    machine's noise."""

    def __init__(self) -> None:
        self.lateness: list[float] = []
        self.busy: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)
        self._last_tick = 0.0
        self._last_cpu = 0.0

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._sleeper())
        self._last_tick = time.perf_counter()
        self._last_cpu = time.thread_time()
        self._timer.start()

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.lateness.append(now - self._last_tick - 0.010)
        self.busy.append(cpu - self._last_cpu)
        self._last_tick, self._last_cpu = now, cpu

    async def _sleeper(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.010)
            self.lateness.append(time.perf_counter() - t - 0.010)

    def take(self) -> list[float]:
        out, self.lateness = self.lateness, []
        self.busy = []
        return out

    def take_busy(self) -> list[float]:
        out, self.busy = self.busy, []
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


def test_p2_worst_stall_while_polling_5000(loop, window, benchmark, request, strict, n_backends):
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
    until(loop, lambda: window.backends_model.rowCount() == n_backends, 240, f"{n_backends:,} rows listed")
    first_load = probe.take()
    load_s = time.perf_counter() - started
    polls_before = window.poller.polls

    def steady() -> int:
        return run(loop, person(window, seconds), seconds + 120)

    keystrokes = benchmark.pedantic(steady, rounds=1, iterations=1)
    steady_busy = probe.take_busy()
    steady_lateness = probe.take()
    run(loop, probe.stop())
    collector.stop()
    polls = window.poller.polls - polls_before
    assert polls >= max(1, int(seconds / (2.0 + LATENCY)) - 1) or n_backends > 5000, "the window kept polling"
    assert window.backends_model.rowCount() == n_backends

    worst = max(steady_lateness)
    p99 = statistics.quantiles(steady_lateness, n=100)[98]
    worst_first = max(first_load)
    over = sum(1 for x in steady_lateness if x > 0.050)
    over_25 = sum(1 for x in steady_lateness if x > 0.025)
    met = worst <= 0.025
    worst_busy = max(steady_busy)
    figure = (f"worst {ms(worst)} (p99 {ms(p99)}; {over_25} of {len(steady_lateness)} ticks > 25 ms, {over} > 50 ms) "
              f"over {seconds:g} s, {polls} polls, {keystrokes} keystrokes; the loop's own longest busy stretch "
              f"(thread CPU between two ticks) {ms(worst_busy)}; first load of {n_backends:,} rows: "
              f"worst {ms(worst_first)}; idle floor {ms(floor)}")
    record(benchmark, "P2", f"worst loop stall, polling 5,000 (1 s latency), {seconds:g} s", "≤ 25 ms (≤ 50 ms)",
           figure, met, n=n_backends, worst_ms=worst * 1000, p99_ms=p99 * 1000, ticks_over_50ms=over,
           ticks_over_25ms=over_25, ticks=len(steady_lateness), polls=polls, keystrokes=keystrokes, seconds=seconds,
           worst_busy_ms=worst_busy * 1000,
           first_load_worst_ms=worst_first * 1000, first_load_s=load_s, idle_floor_ms=floor * 1000)
    print(f"\nP2 @ {n_backends:,}: {figure}")
    if strict:
        assert met, figure


KEYS: list[str | Qt.Key] = [*"node 12", *[Qt.Key.Key_Backspace] * 7, *"err", *[Qt.Key.Key_Backspace] * 3, *"comfy",
                            "all", *"zzz", "all"]


#: thread CPU time of each keystroke of the last type_sequence() (the machine's noise left out)
CPU_TIMES: list[float] = []


def type_sequence(window: MainWindow) -> list[float]:
    app = QApplication.instance()
    edit = window.filter_edit
    times = []
    CPU_TIMES.clear()
    for key in KEYS:
        c = time.thread_time()
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
        CPU_TIMES.append(time.thread_time() - c)
    return times


def _keystrokes(window: MainWindow, n_backends: int, rounds_wanted: int, cpu: list[list[float]] | None = None,
                ) -> tuple[list[list[float]], dict[str, int]]:
    window.filter_edit.setFocus()
    shown: dict[str, int] = {}
    window.filter_edit.textChanged.connect(lambda text: shown.__setitem__(text, window.proxy.rowCount()))
    rounds = []
    for _ in range(rounds_wanted):
        rounds.append(type_sequence(window))
        if cpu is not None:
            cpu.append(list(CPU_TIMES))
    assert window.filter_edit.text() == ""
    assert window.proxy.rowCount() == n_backends
    assert 0 < shown["node 12"] < n_backends and shown["zzz"] == 0
    return rounds, shown


def _keystroke_figures(rounds: list[list[float]]) -> tuple[float, float, float]:
    """(worst, median, worst single try): per keystroke the best of the rounds (the machine is shared)."""
    per_key = [min(r[i] for r in rounds) for i in range(len(KEYS))]
    return max(per_key), statistics.median(per_key), max(max(r) for r in rounds)


def test_p7_filter_keystrokes_with_5000(loop, window, benchmark, strict, n_backends):
    from backend_manager_gui.gui.app import MainThreadGarbageCollector
    from backend_manager_gui.gui.backends_model import Column

    window.show()
    until(loop, lambda: window.backends_model.rowCount() == n_backends, 240, f"{n_backends:,} rows listed")
    run(loop, window.poller.stop())  # each keystroke alone, no poll landing in between
    collector = MainThreadGarbageCollector()  # the app's own garbage collection policy, as run_app installs it
    try:
        cpu_rounds: list[list[float]] = []
        rounds, _shown = benchmark.pedantic(lambda: _keystrokes(window, n_backends, 3, cpu_rounds), rounds=1,
                                            iterations=1)
        # the same keystrokes with the table sorted by Status, as it stays for a person who sorted it once
        t = time.perf_counter()
        window.table.sortByColumn(Column.STATUS, Qt.SortOrder.AscendingOrder)
        QApplication.instance().processEvents()
        sort_s = time.perf_counter() - t
        sorted_rounds, _ = _keystrokes(window, n_backends, 3 if n_backends <= 5000 else 1)
        window.table.sortByColumn(Column.ID, Qt.SortOrder.AscendingOrder)
    finally:
        collector.stop()
    worst, median, worst_raw = _keystroke_figures(rounds)
    s_worst, s_median, _s_raw = _keystroke_figures(sorted_rounds)
    cpu_worst, cpu_median, _ = _keystroke_figures(cpu_rounds)
    met = worst <= 0.015 and s_worst <= 0.015
    figure = (f"worst keystroke {ms(worst)} (median {ms(median)}; worst single try {ms(worst_raw)}; thread CPU: "
              f"worst {ms(cpu_worst)}, median {ms(cpu_median)}), {len(KEYS)} keystrokes × 3; sorted by Status: "
              f"worst {ms(s_worst)} (median {ms(s_median)}), sorting itself {ms(sort_s)}")
    record(benchmark, "P7", "filter keystroke with 5,000 backends", "≤ 15 ms each (≤ 30 ms)", figure, met,
           n=n_backends, worst_ms=worst * 1000, median_ms=median * 1000, worst_raw_ms=worst_raw * 1000,
           sorted_worst_ms=s_worst * 1000, sorted_median_ms=s_median * 1000, sort_ms=sort_s * 1000,
           cpu_worst_ms=cpu_worst * 1000, cpu_median_ms=cpu_median * 1000,
           per_key_ms=[round(min(r[i] for r in rounds) * 1000, 2) for i in range(len(KEYS))])
    print(f"\nP7 @ {n_backends:,}: {figure}")
    if strict:
        assert met, figure


def test_p6_memory_with_5000_listed(server_url, tmp_path, benchmark, strict, n_backends):
    def measure() -> dict[str, float]:
        out = subprocess.run(
            [sys.executable, "-m", "tests.bench.app_probe", "rss", "--server", server_url, "--rows", str(n_backends)],
            cwd=ROOT, env=child_env(tmp_path), capture_output=True, text=True, timeout=300)
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        assert lines, out.stderr[-2000:]
        return json.loads(lines[-1])

    result = benchmark.pedantic(measure, rounds=1, iterations=1)
    assert result["rows"] == n_backends and result["polls"] >= 2
    rss = result["rss_mb"]
    met = rss <= 200
    figure = f"{rss:.0f} MB RSS after {result['polls']:.0f} polls"
    record(benchmark, "P6", "RSS with 5,000 backends listed", "≤ 200 MB", figure, met, n=n_backends, rss_mb=rss)
    print(f"\nP6 @ {n_backends:,}: {figure}")
    if strict:
        assert met, figure


class _Moments(QObject):
    """When each step of a first load happened (perf_counter), noted by the product's own signals and an event
    filter on the table's viewport alone."""

    def __init__(self, window: MainWindow, n: int) -> None:
        super().__init__()
        self.window, self.n = window, n
        self.at: dict[str, float] = {}
        self.reply: bytes | None = None
        service = window.hosts.first().service  # the RemoteService itself (window.service aggregates the connections)
        decoder = service._list_decoder  # type: ignore[attr-defined]  # RemoteService's, the product's path
        decode = decoder.decode

        async def timed_decode(content: bytes | str) -> object:
            self.at.setdefault("reply", time.perf_counter())
            self.reply = content if isinstance(content, bytes) else content.encode()
            out = await decode(content)
            self.at.setdefault("decoded", time.perf_counter())
            return out

        decoder.decode = timed_decode
        prepare = window.poller.prepare
        assert prepare is not None

        async def timed_prepare(snapshot: object) -> None:
            await prepare(snapshot)  # type: ignore[arg-type]
            self.at.setdefault("prepared", time.perf_counter())

        window.poller.prepare = timed_prepare
        # connected after the window's own slot: runs once apply() and the status line are done
        window.poller.snapshot_received.connect(lambda _s: self.at.setdefault("applied", time.perf_counter()))
        window.table.viewport().installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint and "painted" not in self.at and self.window.backends_model.rowCount() == self.n:
            self.at["painted"] = time.perf_counter()
        return False


def test_p8_first_load_5000(loop, qtbot, tmp_path, quick_server_url, benchmark, strict, n_backends):
    from backend_manager_gui.gui.app import MainThreadGarbageCollector

    collector = MainThreadGarbageCollector()
    loads: list[dict[str, float]] = []
    reply = b""

    def first_load() -> None:
        nonlocal reply
        win = MainWindow(RemoteService(quick_server_url, timeout=60.0), settings=temp_settings(tmp_path))
        qtbot.addWidget(win)
        moments = _Moments(win, n_backends)
        try:
            started = time.perf_counter()
            win.show()
            until(loop, lambda: "painted" in moments.at, 240, f"{n_backends:,} rows painted")
            assert win.proxy.rowCount() == n_backends
            loads.append({k: v - started for k, v in moments.at.items()})
            reply = moments.reply or b""
        finally:
            run(loop, win.shutdown(), 60)
            win.deleteLater()

    try:
        benchmark.pedantic(first_load, rounds=3, iterations=1)
    finally:
        collector.stop()
    loads_s, _ = best_of(lambda: json.loads(reply), 10 if n_backends <= 5000 else 3)
    best = min(loads, key=lambda m: m["painted"])
    ratio = best["painted"] / loads_s
    met = ratio <= 10
    steps = " → ".join(f"{k} {ms(best[k])}" for k in ("reply", "decoded", "prepared", "applied", "painted") if k in best)
    figure = (f"{ratio:.1f} × json.loads ({ms(best['painted'])} vs {ms(loads_s)}, best of 3 windows); "
              f"from show: {steps}; reply {len(reply) / 1e6:.1f} MB")
    record(benchmark, "P8", "first load: window shown to all 5,000 rows painted", "≤ 10 × json.loads", figure, met,
           n=n_backends, ratio=ratio, json_loads_ms=loads_s * 1000, loads=loads, reply_bytes=len(reply))
    print(f"\nP8 @ {n_backends:,}: {figure}")
    if strict:
        assert met, figure
