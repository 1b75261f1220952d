"""The embedded manager's GPU and Port cells: the worker details it keeps in memory (no I/O) and the GPUs' names
from the last GPU report, so the GPU column reads "1: RTX 4090" even while the GPUs dock is closed."""

from __future__ import annotations

import logging

from ..core.aggregate import KeyedWorkerHost
from ..core.errors import BackendServiceError
from ..core.fleet import gpu_text
from ..core.models import Backend
from ..core.service import BackendService, GpuReport
from .backends_model import BackendsModel
from .tasks import worker_host

log = logging.getLogger(__name__)


class LocalColumns:
    def __init__(self, model: BackendsModel) -> None:
        self._model = model
        self._service: BackendService | None = None
        # which connection runs workers here (its number; False: none), as last attached
        self._here: int | bool = False
        #: GPU index -> name, from the last GPU report
        self.gpu_names: dict[int, str] = {}

    def attach(self, service: BackendService) -> None:
        """A new service, or a connection added or closed: the rows get the cells only when it runs workers here.
        Nothing is worked out again when that did not change (every row would be, 40 ms at 5,000)."""
        host = worker_host(service)
        here = host.connection.host if isinstance(host, KeyedWorkerHost) else host is not None
        if service is self._service and here == self._here:
            return
        self._service, self._here = service, here
        self.gpu_names = {}
        self._model.set_details_provider(self._cells if host is not None else None)

    def _cells(self, backend: Backend) -> tuple[str, str]:
        host = worker_host(self._service) if self._service is not None else None
        try:
            details = host.details(backend.id) if host is not None else None
        except BackendServiceError:
            details = None
        port = str(details.port) if details is not None and details.port else ""
        return gpu_text(backend.settings, self.gpu_names), port

    def on_gpu_report(self, report: GpuReport) -> None:
        """A GPU report (the dock's, or the one read at start): the GPU column names the GPUs it knows."""
        names = {g.index: g.name for g in report.gpus}
        if names != self.gpu_names and self._service is not None and worker_host(self._service) is not None:
            self.gpu_names = names
            self._model.set_details_provider(self._cells)

    async def read_gpu_names(self) -> None:
        service = self._service
        host = worker_host(service) if service is not None else None
        if host is None:
            return
        try:
            report = await host.gpus()
        except BackendServiceError as exc:
            log.info("GPU names not read: %s", exc)
            return
        if service is self._service:
            self.on_gpu_report(report)
