"""Shared pieces of the benchmarks: a realistic 5,000-backend server reply, timing helpers."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

from tests.support.fake_swarm import FakeSwarm

N_BACKENDS = 5000
STATUSES = ("running", "running", "running", "idle", "loading", "waiting", "errored", "disabled")
MODELS = ("sdxl_base_1.0.safetensors", "flux1-dev.safetensors", "sd15.ckpt", None)


def populate(fake: FakeSwarm, n: int = N_BACKENDS, seed: int = 7) -> FakeSwarm:
    """``n`` backends of the real SwarmUI types, with varied titles, statuses, GPUs and models."""
    rnd = random.Random(seed)
    for i in range(n):
        selfstart = i % 3 == 0
        status = rnd.choice(STATUSES)
        fake.add(
            "comfyui_selfstart" if selfstart else "comfyui_api",
            status=status,
            enabled=status != "disabled",
            title="" if i % 10 == 0 else f"{rnd.choice(['render', 'upscale', 'video', 'gpu'])} node {i}",
            settings={"GPU_ID": str(i % 8)} if selfstart else {"Address": f"http://10.0.{i // 250}.{i % 250}:8188"},
            current_model=rnd.choice(MODELS),
        )
    return fake


def wire_reply(fake: FakeSwarm) -> dict[str, Any]:
    return {str(b): fake.backend_to_net(b, True) for b in sorted(fake.backends)}


def change_some(reply: dict[str, Any], fraction: float = 0.01, seed: int = 1) -> dict[str, Any]:
    """A copy of ``reply`` where ``fraction`` of the backends changed status (and modcount, as SwarmUI bumps it)."""
    rnd = random.Random(seed)
    out = json.loads(json.dumps(reply))
    keys = rnd.sample(sorted(out), max(1, int(len(out) * fraction)))
    for k in keys:
        b = out[k]
        b["status"] = "errored" if b["status"] != "errored" else "running"
        b["modcount"] += 1
    return out


def best_of(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    """(min, median) seconds of ``rounds`` calls."""
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[0], times[len(times) // 2]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
