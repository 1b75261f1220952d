"""The GPUs dock: each NVIDIA GPU's memory and load, and which backends use it (this computer's manager).

Refreshes every few seconds while visible, one request at a time. A remote server does not report its GPUs
through the backend API, so for one the dock says so instead of showing nothing.
"""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QGridLayout,
    QLabel,
    QProgressBar,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ..core.aggregate import KeyedWorkerHost
from ..core.errors import BackendServiceError
from ..core.fleet import gpu_ids
from ..core.models import Backend
from ..core.rowkeys import backend_number
from ..core.service import BackendService, GpuInfo, GpuReport
from .tasks import describe_error, spawn, worker_host

log = logging.getLogger(__name__)

REFRESH_MS = 3000
GIB = 1024**3
NO_GPU = "No NVIDIA GPU detected"
REMOTE_TEXT = "GPU details are available for this computer's manager only"


def gib(n: int) -> str:
    return f"{n / GIB:.1f}"


def users_of(index: int, processes: dict[int, int], backends: dict[int, Backend]) -> list[str]:
    """Who uses GPU ``index``: measured users (with memory) first, then backends set to it that hold nothing."""
    out = []
    for backend_id, used in sorted(processes.items(), key=lambda kv: -kv[1]):
        b = backends.get(backend_id)
        name = f"#{backend_number(backend_id)} {b.title}".strip() if b is not None else f"#{backend_number(backend_id)}"
        out.append(f"{name} ({gib(used)} GiB)")
    for backend_id, b in sorted(backends.items()):
        if backend_id not in processes and index in gpu_ids(b.settings):
            out.append(f"#{backend_number(backend_id)} {b.title}".strip() + f" (set to this GPU, {b.status.value})")
    return out


class _GpuRow(QFrame):
    def __init__(self) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 4, 6, 4)
        self.name_label = QLabel()
        self.name_label.setTextFormat(Qt.TextFormat.PlainText)
        font = self.name_label.font()
        font.setBold(True)
        self.name_label.setFont(font)
        self.memory_bar = QProgressBar()
        self.memory_bar.setRange(0, 1000)
        self.util_label = QLabel()
        self.users_label = QLabel()
        self.users_label.setTextFormat(Qt.TextFormat.PlainText)
        self.users_label.setWordWrap(True)
        grid.addWidget(self.name_label, 0, 0, 1, 2)
        grid.addWidget(QLabel("Memory"), 1, 0)
        grid.addWidget(self.memory_bar, 1, 1)
        grid.addWidget(QLabel("Load"), 2, 0)
        grid.addWidget(self.util_label, 2, 1)
        grid.addWidget(QLabel("Used by"), 3, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.users_label, 3, 1)
        grid.setColumnStretch(1, 1)

    def show_gpu(self, gpu: GpuInfo, backends: dict[int, Backend]) -> None:
        self.name_label.setText(f"GPU {gpu.index} · {gpu.name}")
        ids = [f"UUID {gpu.uuid}" if gpu.uuid else "", f"PCI bus {gpu.pci_bus_id}" if gpu.pci_bus_id else ""]
        self.name_label.setToolTip("\n".join([f"GPU_ID {gpu.index}: {gpu.name}", *[i for i in ids if i]]))
        total = max(int(gpu.memory_total), 0)
        used = min(max(int(gpu.memory_used), 0), total) if total else max(int(gpu.memory_used), 0)
        self.memory_bar.setValue(int(used * 1000 / total) if total else 0)
        self.memory_bar.setFormat(f"{gib(used)} / {gib(total)} GiB")
        self.memory_bar.setToolTip(f"{used:,} of {total:,} bytes in use")
        self.util_label.setText("not reported" if gpu.utilization is None else f"{gpu.utilization} %")
        users = users_of(gpu.index, dict(gpu.processes), backends)
        self.users_label.setText("\n".join(users) if users else "no backend")


