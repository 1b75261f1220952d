"""Item 4: the manager killed mid-write.

A writer process applies random edits to ``backends.json`` through the product's ``BackendStore`` and is
SIGKILLed at a random moment, 200 times (1,000 with --long). After every kill the file must parse as the
product reads it (no "moved aside as corrupt"), and hold exactly the state before the last change or after it:
never a partial write, never a lost backend; the next start removes the temp file a killed save left.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend_manager_gui.core.local.store import BackendStore

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(os.name == "nt", reason="the writer forks a child per write to kill it mid-write: POSIX only")
def test_store_survives_sigkill_mid_write(tmp_path: Path, long_run: bool, figures) -> None:
    kills = 1000 if long_run else 200
    data_dir = tmp_path / "data"
    rng = random.Random(20261128)
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.store_writer", str(data_dir)], cwd=ROOT,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
    )
    assert writer.stdin is not None and writer.stdout is not None
    on_disk: list[dict] = []  # the committed state, as the test knows it
    mid_write = 0
    stale_found = 0
    edits = 0
    try:
        for n in range(kills):
            writer.stdin.write(f"go {rng.getrandbits(32)}\n")
            writer.stdin.flush()
            first = writer.stdout.readline()
            assert first.startswith("pid "), first
            pid = int(first.split()[1])
            time.sleep(rng.uniform(0.0, 0.03))
            os.kill(pid, signal.SIGKILL)
            before, pending = on_disk, None
            while (line := writer.stdout.readline()) != "reaped\n":
                assert line, "the writer parent died"
                if line.endswith("reaped\n"):
                    break  # killed while printing a line: that edit never reached save()
                kind, _, rest = line.rstrip("\n").partition(" ")
                assert kind != "warn", f"kill {n}: the store found a corrupt file: {rest}"
                if kind == "begin":
                    pending = json.loads(rest.partition(" ")[2])
                elif kind == "done":
                    before, pending = pending, None
                    edits += 1
            path = data_dir / "backends.json"
            if not path.exists():
                assert before == [] and n < 5, f"kill {n}: backends.json vanished"
                continue
            text = path.read_text("utf-8")
            saved = json.loads(text)["backends"]  # always parses
            stale = [p for p in data_dir.iterdir() if p.name != "backends.json"]
            records, warnings = BackendStore(data_dir).load()  # what the next start of the manager does
            assert warnings == [], f"kill {n}: {warnings}"
            if stale:
                stale_found += len(stale)
                left = sorted(p.name for p in data_dir.iterdir() if p.name != "backends.json")
                assert left == [], f"kill {n}: the next start left the killed save's temp files: {left}"
            assert [r.to_json() for r in records] == saved
            if saved == pending:
                mid_write += 1
                on_disk = pending
            else:
                assert saved == before, f"kill {n}: the file holds neither the state before nor after the last change"
                on_disk = before
    finally:
        writer.stdin.close()
        writer.wait(timeout=10)
    leftovers = sorted(p.name for p in data_dir.iterdir() if p.name != "backends.json")
    figures["kills"] = kills
    figures["edits_committed"] = edits
    figures["kills_that_landed_mid_save_and_kept_new_state"] = mid_write
    figures["backends_at_end"] = len(on_disk)
    figures["temp_files_of_killed_saves_removed_at_next_start"] = stale_found
    figures["files_left_besides_backends_json"] = len(leftovers)
    assert leftovers == [], f"left in the data folder after {kills} kills: {leftovers[:5]}"
