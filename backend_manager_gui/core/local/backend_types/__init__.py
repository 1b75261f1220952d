"""The kinds of worker the local manager can run, one module per family.

Each kind declares its ``SettingSpec`` list (so ``list_backend_types`` returns real schemas), checks
settings on edit, and says how to launch, probe and free a worker. ``KINDS`` maps type ids to kinds.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ...errors import BackendApiError
from ...fleet import GpuIdError, format_gpu_ids, gpu_ids, parse_gpu_ids
from ...models import BackendType
from ...values import require_value


@dataclass(frozen=True)
class LaunchPlan:
    """Everything needed to spawn one worker: never a shell command line, always an argument list."""

    argv: tuple[str, ...]
    cwd: Path | None
    env: dict[str, str] = field(repr=False)  # may hold secret environment values
    #: GET this URL until it answers 2xx; None = ready once alive for a short while
    health_url: str | None
    #: the worker's base URL (for /queue and /free), None when it speaks no HTTP we know
    base_url: str | None = None


class WorkerKind:
    """One backend type. Subclasses fill in ``info`` and the hooks."""

    info: ClassVar[BackendType]
    #: True when the manager starts a process; False when it only watches a URL
    supervised: ClassVar[bool] = True
    features: ClassVar[tuple[str, ...]] = ()

    @property
    def id(self) -> str:
        return self.info.id

    def defaults(self) -> dict[str, Any]:
        return {spec.name: spec.default for spec in self.info.settings}

    def secret_names(self) -> frozenset[str]:
        return frozenset(spec.name for spec in self.info.settings if spec.is_secret)

    def validate(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Every value in its spec's canonical form (core/values.py, as the settings form reads them), then checked;
        ``settings`` holds every spec's name."""
        out = {spec.name: require_value(spec, settings.get(spec.name, spec.default)) for spec in self.info.settings}
        self.check(out)
        return out

    def check(self, settings: dict[str, Any]) -> None:
        """Raise ``BackendApiError`` naming the setting when a value cannot work. A setting still to be filled
        in (empty) is not refused here: ``missing`` says so, and the edit is saved."""

    def missing(self, settings: Mapping[str, Any]) -> str | None:
        """What must still be filled in before the worker can start (a required setting left empty), in words;
        None when nothing. Such settings are saved, as SwarmUI saves a new backend with its defaults."""
        return None

    def not_ready_reason(self, settings: Mapping[str, Any]) -> str | None:
        """Why a backend with these (possibly default) settings cannot start yet, in words; None if it can."""
        reason = self.missing(settings)
        if reason is None:
            try:
                self.check(dict(settings))
            except BackendApiError as exc:
                reason = exc.message
        return None if reason is None else f"Not set up yet: {reason}"

    def uses_port(self, settings: Mapping[str, Any]) -> bool:
        return self.supervised

    def launch(self, settings: Mapping[str, Any], port: int | None) -> LaunchPlan:
        raise NotImplementedError

    def auto_restart(self, settings: Mapping[str, Any]) -> bool:
        return bool(settings.get("AutoRestart", True))

    def start_timeout(self, settings: Mapping[str, Any]) -> float:
        return float(settings.get("StartTimeout") or 600)

    def free_request(
        self, settings: Mapping[str, Any], base_url: str | None, system_ram: bool, port: int | None = None
    ) -> tuple[str, dict[str, Any]] | None:
        """(URL, JSON body) to POST to free memory, or None when this worker has no such thing."""
        return None

    def no_free_reason(self, settings: Mapping[str, Any]) -> str:
        """Why ``free_request`` gave None, for a person who asked this worker to free its memory."""
        return f"A {self.info.name} worker has no way to free memory."

    def queue_url(self, settings: Mapping[str, Any], base_url: str | None) -> str | None:
        """A ComfyUI-style /queue URL to learn when the worker last had work, or None."""
        return None

    def headers(self, settings: Mapping[str, Any]) -> dict[str, str]:
        return {}


# ---- checks shared by the kinds (each value's kind is checked by core/values.py) -------------------------


def check_gpu_id(value: str) -> None:
    try:
        parse_gpu_ids(value)
    except GpuIdError:
        raise BackendApiError('GPU_ID must be a GPU number like "0", or several like "0,1" (or empty for all).') from None


def gpu_id(settings: Mapping[str, Any]) -> str:
    """The checked ``GPU_ID`` as ``CUDA_VISIBLE_DEVICES`` takes it ("0,1"; "" for every GPU)."""
    return format_gpu_ids(gpu_ids(settings))


def gpu_env(gpus: str) -> dict[str, str]:
    """Environment that pins a worker to GPUs. HIP_VISIBLE_DEVICES for ROCm; ROCR_VISIBLE_DEVICES is
    left alone because it filters first and HIP indices are then relative to it (both set = no GPU)."""
    if not gpus:
        return {}
    return {"CUDA_VISIBLE_DEVICES": gpus, "HIP_VISIBLE_DEVICES": gpus}


def check_port(value: int) -> None:
    if not 0 <= value <= 65535:
        raise BackendApiError("Port must be between 0 and 65535 (0 = pick a free one).")


def check_timeout(value: int) -> None:
    if value <= 0:
        raise BackendApiError("StartTimeout must be more than 0 seconds.")


def split_args(text: str, setting: str) -> list[str]:
    """Split like a shell would (quotes, escapes) without ever running a shell."""
    try:
        if os.name == "nt":
            # posix=False keeps backslashes in Windows paths; it keeps the quotes too, so strip them
            parts = shlex.split(text, posix=False)
            return [p[1:-1] if len(p) >= 2 and p[0] == p[-1] and p[0] in "\"'" else p for p in parts]
        return shlex.split(text)
    except ValueError as exc:
        raise BackendApiError(f"{setting} cannot be split into arguments: {exc}.") from None


def parse_env_lines(text: str, setting: str) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and lines starting with # are skipped."""
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            # never echo the line: it may be a secret
            raise BackendApiError(f"{setting} line {n} is not KEY=VALUE.")
        out[key] = value.strip()
    return out


def base_child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The app's environment for a Python worker: unbuffered UTF-8 output, no inherited PYTHONHOME/PATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONUTF8"] = "1"
    env.update(extra)
    return env


def _registry() -> dict[str, WorkerKind]:
    from .comfyui import ComfyApiKind, ComfySelfStartKind
    from .command import CommandKind

    kinds: list[WorkerKind] = [ComfySelfStartKind(), ComfyApiKind(), CommandKind()]
    return {k.id: k for k in kinds}


KINDS: dict[str, WorkerKind] = _registry()

__all__ = ["KINDS", "LaunchPlan", "WorkerKind"]
