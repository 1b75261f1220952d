"""The kinds of worker the local manager can run, one module per family.

Each kind declares its ``SettingSpec`` list (so ``list_backend_types`` returns real schemas), checks
settings on edit, and says how to launch, probe and free a worker. ``KINDS`` maps type ids to kinds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ...errors import BackendApiError
from ...models import BackendType
from ...values import require_value
from .common import (  # noqa: F401 - the kinds' shared helpers, also imported from here
    base_child_env,
    check_gpu_id,
    check_port,
    check_timeout,
    gpu_env,
    gpu_id,
    parse_env_lines,
    split_args,
)


@dataclass(frozen=True)
class WorkerFiles:
    """A backend's own folder in the manager's data folder (``<data dir>/workers/<uid>/``), for the files the
    manager hands its worker: ComfyUI's ``extra_model_paths.yaml`` and ComfyUI-Manager's restart marker."""

    folder: Path

    @property
    def session(self) -> Path:
        """``__COMFY_CLI_SESSION__``: ComfyUI-Manager writes ``<this>.reboot`` before it exits to be restarted."""
        return self.folder / "comfy-session"

    @property
    def reboot_marker(self) -> Path:
        return self.folder / "comfy-session.reboot"

    @property
    def model_paths(self) -> Path:
        return self.folder / "extra_model_paths.yaml"


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
    #: files to write (path -> text) before the worker starts; in a worker thread, never on the loop
    files: Mapping[Path, str] = field(default_factory=dict)
    #: a file whose presence after the worker exits means "start me again" (ComfyUI-Manager's restart)
    reboot_marker: Path | None = None


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
            except (TypeError, ValueError, KeyError) as exc:  # a saved value of another form than the check expects
                return f"Its saved settings cannot be used ({type(exc).__name__}: {exc}): Edit it to set them again."
        return None if reason is None else f"Not set up yet: {reason}"

    def uses_port(self, settings: Mapping[str, Any]) -> bool:
        return self.supervised

    def launch(self, settings: Mapping[str, Any], port: int | None, files: WorkerFiles) -> LaunchPlan:
        raise NotImplementedError

    def web_url(self, settings: Mapping[str, Any], port: int | None) -> str | None:
        """The worker's web page as this computer reaches it (``port``: the one it was given), or None."""
        return None

    def listens_beyond_loopback(self, settings: Mapping[str, Any]) -> bool:
        """Whether other computers can reach the worker's port (it listens on every interface)."""
        return False

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


def _registry() -> dict[str, WorkerKind]:
    from .comfyui import ComfyApiKind, ComfySelfStartKind
    from .command import CommandKind

    kinds: list[WorkerKind] = [ComfySelfStartKind(), ComfyApiKind(), CommandKind()]
    return {k.id: k for k in kinds}


KINDS: dict[str, WorkerKind] = _registry()

__all__ = ["KINDS", "LaunchPlan", "WorkerFiles", "WorkerKind"]