class GpuDock(QDockWidget):
    """Titled "GPUs". ``set_service()`` once per connection; ``await refresh()`` reads the GPUs now."""

    #: a GPU report was read (the window names the GPUs in the table with it)
    report_received = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("GPUs", parent)
        self.setObjectName("gpuDock")
        self._service: BackendService | None = None
        self._task: asyncio.Task[None] | None = None
        self._rows: list[_GpuRow] = []

        self._body = QWidget()
        self._column = QVBoxLayout(self._body)
        self._column.setContentsMargins(4, 4, 4, 4)
        self.headline = QLabel()
        self.headline.setTextFormat(Qt.TextFormat.PlainText)
        self.headline.setWordWrap(True)
        font = self.headline.font()
        font.setBold(True)
        self.headline.setFont(font)
        self.detail = QLabel()
        self.detail.setTextFormat(Qt.TextFormat.PlainText)
        self.detail.setWordWrap(True)
        self._column.addWidget(self.headline)
        self._column.addWidget(self.detail)
        self._rows_box = QVBoxLayout()
        self._column.addLayout(self._rows_box)
        self._column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self._body)
        # A scroll area does not pass its content's size on: without a minimum the dock shrinks to a sliver.
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumSize(280, 150)
        self.setWidget(scroll)

        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._on_timer)
        self._show_text("No service", "")

    # -- public API --------------------------------------------------------------------------------------

    def set_service(self, service: BackendService | None) -> None:
        self._service = service
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        if not self._has_gpus():
            self._show_text(REMOTE_TEXT, "The server's own web page shows its GPUs." if service else "")
        else:
            self._show_text("Reading GPUs…", "")
            if self.isVisible():
                self._on_timer()

    async def refresh(self) -> None:
        service = self._service
        host = worker_host(service)
        if service is None or host is None:
            self._show_text(REMOTE_TEXT if service is not None else "No service", "")
            return
        try:
            report = await host.gpus()
            # this computer's backends only: of several connections, the others' are not on these GPUs
            source = host.connection.feed if isinstance(host, KeyedWorkerHost) else service
            backends = await source.list_backends() if report.gpus else {}
        except BackendServiceError as exc:
            self._show_text("Cannot read the GPUs", describe_error(exc, service.location))
            return
        if service is not self._service:
            return  # switched connection meanwhile
        self.show_report(report, backends)
        self.report_received.emit(report)

    def show_report(self, report: GpuReport, backends: dict[int, Backend]) -> None:
        if not report.gpus:
            reason = (report.reason or "").strip()
            if reason.startswith(NO_GPU):
                reason = reason[len(NO_GPU):].strip(" :()") or ""
            self._show_text(NO_GPU, reason)
            return
        self.headline.setText(f"{len(report.gpus)} NVIDIA GPU{'s' if len(report.gpus) != 1 else ''}")
        self.detail.setText(report.reason or "")
        self.detail.setVisible(bool(report.reason))
        while len(self._rows) < len(report.gpus):
            row = _GpuRow()
            self._rows.append(row)
            self._rows_box.addWidget(row)
        while len(self._rows) > len(report.gpus):
            self._rows.pop().deleteLater()
        for row, gpu in zip(self._rows, report.gpus, strict=False):
            row.show_gpu(gpu, backends)

    def rows(self) -> list[_GpuRow]:
        return list(self._rows)

    # -- internals ---------------------------------------------------------------------------------------

    def _has_gpus(self) -> bool:
        return worker_host(self._service) is not None

    def _show_text(self, headline: str, detail: str) -> None:
        self.headline.setText(headline)
        self.detail.setText(detail)
        self.detail.setVisible(bool(detail))
        while self._rows:
            self._rows.pop().deleteLater()

    def _on_timer(self) -> None:
        if self._task is not None and not self._task.done():
            return  # one request at a time
        if not self._has_gpus():
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no asyncio loop running (yet): the next tick tries again (STYLE.md pitfall 3)
        self._task = spawn(self.refresh(), what="Read the GPUs")

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self._timer.start()
        self._on_timer()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt override
        super().hideEvent(event)
        self._timer.stop()
