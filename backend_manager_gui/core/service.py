"""The one contract both services implement: the 8 operations of SwarmUI's backend API."""

from __future__ import annotations

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
