"""The embedded manager: cold start (P3), 16 workers started at once (P4), idle supervision CPU (P5).

P3: cold start to the first painted window with the embedded manager holding 100 saved backends (disabled, so
    nothing spawns), against a bare PySide6 window shown and closed; both are fresh processes of this venv,
    alternated, several times. Goal ≤ 1.5 ×.
P4: 16 fake ComfyUI workers started at once (the manager starts with them saved enabled) until all are
    ``running``, against the slowest worker's own time from process start to listening. Goal ≤ 1.3 ×.
P5: CPU of the manager process supervising those 16 running workers, idle, over 10 s. Goal < 1% of a core.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from backend_manager_gui.core.local import LocalService
from tests.bench.conftest import record
from tests.bench.test_p2_p6_p7_window import ROOT, child_env

REPEATS = 5


def _prepare_100(data: Path) -> None:
    async def main() -> None:
        async with LocalService(data) as svc:
            for _ in range(100):
                b = await svc.add_backend("comfyui_selfstart")
                await svc.toggle_backend(b.id, False)

    asyncio.run(main())


def _cold_start(args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Seconds from starting the process to its window's first paint, and to its window being complete (the
    same for a bare window), on the system's monotonic clock, which the child and the parent share; and the
    CPU time the child had used by its first paint (interpreter start included)."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tests.bench.app_probe", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out, _ = proc.communicate(timeout=60)
    lines = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    painted = next((ln["painted_at"] for ln in lines if "painted_at" in ln), None)
    if painted is None:
        raise AssertionError(f"{args[0]} never painted (exit {proc.returncode}): {out[-2000:]}")
    complete = next((ln["complete_at"] for ln in lines if "complete_at" in ln), painted)
    cpu = next(ln["cpu_s"] for ln in lines if "painted_at" in ln)
    return painted - t, complete - t, cpu


def test_p3_cold_start_with_100_saved(tmp_path, benchmark, strict):
    data = tmp_path / "manager"
    _prepare_100(data)
    env = child_env(tmp_path)
    bare: list[float] = []
    app: list[float] = []
    app_complete: list[float] = []
    bare_cpu: list[float] = []
    app_cpu: list[float] = []
    _cold_start(["bare"], env)  # warm the file cache for both (compiled .pyc, Qt plugins)
    _cold_start(["app", "--data-dir", str(data)], env)

    def pair() -> None:
        painted, _, cpu = _cold_start(["bare"], env)
        bare.append(painted)
        bare_cpu.append(cpu)
        painted, complete, cpu = _cold_start(["app", "--data-dir", str(data)], env)
        app.append(painted)
        app_complete.append(complete)
        app_cpu.append(cpu)

    benchmark.pedantic(pair, rounds=REPEATS, iterations=1)
    median = statistics.median
    ratio = median(app) / median(bare)
    ratio_min = min(app) / min(bare)
    ratio_complete = median(app_complete) / median(bare)
    ratio_cpu = median(app_cpu) / median(bare_cpu)
    met = ratio <= 1.5
    figure = (f"{ratio:.2f} × (median {median(app):.3f} s vs {median(bare):.3f} s; best {ratio_min:.2f} ×; CPU "
              f"time to the paint {ratio_cpu:.2f} ×), {REPEATS} runs each; the whole window (toolbar, docks, "
              f"service open) {ratio_complete:.2f} × ({median(app_complete):.3f} s)")
    record(benchmark, "P3", "cold start to first paint, 100 saved backends", "≤ 1.5 × a bare PySide6 window", figure,
           met, app_s=app, bare_s=bare, app_complete_s=app_complete, ratio_median=ratio, ratio_min=ratio_min,
           ratio_complete=ratio_complete, app_cpu_s=app_cpu, bare_cpu_s=bare_cpu, ratio_cpu=ratio_cpu)
    print(f"\nP3: {figure}")
    if strict:
        assert met, figure


def test_p4_p5_sixteen_workers(tmp_path, benchmark, strict):
    def run_probe() -> dict[str, object]:
        out = subprocess.run(
            [sys.executable, "-m", "tests.bench.manager_probe", "--data-dir", str(tmp_path), "--workers", "16",
             "--start-delay", "2", "--idle-seconds", "10"],
            cwd=ROOT, env=child_env(tmp_path), capture_output=True, text=True, timeout=240)
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        assert lines, out.stderr[-3000:]
        return json.loads(lines[-1])

    result = benchmark.pedantic(run_probe, rounds=1, iterations=1)
    assert result["workers"] == 16 and result["running_after_idle"] == 16
    own = result["own_ready_s"]
    assert isinstance(own, list) and len(own) == 16
    all_running = float(result["all_running_s"])  # type: ignore[arg-type]
    ratio = all_running / max(own)
    met4 = ratio <= 1.3
    figure4 = f"{ratio:.2f} × ({all_running:.2f} s for all 16 vs {max(own):.2f} s for the slowest worker alone-in-run)"
    cpu = float(result["idle_cpu_s"]) / float(result["idle_wall_s"])  # type: ignore[arg-type]
    met5 = cpu < 0.01
    figure5 = f"{cpu * 100:.2f}% of one core over {float(result['idle_wall_s']):.0f} s"  # type: ignore[arg-type]
    record(benchmark, "P4", "16 fake workers started at once until all running", "≤ 1.3 × slowest worker's own ready time",
           figure4, met4, all_running_s=all_running, own_ready_s=own, ratio=ratio)
    from tests.bench.conftest import RESULTS, Result

    RESULTS["P5"] = Result("P5", "manager CPU, 16 running workers, idle", "< 1% of one core", figure5, met5)
    benchmark.extra_info["p5_cpu_fraction"] = cpu
    print(f"\nP4: {figure4}\nP5: {figure5}")
    if strict:
        assert met4 and met5, (figure4, figure5)
