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
    split_args,
    worker_env,
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


# ---- one models folder for every worker: ComfyUI's extra_model_paths.yaml ---------------------------------------

#: ComfyUI's model folder names (folder_paths.py) -> the subfolders of a shared models folder each one reads.
#: "clip" and "unet" are the names every ComfyUI version takes (newer ones map them to text_encoders and
#: diffusion_models); each reads both the old and the new subfolder name, as ComfyUI's own models folder does.
MODEL_SUBFOLDERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("checkpoints", ("checkpoints",)),
    ("configs", ("configs",)),
    ("loras", ("loras",)),
    ("vae", ("vae",)),
    ("clip", ("text_encoders", "clip")),
    ("unet", ("diffusion_models", "unet")),
    ("clip_vision", ("clip_vision",)),
    ("style_models", ("style_models",)),
    ("embeddings", ("embeddings",)),
    ("diffusers", ("diffusers",)),
    ("vae_approx", ("vae_approx",)),
    ("controlnet", ("controlnet", "t2i_adapter")),
    ("gligen", ("gligen",)),
    ("upscale_models", ("upscale_models",)),
    ("hypernetworks", ("hypernetworks",)),
    ("photomaker", ("photomaker",)),
    ("classifiers", ("classifiers",)),
    ("model_patches", ("model_patches",)),
    ("audio_encoders", ("audio_encoders",)),
)


def yaml_quoted(text: str) -> str:
    """``text`` as a YAML double-quoted scalar: any text reads back exactly (quotes, backslashes, colons, #, and
    characters that are not printable escaped), with no YAML library."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def model_paths_yaml(models: Path) -> str:
    """An ``extra_model_paths.yaml`` (ComfyUI's own format: ``utils/extra_config.py``) that adds the standard
    subfolders of ``models`` to every model list of ComfyUI."""
    lines = ["# Written by Backend Manager at each start of this worker: edit the ModelsFolder setting, not this file.",
             "backend_manager_models:",
             f"    base_path: {yaml_quoted(str(models))}"]
    for name, folders in MODEL_SUBFOLDERS:
        if len(folders) == 1:
            lines.append(f"    {name}: {folders[0]}")
        else:
            lines.append(f"    {name}: |")
            lines.extend(f"        {folder}" for folder in folders)
    return "\n".join(lines) + "\n"


_MODELS_SPEC = SettingSpec(
    name="ModelsFolder", type="text", default="", browse="folder",
    description="A models folder shared by every worker: its checkpoints/, loras/, vae/, clip/, unet/, controlnet/, "
                "upscale_models/, embeddings/ … are added to ComfyUI's own, through an extra_model_paths.yaml the "
                "manager writes. Empty = ComfyUI's own models folder only.",
    placeholder="/data/models",
)
_LISTEN_SPEC = SettingSpec(
    name="Listen", type="boolean", default=False,
    description="Listen on every network interface, so that other computers can open this ComfyUI. "
                "Off = this computer only (127.0.0.1).\n"
                "Warning: ComfyUI has no password. Anyone who can reach this computer can use it, install custom "
                "nodes through ComfyUI-Manager and read its files.",
)

#: Variables the manager sets for a ComfyUI itself, with why the Environment settings may not.
_MANAGED_ENV = {
    "__COMFY_CLI_SESSION__": "the manager sets it to restart the worker when ComfyUI-Manager asks for a restart",
}


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
            _MODELS_SPEC, GPU_SPEC, PORT_SPEC, _LISTEN_SPEC, ENVIRONMENT_SPEC, SECRET_ENVIRONMENT_SPEC,
            AUTORESTART_SPEC, TIMEOUT_SPEC,
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
        models = settings["ModelsFolder"].strip()
        if "$" in models:  # ComfyUI passes base_path through os.path.expandvars
            raise BackendApiError("ModelsFolder cannot hold a $: ComfyUI would read it as an environment variable.")
        if models and not Path(models).expanduser().is_dir():
            raise BackendApiError(f"ModelsFolder {models} is not a folder.")
        check_environment(settings, _MANAGED_ENV)
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

    def launch(self, settings: Mapping[str, Any], port: int | None, files: WorkerFiles) -> LaunchPlan:
        assert port is not None
        script = Path(str(settings["StartScript"]).strip()).expanduser().resolve()
        listen = "0.0.0.0" if settings.get("Listen") else "127.0.0.1"
        argv = [self.python_for(script, str(settings["Python"])), str(script), "--listen", listen, "--port", str(port)]
        written: dict[Path, str] = {}
        models = str(settings.get("ModelsFolder") or "").strip()
        if models:
            written[files.model_paths] = model_paths_yaml(Path(models).expanduser().resolve())
            argv += ["--extra-model-paths-config", str(files.model_paths)]
        argv += split_args(str(settings["ExtraArgs"]), "ExtraArgs")
        base = f"http://127.0.0.1:{port}"
        # ComfyUI-Manager restarts a ComfyUI with this set by writing <it>.reboot and exiting with status 0
        # (comfyui_manager/glob/manager_server.py, prestartup_script.py): the supervisor then starts it again
        env = worker_env(settings, {"__COMFY_CLI_SESSION__": str(files.session)})
        return LaunchPlan(argv=tuple(argv), cwd=script.parent, env=env, health_url=f"{base}/object_info",
                          base_url=base, files=written, reboot_marker=files.reboot_marker)

    def web_url(self, settings: Mapping[str, Any], port: int | None) -> str | None:
        return f"http://127.0.0.1:{port}" if port else None

    def listens_beyond_loopback(self, settings: Mapping[str, Any]) -> bool:
        return bool(settings.get("Listen"))

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

    def web_url(self, settings: Mapping[str, Any], port: int | None) -> str | None:
        return self.base_url(settings) or None

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
