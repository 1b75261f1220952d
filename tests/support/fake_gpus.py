"""Simulated GPUs at the hardware boundary: a ``GpuSource`` the embedded manager reads instead of NVML.

The GPUs have names, memory, PCI bus ids and a speed rank. Which GPU a worker holds memory on is worked out the
way the CUDA runtime would: from the worker process's *real* environment (``CUDA_VISIBLE_DEVICES``, and
``CUDA_DEVICE_ORDER``: without ``PCI_BUS_ID`` CUDA numbers GPUs fastest first, while NVML — and so the manager's
indexes — go by PCI bus). So a test sees the same mix-up a user with two different cards would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import psutil

from backend_manager_gui.core.local.gpus import GpuInfo, GpuReport, pid_owners

GIB = 2**30


@dataclass(frozen=True)
class SimGpu:
    name: str
    memory_total: int
    pci_bus_id: str
    speed: int  # higher is faster: CUDA's default order puts it first
    base_used: int = 300 * 2**20  # the desktop, the driver
    uuid: str = ""


@dataclass
class SimulatedGpus:
    gpus: list[SimGpu]
    per_worker: int = 2 * GIB  # what each worker holds on each GPU it sees
    holds: dict[int, int] = field(default_factory=dict)  # backend id -> bytes instead of per_worker
    reads: int = 0

    def nvml_order(self) -> list[SimGpu]:
        return sorted(self.gpus, key=lambda g: g.pci_bus_id)

    def cuda_order(self, device_order: str | None) -> list[SimGpu]:
        if device_order == "PCI_BUS_ID":
            return self.nvml_order()
        return sorted(self.gpus, key=lambda g: (-g.speed, g.pci_bus_id))  # CUDA's FASTEST_FIRST

    def _seen_by(self, pid: int) -> list[SimGpu]:
        try:
            env = psutil.Process(pid).environ()
        except (psutil.Error, OSError):
            return []
        order = self.cuda_order(env.get("CUDA_DEVICE_ORDER"))
        visible = env.get("CUDA_VISIBLE_DEVICES")
        if visible is None:
            return order
        seen = []
        for part in visible.split(","):
            part = part.strip()
            if part.isdigit() and int(part) < len(order):
                seen.append(order[int(part)])
            elif part.startswith("GPU-"):
                seen.extend(g for g in self.gpus if g.uuid == part)
            else:
                break  # CUDA stops at the first entry it cannot read
        return seen

    def read(self, root_pids: Mapping[int, int]) -> GpuReport:
        self.reads += 1
        owners = pid_owners(root_pids)
        held: dict[str, dict[int, int]] = {g.pci_bus_id: {} for g in self.gpus}
        for pid, backend_id in owners.items():
            if pid not in root_pids.values():
                continue  # the worker itself holds the memory here, not its helpers
            for gpu in self._seen_by(pid):
                held[gpu.pci_bus_id][backend_id] = self.holds.get(backend_id, self.per_worker)
        infos = []
        for index, gpu in enumerate(self.nvml_order()):
            procs = held[gpu.pci_bus_id]
            infos.append(GpuInfo(index, gpu.name, gpu.base_used + sum(procs.values()), gpu.memory_total, 5 if procs else 0,
                                 dict(procs), uuid=gpu.uuid or f"GPU-sim-{index:04d}", pci_bus_id=gpu.pci_bus_id))
        return GpuReport(tuple(infos))


def mixed_box() -> SimulatedGpus:
    """A workstation with a slow card on the first PCI slot and a fast one on the second (the classic mix-up)."""
    return SimulatedGpus([
        SimGpu("NVIDIA GeForce RTX 3060", 12 * GIB, "00000000:01:00.0", speed=1, uuid="GPU-3060-aaaa"),
        SimGpu("NVIDIA GeForce RTX 4090", 24 * GIB, "00000000:02:00.0", speed=3, uuid="GPU-4090-bbbb"),
    ])


def four_gpus() -> SimulatedGpus:
    return SimulatedGpus([
        SimGpu("NVIDIA RTX A4000", 16 * GIB, "00000000:01:00.0", speed=2, uuid="GPU-a4000-0001"),
        SimGpu("NVIDIA GeForce RTX 4090", 24 * GIB, "00000000:21:00.0", speed=4, uuid="GPU-4090-0002"),
        SimGpu("NVIDIA GeForce RTX 3090", 24 * GIB, "00000000:41:00.0", speed=3, uuid="GPU-3090-0003"),
        SimGpu("NVIDIA T400", 2 * GIB, "00000000:61:00.0", speed=1, uuid="GPU-t400-0004"),
    ])
