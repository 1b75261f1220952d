"""The GPUs of this computer: what each one holds and which worker uses how much.

Discovery sits behind one small interface, ``GpuSource`` (one blocking ``read``); ``NvmlSource`` is the real one
(NVIDIA GPUs through NVML), and tests hand the manager a source of their own with 2-4 GPUs of different names,
memory and PCI order (``tests/support/fake_gpus.py``). Where there is no driver (or no NVIDIA GPU) the report is
empty with a reason in words. Reads can block for a while, so ``gpu_report`` runs them in a worker thread, and any
NVML error only degrades the report.

Indexes are NVML's, which are in PCI bus order; CUDA numbers the same GPUs in that order only when
``CUDA_DEVICE_ORDER=PCI_BUS_ID`` (the manager sets it for every worker).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..lazy import lazy_module
from ..service import GpuInfo, GpuReport

if TYPE_CHECKING:
    import psutil
else:  # only asked for when the GPU report is read
    psutil = lazy_module("psutil")


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def pid_owners(root_pids: Mapping[int, int]) -> dict[int, int]:
    """pid -> backend id for every process in each worker's tree."""
    owners: dict[int, int] = {}
    for backend_id, pid in root_pids.items():
        try:
            root = psutil.Process(pid)
            owners[pid] = backend_id
            for child in root.children(recursive=True):
                owners[child.pid] = backend_id
        except (psutil.Error, OSError):
            continue
    return owners


@runtime_checkable
class GpuSource(Protocol):
    """Where the GPU report comes from: a blocking read, called in a worker thread."""

    def read(self, root_pids: Mapping[int, int]) -> GpuReport:
        """``root_pids`` maps backend id -> the worker's pid; the report says which of them holds memory where."""
        ...


class NvmlSource:
    """The real GPUs, through NVML (nvidia-ml-py)."""

    def read(self, root_pids: Mapping[int, int]) -> GpuReport:
        return read_gpus(root_pids)


def read_gpus(root_pids: Mapping[int, int]) -> GpuReport:
    """Blocking NVML read; ``root_pids`` maps backend id -> the worker's pid."""
    try:
        import pynvml
    except ImportError:
        return GpuReport((), "No NVIDIA GPU support installed (nvidia-ml-py is missing)")
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return GpuReport((), f"No NVIDIA GPU detected (NVML: {_text(exc) or type(exc).__name__})")
    try:
        owners = pid_owners(root_pids)
        gpus: list[GpuInfo] = []
        problems: list[str] = []
        count = pynvml.nvmlDeviceGetCount()
        for index in range(count):
            try:
                handle = pynvml.nvmlDeviceGetHandleByIndex(index)
                name = _text(pynvml.nvmlDeviceGetName(handle))
                mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
                try:
                    util: int | None = int(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                except Exception:
                    util = None
                procs: dict[int, int] = {}
                for getter in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
                    try:
                        running = getattr(pynvml, getter)(handle)
                    except Exception:
                        continue
                    for proc in running:
                        backend_id = owners.get(int(proc.pid))
                        used = getattr(proc, "usedGpuMemory", None)
                        if backend_id is not None and isinstance(used, int):
                            procs[backend_id] = procs.get(backend_id, 0) + used
                gpus.append(GpuInfo(index, name, int(mem.used), int(mem.total), util, procs,
                                    uuid=_optional_text(pynvml, "nvmlDeviceGetUUID", handle),
                                    pci_bus_id=_pci_bus_id(pynvml, handle)))
            except Exception as exc:
                problems.append(f"GPU {index}: {_text(exc)}")
        if not gpus:
            reason = "No NVIDIA GPU detected" + (f" ({'; '.join(problems)})" if problems else "")
            return GpuReport((), reason)
        return GpuReport(tuple(gpus), "; ".join(problems) or None)
    except Exception as exc:
        return GpuReport((), f"Cannot read the GPUs (NVML: {_text(exc) or type(exc).__name__})")
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass


def _optional_text(pynvml: object, getter: str, handle: object) -> str:
    try:
        return _text(getattr(pynvml, getter)(handle))
    except Exception:
        return ""


def _pci_bus_id(pynvml: object, handle: object) -> str:
    try:
        return _text(pynvml.nvmlDeviceGetPciInfo(handle).busId)  # type: ignore[attr-defined]
    except Exception:
        return ""


async def gpu_report(root_pids: Mapping[int, int], source: GpuSource | None = None) -> GpuReport:
    return await asyncio.to_thread((source or NvmlSource()).read, dict(root_pids))
