"""The embedded local manager: supervised GPU workers behind the same contract as a SwarmUI server."""

from __future__ import annotations

from ..service import GpuInfo, GpuReport, WorkerDetails
from .manager import LocalService

__all__ = ["GpuInfo", "GpuReport", "LocalService", "WorkerDetails"]
