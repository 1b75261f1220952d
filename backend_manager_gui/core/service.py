"""The one contract every service implements (the 8 operations of SwarmUI's backend API), and the
capabilities a service may offer beyond it.

``BackendService`` is what every service is. What some services can do besides is declared here too, each as
a runtime-checkable Protocol (``WorkerHost``, ``ChangeFeed``, ``HasWarnings``) with the value types it returns;
a service offers one by having its methods, and the GUI asks ``isinstance(service, WorkerHost)`` in one place
(``gui/tasks.py``), never ``hasattr``. A new kind of service (one window over many machines, say) declares
what it offers the same way: implement the Protocol's methods, or add a new Protocol here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from .models import Backend, BackendLog, BackendType

BackendSelector = int | Literal["all"]


@runtime_checkable
class BackendService(Protocol):
    """What the GUI (and ``serve``) talk to. Every method raises only ``BackendApiError`` (refused)
    or ``ServiceUnavailable`` (transport failure)."""

    @property
    def location(self) -> str:
        """Where this service is, in words for a status bar ("this computer", "http://host:7801")."""
        ...

    async def list_backend_types(self) -> list[BackendType]: ...

    async def list_backends(self, *, nonreal: bool = False, full_data: bool = False) -> dict[int, Backend]: ...

    async def add_backend(self, type_id: str) -> Backend: ...

    async def edit_backend(
        self, backend_id: int, title: str, settings: dict[str, object], new_id: int | None = None
    ) -> Backend: ...

    async def delete_backend(self, backend_id: int) -> bool: ...

    async def toggle_backend(self, backend_id: int, enabled: bool) -> bool: ...

    async def restart_backends(self, backend: BackendSelector = "all") -> int: ...

    async def free_memory(self, *, system_ram: bool = False, backend: BackendSelector = "all") -> int: ...

    async def backend_log(self, backend_id: int, after: int = 0) -> BackendLog:
        """The backend's log lines numbered above ``after``, oldest first; follow a log by passing the result's
        ``last_sequence`` back as ``after``. No log (no permission, not self-started, process gone) is not an
        error: ``available`` is False and ``reason`` says why. An unknown id is ``BackendApiError`` where the
        service can tell (a SwarmUI server cannot: it answers ``available=False``). A server is asked once per call
        (one ``ListRecentLogMessages``; its list of logs is asked for again only while the backend has none)."""
        ...

    async def aclose(self) -> None: ...


# ---- capabilities beyond the contract ----------------------------------------------------------------


@dataclass(frozen=True)
class WorkerDetails:
    """What the GUI shows about one backend's worker beside the wire fields."""

    backend_id: int
    pid: int | None
    port: int | None
    gpu_ids: str
    uptime_s: float | None
    restart_count: int
    crash_count_recent: int
    log_path: Path
    last_exit_code: int | None


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    memory_used: int  # bytes
    memory_total: int  # bytes
    utilization: int | None  # percent; None when the GPU does not report it
    processes: dict[int, int] = field(default_factory=dict)  # backend id -> bytes used on this GPU
    uuid: str = ""  # "GPU-8f3c…": stays the same whatever the numbering
    pci_bus_id: str = ""  # "00000000:01:00.0"

    @property
    def label(self) -> str:
        """"1: NVIDIA RTX 3090 (24 GiB)" — how a person recognises the card."""
        return f"{self.index}: {self.name} ({self.memory_total / 2**30:.0f} GiB)"


@dataclass(frozen=True)
class GpuReport:
    gpus: tuple[GpuInfo, ...] = ()
    reason: str | None = None  # why the list is empty (or partial), in words


@runtime_checkable
class WorkerHost(Protocol):
    """Capability: the service runs its workers on this computer, and can say about each worker and the
    machine what a SwarmUI server's API cannot: the worker's process and port, its log file (a path on this
    computer), and the machine's GPUs. ``LocalService`` offers it; a ``RemoteService`` does not. An
    aggregate of many connections offers it only if every part does."""

    def details(self, backend_id: int) -> WorkerDetails:
        """In memory, no I/O; raises ``BackendApiError`` for an unknown id."""
        ...

    def log_path(self, backend_id: int) -> Path: ...

    def log_tail(self, backend_id: int, lines: int = 2000) -> list[str]: ...

    async def gpus(self) -> GpuReport: ...


@runtime_checkable
class ChangeFeed(Protocol):
    """Capability: the service tells of each backend's status change as it happens (no poll needed), so a
    crash is news even while the window is minimized and polling is paused."""

    def add_listener(self, callback: Callable[[Backend], None]) -> Callable[[], None]:
        """Call ``callback`` on the loop at each change; returns the function that unsubscribes."""
        ...


@runtime_checkable
class HasWarnings(Protocol):
    """Capability: the service has notes for the person from its start (a backend of an unknown type left
    out, secrets kept in a file for want of a keyring)."""

    @property
    def warnings(self) -> Sequence[str]: ...
