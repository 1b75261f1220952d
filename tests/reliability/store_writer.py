"""Item 4's writer: applies random edits to ``<data dir>/backends.json`` through the product's BackendStore.

Run as ``python -m tests.reliability.store_writer DATA_DIR``. It imports the product once and then, for every
``go SEED`` line on stdin, forks a writer child (a real process the test SIGKILLs at a random moment; forking
keeps each of the hundreds of kills cheap). The child prints ``pid N``, then for each edit ``begin K JSON`` (the
state it is about to save) and ``done K`` once ``save()`` returned. When the child is gone the parent prints
``reaped``.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

from backend_manager_gui.core.local.store import BackendRecord, BackendStore

TEXTS = ["", "GPU 0", "ünïcødé ✓", "a\nb\tc", '{"json": "inside"}', "x" * 5000, "\u202eevil", "'quotes\""]


def _edit(rng: random.Random, records: list[BackendRecord], next_id: list[int]) -> None:
    op = rng.random()
    if op < 0.35 or not records:
        bid = next_id[0]
        next_id[0] += 1
        records.append(BackendRecord(id=bid, uid=f"{rng.getrandbits(64):016x}", type=rng.choice(["command", "comfyui_api"]),
                                     title=rng.choice(TEXTS), settings={"Command": rng.choice(TEXTS), "Port": rng.randint(0, 65535)}))
    elif op < 0.55:
        records.pop(rng.randrange(len(records)))
    else:
        rec = rng.choice(records)
        rec.title = rng.choice(TEXTS)
        rec.enabled = not rec.enabled
        rec.modcount += 1
        rec.settings = {f"S{n}": rng.choice(TEXTS) for n in range(rng.randint(0, 30))}


def child(data_dir: Path, seed: int) -> None:
    rng = random.Random(seed)
    store = BackendStore(data_dir)
    records, warnings = store.load()
    if warnings:
        print("warn " + json.dumps(warnings), flush=True)
    next_id = [max((r.id for r in records), default=-1) + 1]
    k = 0
    while True:
        k += 1
        _edit(rng, records, next_id)
        state = [r.to_json() for r in sorted(records, key=lambda r: r.id)]
        print(f"begin {k} {json.dumps(state)}", flush=True)
        store.save(records)
        print(f"done {k}", flush=True)


def main() -> int:
    data_dir = Path(sys.argv[1])
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd != "go":
            break
        pid = os.fork()
        if pid == 0:
            try:
                print(f"pid {os.getpid()}", flush=True)
                child(data_dir, int(arg))
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        print("reaped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
