"""What the worker kinds share: the settings several of them have (one ``SettingSpec`` each), the checks of
those values, and the environment a worker starts with.

The environment of every worker the manager starts (``worker_env``), from bottom to top:

1. the app's own environment, without ``PYTHONHOME``/``PYTHONPATH`` (they would point a worker's Python at the
   app's libraries), with unbuffered UTF-8 output;
2. ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` unless the app's environment already sets it: CUDA numbers GPUs fastest
   first otherwise, while NVML (the GPU dock, "one backend per GPU", the GPU picker) numbers them by PCI bus,
   so ``GPU_ID=1`` would land on another card on a box with two different GPUs;
3. ``CUDA_VISIBLE_DEVICES``/``HIP_VISIBLE_DEVICES`` from ``GPU_ID``;
4. what the kind itself sets (ComfyUI's ``__COMFY_CLI_SESSION__``);
5. the backend's ``Environment`` lines, then its ``SecretEnvironment`` lines: the person's word is last, so a
   ``CUDA_DEVICE_ORDER`` set there is kept.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from typing import Any

from ...errors import BackendApiError
from ...fleet import GpuIdError, format_gpu_ids, gpu_ids, parse_gpu_ids
from ...models import SettingSpec

# ---- the settings several kinds have -----------------------------------------------------------------------

GPU_SPEC = SettingSpec(
    name="GPU_ID", type="text", default="", choose="gpu",
    description='Which GPU(s) the worker may use: "0", or several like "0,1". Empty = every GPU.\n'
                "Numbered as the GPUs dock numbers them (by PCI bus). Sets CUDA_VISIBLE_DEVICES "
                "(and HIP_VISIBLE_DEVICES for AMD ROCm).",
    placeholder="0",
)
PORT_SPEC = SettingSpec(
    name="Port", type="integer", default=0,
    description="Port the worker listens on. 0 = pick a free one; a restart keeps it while free.",
    placeholder="0",
)
AUTORESTART_SPEC = SettingSpec(
    name="AutoRestart", type="boolean", default=True,
    description="Start the worker again when it crashes (waiting 1, 2, 4 ... 60 s; gives up after 5 crashes in 10 min).",
)
TIMEOUT_SPEC = SettingSpec(
    name="StartTimeout", type="integer", default=600,
    description="Seconds the worker may take to become ready before it counts as failed and is stopped.",
    placeholder="600",
)
ENVIRONMENT_SPEC = SettingSpec(
    name="Environment", type="text", default="", multiline=True,
    description="Extra environment variables, one KEY=VALUE per line (# starts a comment line).\n"
                "They come last: a CUDA_DEVICE_ORDER set here replaces the manager's PCI_BUS_ID.",
    placeholder="HF_HOME=/data/hf",
)
SECRET_ENVIRONMENT_SPEC = SettingSpec(
    name="SecretEnvironment", type="text", default="", is_secret=True,
    description="Environment variables holding secrets (tokens), KEY=VALUE lines.\n"
                "Kept in the OS keyring, never written to plain files or logs.",
    placeholder="HF_TOKEN=...",
)

#: CUDA numbers GPUs by PCI bus, as NVML does, only with this (its default is FASTEST_FIRST).
DEVICE_ORDER = ("CUDA_DEVICE_ORDER", "PCI_BUS_ID")


# ---- checks ---------------------------------------------------------------------------------------------------


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


_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_env_lines(text: str, setting: str) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and lines starting with # are skipped."""
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key or not _ENV_KEY.fullmatch(key):
            # never echo the line: it may be a secret
            raise BackendApiError(f"{setting} line {n} is not KEY=VALUE.")
        out[key] = value.strip()
    return out


def check_environment(settings: Mapping[str, Any], managed: Mapping[str, str] | None = None) -> None:
    """Both environment settings must be KEY=VALUE lines, and set none of the variables in ``managed`` (name ->
    why the manager sets it itself)."""
    for name in (ENVIRONMENT_SPEC.name, SECRET_ENVIRONMENT_SPEC.name):
        for key in parse_env_lines(str(settings.get(name) or ""), name):
            if managed and key in managed:
                raise BackendApiError(f"{name} cannot set {key}: {managed[key]}.")


def user_env(settings: Mapping[str, Any]) -> dict[str, str]:
    """The backend's ``Environment`` lines, then its ``SecretEnvironment`` lines (a key in both: the secret)."""
    env = parse_env_lines(str(settings.get(ENVIRONMENT_SPEC.name) or ""), ENVIRONMENT_SPEC.name)
    env.update(parse_env_lines(str(settings.get(SECRET_ENVIRONMENT_SPEC.name) or ""), SECRET_ENVIRONMENT_SPEC.name))
    return env


def base_child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The app's environment for a worker (steps 1 and 2 in the module's docstring), then ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONUTF8"] = "1"
    env.setdefault(*DEVICE_ORDER)
    env.update(extra)
    return env


def worker_env(settings: Mapping[str, Any], own: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a worker, in the order the module's docstring gives."""
    extra = gpu_env(gpu_id(settings))
    extra.update(own or {})
    extra.update(user_env(settings))
    return base_child_env(extra)
