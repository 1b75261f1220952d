"""Two fake SwarmUI servers for the "Several machines" screenshot; the second one stops after a while, so the
window shows it unreachable, its rows greyed.

    python -m tests.support.demo_servers [PORT_A PORT_B STOP_AFTER_S]   # defaults 7811 7812 6
    backend-manager-gui --data-dir DIR --server http://127.0.0.1:7811 --server http://127.0.0.1:7812
"""

from __future__ import annotations

import asyncio
import sys

from tests.support.fake_swarm import FakeSwarm


async def main(port_a: int, port_b: int, stop_after: float) -> None:
    a = FakeSwarm(port=port_a)
    a.add("comfyui_selfstart", status="running", title="RTX 4090 #0", settings={"GPU_ID": "0"},
          current_model="sd_xl_base_1.0.safetensors")
    a.add("comfyui_selfstart", status="running", title="RTX 4090 #1", settings={"GPU_ID": "1"},
          current_model="flux1-dev.safetensors")
    a.add("comfyui_api", status="idle", title="Render farm")
    b = FakeSwarm(port=port_b)
    b.add("comfyui_selfstart", status="running", title="A100 #0", settings={"GPU_ID": "0"})
    b.add("comfyui_selfstart", status="loading", title="A100 #1", settings={"GPU_ID": "1"})
    await a.start()
    await b.start()
    print(f"servers on {a.url} and {b.url}; the second stops in {stop_after} s", flush=True)
    await asyncio.sleep(stop_after)
    await b.stop()
    print(f"{b.url} stopped", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    args = [float(x) for x in sys.argv[1:4]]
    port_a, port_b, stop = (int(args[0]), int(args[1]), args[2]) if len(args) == 3 else (7811, 7812, 6.0)
    asyncio.run(main(port_a, port_b, stop))
