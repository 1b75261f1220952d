"""ComfyUI workers: one the manager starts itself, and one already running at a URL."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ...errors import BackendApiError
from ...models import BackendType, SettingSpec
from ...values import hint_warning
from . import (
    LaunchPlan,
    WorkerKind,
    base_child_env,
    check_gpu_id,
    check_port,
    check_timeout,
    gpu_env,
    gpu_id,
    split_args,
)

_GPU_SPEC = SettingSpec(
    name="GPU_ID", type="text", default="",
    description='Which GPU(s) the worker may use: "0", or several like "0,1". Empty = every GPU.\n'
                "Sets CUDA_VISIBLE_DEVICES (and HIP_VISIBLE_DEVICES for AMD ROCm).",
    placeholder="0",
)
_PORT_SPEC = SettingSpec(
    name="Port", type="integer", default=0,
    description="Port the worker listens on (127.0.0.1 only). 0 = pick a free one; a restart keeps it while free.",
    placeholder="0",
)
_AUTORESTART_SPEC = SettingSpec(
    name="AutoRestart", type="boolean", default=True,
    description="Start the worker again when it crashes (waiting 1, 2, 4 ... 60 s; gives up after 5 crashes in 10 min).",
)
_TIMEOUT_SPEC = SettingSpec(
    name="StartTimeout", type="integer", default=600,
    description="Seconds the worker may take to become ready before it counts as failed and is stopped.",
    placeholder="600",
)


_START_SCRIPT_SPEC = SettingSpec(
    name="StartScript", type="text", default="", browse="file", ends_with="main.py",
    description="The main.py of your ComfyUI folder.",
    placeholder="/home/me/ComfyUI/main.py",
)


#: ComfyUI options the manager sets itself (``launch``), with why ExtraArgs may not set them again: ComfyUI's
#: argparse takes the last one given, and the worker would listen where the manager never looks for it.
_MANAGED_OPTIONS = {
    "--port": "the manager chooses the worker's port and waits for it there; use the Port setting",
    "--listen": "the manager sets the address the worker listens on and waits for it there "
                "(a listen address is a setting of its own, not an extra argument)",
}


def refuse_managed_options(args: list[str]) -> None:
    """Refuse ExtraArgs that set ``--port`` or ``--listen``, also as ``--opt=value`` and as the abbreviations
    ComfyUI's argparse accepts (``allow_abbrev``: ``--po 8189`` is ``--port 8189``)."""
    for arg in args:
        name = arg.partition("=")[0]
        if len(name) < 3 or not name.startswith("--"):
            continue
        for option, why in _MANAGED_OPTIONS.items():
            if option.startswith(name):
                written = "" if name == option else f" (as {name!r})"
                raise BackendApiError(f"ExtraArgs cannot hold {option}{written}: {why}.")


def comfy_free_request(base_url: str | None, system_ram: bool) -> tuple[str, dict[str, Any]] | None:
    if not base_url:
        return None
    # ComfyUI answers 500 to an empty body: always send both keys
    return f"{base_url}/free", {"unload_models": True, "free_memory": bool(system_ram)}


