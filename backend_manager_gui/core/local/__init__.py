"""The embedded local manager: supervised GPU workers behind the same contract as a SwarmUI server."""

from __future__ import annotations

from .gpus import GpuInfo, GpuReport
from .manager import LocalService, WorkerDetails

__all__ = ["GpuInfo", "GpuReport", "LocalService", "WorkerDetails"]
