"""Child process for P4 and P5: the embedded manager (LocalService, product timings) with 16 fake ComfyUI workers.

    python -m tests.bench.manager_probe --data-dir D --workers 16 --start-delay 2 --idle-seconds 10

P4: the manager starts with the 16 backends saved enabled (they all start at once); its time until all are ``running`` is compared with each
worker's own time from its process start to listening (the worker writes both moments itself: see
``timed_comfy.py``), so the ratio shows what the manager adds (spawning one by one, slow probes), not the
machine. P5: then nothing happens for ``--idle-seconds`` and the manager process's CPU time is read.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from pathlib import Path

import psutil

from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.local.store import BackendStore
from backend_manager_gui.core.models import BackendStatus

HERE = Path(__file__).resolve().parent


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--start-delay", type=float, default=2.0)
    ap.add_argument("--idle-seconds", type=float, default=10.0)
    args = ap.parse_args()
    folder = args.data_dir / "ComfyUI"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE.parent / "support" / "fake_comfy.py", folder / "fake_comfy.py")
    shutil.copy(HERE / "timed_comfy.py", folder / "main.py")
    settings = {"StartScript": str(folder / "main.py"), "Python": sys.executable,
                "ExtraArgs": f"--start-delay {args.start_delay}", "Port": 0}
    data = args.data_dir / "data"
    # set up: the backends saved disabled
    async with LocalService(data) as svc:
        for _ in range(args.workers):
            b = await svc.add_backend("comfyui_selfstart")
            await svc.toggle_backend(b.id, False)
            await svc.edit_backend(b.id, f"worker {b.id}", {**b.settings, **settings})
    store = BackendStore(data)
    records, _warnings = store.load()
    for r in records:
        r.enabled = True
    store.save(records)
    svc = LocalService(data)  # the product's own timings
    t0 = time.time()
    await svc.start()
    try:
        ids = sorted(await svc.list_backends())
        while True:
            snap = await svc.list_backends()
            if all(b.status is BackendStatus.RUNNING for b in snap.values()):
                break
            bad = [b for b in snap.values() if b.status is BackendStatus.ERRORED]
            if bad:
                raise SystemExit(f"a worker errored: {bad[0].status_message}")
            await asyncio.sleep(0.02)
        all_running = time.time() - t0
        own = []
        created_after: list[float] = []
        ready_after: list[float] = []
        for i in ids:
            text = svc.log_path(i).read_text("utf-8")
            line = next(ln for ln in text.splitlines() if "TIMED created=" in ln)
            fields = dict(part.split("=") for part in line.split("TIMED ", 1)[1].split())
            own.append(float(fields["ready"]) - float(fields["created"]))
            created_after.append(round(float(fields["created"]) - t0, 3))
            ready_after.append(round(float(fields["ready"]) - t0, 3))
        await asyncio.sleep(2.0)  # let the last status notes settle
        me = psutil.Process()
        before = me.cpu_times()
        w0 = time.perf_counter()
        await asyncio.sleep(args.idle_seconds)
        after = me.cpu_times()
        wall = time.perf_counter() - w0
        cpu = (after.user - before.user) + (after.system - before.system)
        still = sum(1 for b in (await svc.list_backends()).values() if b.status is BackendStatus.RUNNING)
        print(json.dumps({"all_running_s": all_running, "own_ready_s": own, "created_after_s": created_after,
                          "ready_after_s": ready_after, "idle_cpu_s": cpu, "idle_wall_s": wall,
                          "running_after_idle": still, "workers": len(ids)}), flush=True)
    finally:
        await svc.aclose()


if __name__ == "__main__":
    asyncio.run(main())
