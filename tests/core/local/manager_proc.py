"""Runs a LocalService in its own process for the no-orphans test: starts two workers (each with a
grandchild), prints their pids as one JSON line, then waits to be killed.

Usage: python manager_proc.py DATA_DIR COMFY_MAIN [MODE]
MODE: "normal"; "frozen" (as in a PyInstaller bundle: the watchdog is forked, not a new Python);
"pdeathsig-only" (no watchdog: only the Linux parent-death signal guards the workers); "watchdog-only" (no
parent-death signal: only the watchdog guards them, as on macOS, where there is no such signal).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from backend_manager_gui.core.local import LocalService
from backend_manager_gui.core.local.process import OrphanGuard


async def main(data_dir: Path, comfy_main: Path) -> None:
    svc = LocalService(data_dir, probe_interval=0.1, alive_ready_s=0.5)
    await svc.start()
    await svc.add_backend("comfyui_selfstart")
    await svc.edit_backend(0, "", {"StartScript": str(comfy_main), "Python": sys.executable,
                                   "ExtraArgs": "--spawn-child"})
    await svc.add_backend("command")
    await svc.edit_backend(1, "", {"Command": f'"{sys.executable}" "{comfy_main}" --port {{port}} --spawn-child',
                                   "HealthURL": "http://127.0.0.1:{port}/object_info"})
    while True:
        backends = await svc.list_backends()
        children = [int(line.split("=")[1]) for i in (0, 1) for line in svc.log_tail(i) if line.startswith("CHILD_PID=")]
        if all(b.status.value == "running" for b in backends.values()) and len(children) == 2:
            break
        await asyncio.sleep(0.05)
    pids = [svc.details(i).pid for i in (0, 1)]
    print(json.dumps({"workers": pids, "grandchildren": children, "watchdog": svc._guard.watchdog_pid}), flush=True)
    await asyncio.Event().wait()


async def _no_watchdog(self: OrphanGuard) -> None:
    return None


if __name__ == "__main__":
    mode = sys.argv[3] if len(sys.argv) > 3 else "normal"
    if mode == "frozen":
        sys.frozen = True  # type: ignore[attr-defined]
    elif mode == "pdeathsig-only":
        OrphanGuard.start = _no_watchdog  # type: ignore[method-assign]
    elif mode == "watchdog-only":
        with_pdeathsig = OrphanGuard.popen_kwargs

        def _without_pdeathsig(self: OrphanGuard) -> dict:
            kwargs = with_pdeathsig(self)
            kwargs.pop("preexec_fn", None)
            return kwargs

        OrphanGuard.popen_kwargs = _without_pdeathsig  # type: ignore[method-assign]
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
