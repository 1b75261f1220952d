"""Item 5's manager: a LocalService in its own process, with workers running, waiting to be SIGKILLed.

``python -m tests.reliability.manager_child DATA_DIR START_SCRIPT N``: the first run adds N comfyui_selfstart
backends (the fake ComfyUI worker; the first one also starts a grandchild), later runs on the same data folder
start the saved ones. Once all are running it prints one JSON line: the pids of the workers, their descendants
and the orphan watchdog, then waits to be killed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import psutil

from backend_manager_gui.core.local import LocalService
from tests.core.local.conftest import FAST, comfy_settings


async def main(data_dir: Path, script: Path, n: int) -> None:
    svc = LocalService(data_dir, **FAST)
    await svc.start()
    existing = await svc.list_backends()
    for i in range(len(existing), n):
        await svc.add_backend("comfyui_selfstart")
        await svc.edit_backend(i, f"worker {i}", comfy_settings(script, "--spawn-child" if i == 0 else ""))
    while True:
        backends = await svc.list_backends()
        if len(backends) == n and all(b.status.value == "running" for b in backends.values()):
            break
        await asyncio.sleep(0.05)
    workers = [svc.details(i).pid for i in range(n)]
    pids = set()
    for pid in workers:
        proc = psutil.Process(pid)
        pids.add(pid)
        pids.update(c.pid for c in proc.children(recursive=True))
    print(json.dumps({"workers": workers, "all": sorted(pids), "watchdog": svc._guard.watchdog_pid}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])))
