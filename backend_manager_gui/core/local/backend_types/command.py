"""Any program as a GPU worker: a command line with ``{port}`` and ``{gpu}`` filled in."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ...errors import BackendApiError
from ...models import BackendType, SettingSpec
from . import LaunchPlan, WorkerFiles, WorkerKind
from .common import (
    AUTORESTART_SPEC,
    ENVIRONMENT_SPEC,
    GPU_SPEC,
    PORT_SPEC,
    SECRET_ENVIRONMENT_SPEC,
    TIMEOUT_SPEC,
    check_environment,
    check_gpu_id,
    check_port,
    check_timeout,
    gpu_id,
    split_args,
    worker_env,
)


def _fill(text: str, port: int | None, gpus: str) -> str:
    # plain replace, not str.format: commands may hold other braces (JSON, shell-like syntax)
    return text.replace("{port}", str(port if port is not None else "")).replace("{gpu}", gpus)


class CommandKind(WorkerKind):
    info = BackendType(
        id="command",
        name="Custom GPU worker",
        description="Any program this app starts, watches and stops, e.g. a ComfyUI fork or an inference server.",
        is_standard=True,
        settings=(
            SettingSpec(
                name="Command", type="text", default="",
                description="Program and arguments, split like a shell would but never run through one.\n"
                            "{port} and {gpu} are replaced by the worker's port and GPU_ID.",
                placeholder="python server.py --port {port}",
            ),
            SettingSpec(
                name="WorkingDir", type="text", default="", browse="folder",
                description="Folder to start it in. Empty = the app's data folder.", placeholder="/home/me/worker",
            ),
            ENVIRONMENT_SPEC, SECRET_ENVIRONMENT_SPEC, GPU_SPEC, PORT_SPEC,
            SettingSpec(
                name="HealthURL", type="text", default="",
                description="Ready when a GET of this URL answers 2xx ({port} is filled in).\n"
                            "Empty = ready once the program has stayed alive for 2 seconds.",
                placeholder="http://127.0.0.1:{port}/health",
            ),
            SettingSpec(
                name="FreeMemoryURL", type="text", default="",
                description="Optional: POST here to make the worker free memory ({port} is filled in).",
                placeholder="http://127.0.0.1:{port}/free",
            ),
            AUTORESTART_SPEC, TIMEOUT_SPEC,
        ),
    )

    def missing(self, settings: Mapping[str, Any]) -> str | None:
        if not str(settings.get("Command") or "").strip():
            return "Command is empty: set the program to run and its arguments."
        return None

    def check(self, settings: dict[str, Any]) -> None:
        split_args(settings["Command"], "Command")  # empty: missing(), saved as not set up yet
        wd = settings["WorkingDir"].strip()
        if wd and not Path(wd).expanduser().is_dir():
            raise BackendApiError(f"WorkingDir {wd} is not a folder.")
        check_environment(settings)
        check_gpu_id(settings["GPU_ID"])
        check_port(settings["Port"])
        for name in ("HealthURL", "FreeMemoryURL"):
            url = _fill(settings[name].strip(), 1, "0")
            if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
                raise BackendApiError(f"{name} must be an http:// URL.")
        check_timeout(settings["StartTimeout"])

    def launch(self, settings: Mapping[str, Any], port: int | None, files: WorkerFiles) -> LaunchPlan:
        gpus = gpu_id(settings)
        argv = [_fill(a, port, gpus) for a in split_args(str(settings["Command"]), "Command")]
        wd = str(settings["WorkingDir"]).strip()
        health = _fill(str(settings["HealthURL"]).strip(), port, gpus) or None
        return LaunchPlan(argv=tuple(argv), cwd=Path(wd).expanduser() if wd else None,
                          env=worker_env(settings), health_url=health, base_url=None)

    def web_url(self, settings: Mapping[str, Any], port: int | None) -> str | None:
        """The server behind HealthURL (its scheme, host and port), when there is one: a program that answers
        HTTP may well have a page there; one without a HealthURL may speak no HTTP at all."""
        health = _fill(str(settings.get("HealthURL") or "").strip(), port, gpu_id(settings))
        parts = urlsplit(health)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return None
        return f"{parts.scheme}://{parts.netloc}"

    def free_request(self, settings: Mapping[str, Any], base_url: str | None, system_ram: bool,
                     port: int | None = None) -> tuple[str, dict[str, Any]] | None:
        url = _fill(str(settings.get("FreeMemoryURL") or "").strip(), port, gpu_id(settings))
        if not url:
            return None
        return url, {"unload_models": True, "free_memory": bool(system_ram)}

    def no_free_reason(self, settings: Mapping[str, Any]) -> str:
        return ("This worker has no free-memory URL: set FreeMemoryURL in its settings to let the manager ask it "
                "to free memory.")