class ComfySelfStartKind(WorkerKind):
    info = BackendType(
        id="comfyui_selfstart",
        name="ComfyUI (self-starting)",
        description="A ComfyUI this app starts, watches and stops: point it at ComfyUI's main.py.",
        is_standard=True,
        settings=(
            _START_SCRIPT_SPEC,
            SettingSpec(
                name="Python", type="text", default="", browse="file",
                description="The Python that runs ComfyUI. Empty = automatic: the ComfyUI folder's venv/ or .venv/,\n"
                            "else ../python_embeded/ (portable Windows build), else the Python running this app.",
                placeholder="automatic",
            ),
            SettingSpec(
                name="ExtraArgs", type="text", default="",
                description="More ComfyUI arguments, split like a shell would (quotes allowed), never run through a shell.",
                placeholder="--lowvram --preview-method auto",
            ),
            _GPU_SPEC, _PORT_SPEC, _AUTORESTART_SPEC, _TIMEOUT_SPEC,
        ),
    )
    features = ("comfyui",)

    def missing(self, settings: Mapping[str, Any]) -> str | None:
        if not str(settings.get("StartScript") or "").strip():
            return "StartScript is empty: set it to the main.py of your ComfyUI folder."
        return None

    def check(self, settings: dict[str, Any]) -> None:
        script = settings["StartScript"].strip()
        if script and hint_warning(_START_SCRIPT_SPEC, script):  # the form warns with the same rule while it is typed
            raise BackendApiError("StartScript must be ComfyUI's main.py.")
        if script and not Path(script).expanduser().is_file():
            raise BackendApiError(f"StartScript {script} does not exist.")
        python = settings["Python"].strip()
        if python and not Path(python).expanduser().is_file():
            raise BackendApiError(f"Python {python} does not exist.")
        refuse_managed_options(split_args(settings["ExtraArgs"], "ExtraArgs"))
        check_gpu_id(settings["GPU_ID"])
        check_port(settings["Port"])
        check_timeout(settings["StartTimeout"])

    def python_for(self, script: Path, configured: str) -> str:
        if configured.strip():
            return str(Path(configured.strip()).expanduser())
        folder = script.parent
        exe = "python.exe" if os.name == "nt" else "python"
        bindir = "Scripts" if os.name == "nt" else "bin"
        for candidate in (folder / "venv" / bindir / exe, folder / ".venv" / bindir / exe,
                          folder.parent / "python_embeded" / "python.exe"):
            if candidate.is_file():
                return str(candidate)
        if getattr(sys, "frozen", False):
            # inside a bundle sys.executable is the app itself, not a Python
            return shutil.which("python3") or shutil.which("python") or "python3"
        return sys.executable

    def launch(self, settings: Mapping[str, Any], port: int | None) -> LaunchPlan:
        assert port is not None
        script = Path(str(settings["StartScript"]).strip()).expanduser().resolve()
        argv = [self.python_for(script, str(settings["Python"])), str(script),
                "--listen", "127.0.0.1", "--port", str(port), *split_args(str(settings["ExtraArgs"]), "ExtraArgs")]
        base = f"http://127.0.0.1:{port}"
        return LaunchPlan(argv=tuple(argv), cwd=script.parent, env=base_child_env(gpu_env(gpu_id(settings))),
                          health_url=f"{base}/object_info", base_url=base)

    def free_request(self, settings: Mapping[str, Any], base_url: str | None, system_ram: bool,
                     port: int | None = None) -> tuple[str, dict[str, Any]] | None:
        return comfy_free_request(base_url, system_ram)

    def queue_url(self, settings: Mapping[str, Any], base_url: str | None) -> str | None:
        return f"{base_url}/queue" if base_url else None


class ComfyApiKind(WorkerKind):
    info = BackendType(
        id="comfyui_api",
        name="ComfyUI by URL",
        description="A ComfyUI that something else runs: this app only watches it and can ask it to free memory.",
        is_standard=True,
        settings=(
            SettingSpec(
                name="Address", type="text", default="",
                description="The ComfyUI's address.", placeholder="http://127.0.0.1:8188",
            ),
            SettingSpec(
                name="AllowIdle", type="boolean", default=False,
                description="Show it as idle, not errored, while it does not answer (a worker that comes and goes).",
            ),
            SettingSpec(
                name="ApiKey", type="text", default="", is_secret=True,
                description="Sent as 'Authorization: Bearer ...' when the ComfyUI sits behind a proxy that wants one.\n"
                            "Kept in the OS keyring, never in plain files.",
                placeholder="optional",
            ),
        ),
    )
    supervised = False
    features = ("comfyui",)

    def missing(self, settings: Mapping[str, Any]) -> str | None:
        if not str(settings.get("Address") or "").strip():
            return "Address is empty: set it to the ComfyUI's URL, like http://127.0.0.1:8188."
        return None

    def check(self, settings: dict[str, Any]) -> None:
        address = settings["Address"].strip()
        if not address:
            return  # missing(): saved, not set up yet
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BackendApiError("Address must be an http:// or https:// URL, like http://127.0.0.1:8188.")
        try:
            _ = parts.port  # raises on a bad port
        except ValueError:
            raise BackendApiError("Address has a bad port number.") from None

    def uses_port(self, settings: Mapping[str, Any]) -> bool:
        return False

    def base_url(self, settings: Mapping[str, Any]) -> str:
        return str(settings["Address"]).strip().rstrip("/")

    def auto_restart(self, settings: Mapping[str, Any]) -> bool:
        return False

    def headers(self, settings: Mapping[str, Any]) -> dict[str, str]:
        key = str(settings.get("ApiKey") or "")
        return {"Authorization": f"Bearer {key}"} if key else {}

    def free_request(self, settings: Mapping[str, Any], base_url: str | None, system_ram: bool,
                     port: int | None = None) -> tuple[str, dict[str, Any]] | None:
        return comfy_free_request(base_url or self.base_url(settings), system_ram)

    def queue_url(self, settings: Mapping[str, Any], base_url: str | None) -> str | None:
        return f"{base_url or self.base_url(settings)}/queue"
