"""GPUs simulated at the hardware boundary (tests/support/fake_gpus.py), real worker processes.

A worker's VRAM shows on the GPU its GPU_ID names *as the GPU dock numbers them* (NVML, PCI order), even on a box
whose fast card is not on the first slot: the manager sets CUDA_DEVICE_ORDER=PCI_BUS_ID (issue 14.1).
"""

from __future__ import annotations

from pathlib import Path

from backend_manager_gui.core.local import LocalService
from tests.core.local.conftest import FAST, comfy_settings, wait_status
from tests.support.fake_gpus import GIB, four_gpus, mixed_box


async def _running(svc: LocalService, main: Path, gpu_id: str, **more: object) -> int:
    b = await svc.add_backend("comfyui_selfstart")
    await svc.edit_backend(b.id, f"GPU {gpu_id}", comfy_settings(main, GPU_ID=gpu_id, **more))
    await wait_status(svc, b.id, "running")
    return b.id


async def test_vram_lands_on_the_gpu_the_dock_calls_by_that_number(data_dir: Path, comfy_main: Path):
    gpus = mixed_box()  # slot 1: RTX 3060 (slow), slot 2: RTX 4090 (fast) - CUDA alone would swap them
    async with LocalService(data_dir, gpu_source=gpus, **FAST) as svc:
        on_4090 = await _running(svc, comfy_main, "1")
        on_3060 = await _running(svc, comfy_main, "0")
        report = await svc.gpus()
        by_index = {g.index: g for g in report.gpus}
        assert by_index[1].name == "NVIDIA GeForce RTX 4090"
        assert by_index[1].processes == {on_4090: 2 * GIB}
        assert by_index[0].processes == {on_3060: 2 * GIB}


async def test_four_gpus_each_worker_on_its_own(data_dir: Path, comfy_main: Path):
    gpus = four_gpus()
    async with LocalService(data_dir, gpu_source=gpus, **FAST) as svc:
        ids = [await _running(svc, comfy_main, str(i)) for i in range(4)]
        report = await wait_for_report(svc, lambda r: all(g.processes for g in r.gpus))
        assert [list(g.processes) for g in report.gpus] == [[i] for i in ids]
        assert [g.name for g in report.gpus] == ["NVIDIA RTX A4000", "NVIDIA GeForce RTX 4090",
                                                  "NVIDIA GeForce RTX 3090", "NVIDIA T400"]


async def test_a_device_order_the_person_set_in_environment_is_kept(data_dir: Path, comfy_main: Path):
    """Environment=CUDA_DEVICE_ORDER=FASTEST_FIRST is the person's word: CUDA then counts the fast card first, and
    GPU_ID=1 is the slow card on the first slot (the dock's GPU 0)."""
    gpus = mixed_box()
    async with LocalService(data_dir, gpu_source=gpus, **FAST) as svc:
        worker = await _running(svc, comfy_main, "1", Environment="CUDA_DEVICE_ORDER=FASTEST_FIRST")
        report = await svc.gpus()
        assert [(g.name, g.processes) for g in report.gpus] == [
            ("NVIDIA GeForce RTX 3060", {worker: 2 * GIB}), ("NVIDIA GeForce RTX 4090", {})]


async def wait_for_report(svc: LocalService, check, tries: int = 50):
    import asyncio

    report = await svc.gpus()
    for _ in range(tries):
        if check(report):
            return report
        await asyncio.sleep(0.1)
        report = await svc.gpus()
    return report

