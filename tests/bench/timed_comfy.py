"""The fake ComfyUI worker (tests/support/fake_comfy.py, copied beside this file) that also writes, once it
listens, when its own process started and when it became ready: ``TIMED created=<epoch> ready=<epoch>``.

The start moment is the kernel's (``/proc/self/stat``, 10 ms steps), so interpreter start-up counts as the
worker's own time, as it does for a real ComfyUI. Linux only (the benchmarks run there).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fake_comfy  # noqa: E402


def _created() -> float:
    with open("/proc/self/stat", encoding="ascii") as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime", encoding="ascii") as f:
        uptime = float(f.read().split()[0])
    now = time.time()
    return now - (uptime - start_ticks / os.sysconf("SC_CLK_TCK"))


class _TimedServer(fake_comfy.ThreadingHTTPServer):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # bound and listening from here on
        print(f"TIMED created={_created():.3f} ready={time.time():.3f}", flush=True)


fake_comfy.ThreadingHTTPServer = _TimedServer  # type: ignore[misc]

if __name__ == "__main__":
    sys.exit(fake_comfy.main())
