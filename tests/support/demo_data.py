"""A data folder for screenshots: three fake ComfyUI workers on this computer in mixed states.

    python -m tests.support.demo_data DIR      # then: backend-manager-gui --data-dir DIR

One starts at once and keeps a queue, one takes long to load, one runs out of (pretend) GPU memory and crashes.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

from backend_manager_gui.core.local import LocalService

FAKE_COMFY = Path(__file__).resolve().parent / "fake_comfy.py"

OOM = ("import sys, time; print('Loading model sdxl_base_1.0.safetensors', flush=True); time.sleep(0.5); "
       "print('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB', file=sys.stderr, flush=True); "
       "sys.exit(3)")


async def make(folder: Path) -> None:
    comfy = folder / "ComfyUI"
    comfy.mkdir(parents=True, exist_ok=True)
    shutil.copy(FAKE_COMFY, comfy / "main.py")
    base = {"StartScript": str(comfy / "main.py"), "Python": sys.executable}
    async with LocalService(folder / "data") as svc:
        for title, settings in (
            ("RTX 4090 — SDXL", {**base, "GPU_ID": "0", "ExtraArgs": "--queue-running 1 --queue-pending 2"}),
            ("RTX 3090 — Flux (loading)", {**base, "GPU_ID": "1", "ExtraArgs": "--start-delay 600"}),
        ):
            b = await svc.add_backend("comfyui_selfstart")
            await svc.edit_backend(b.id, title, settings)
        b = await svc.add_backend("command")
        await svc.edit_backend(b.id, "Spare GPU 2 worker", {"Command": f'"{sys.executable}" -c "{OOM}"', "GPU_ID": "2"})


if __name__ == "__main__":
    asyncio.run(make(Path(sys.argv[1])))
    print(f"{sys.argv[1]}/data")
