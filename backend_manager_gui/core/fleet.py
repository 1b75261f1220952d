"""What is true of many backends at once: which GPUs each is set to, the next free GPU, "one backend per
GPU" and "duplicate" as plans, and which backends are live. Qt-free; the GUI's actions carry the plans out.

The ``GPU_ID`` grammar, the one place it is read (the table, the GPU dock, duplicate, one-per-GPU and the
embedded manager's ``CUDA_VISIBLE_DEVICES`` all go through ``parse_gpu_ids``):

    empty, or whitespace only      -> no GPU chosen (the worker sees every GPU)
    "0"  "1, 3"  " 2 ,0 "          -> the GPU numbers, in the order given, a repeat dropped
    an int (a server may send 1)   -> that one GPU
    anything else ("0;1", "0 1", "1,", "-1", "gpu0", True) -> not a GPU_ID: ``GpuIdError``

So: comma-separated non-negative whole numbers, spaces allowed around each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .models import SECRET_MARKER, Backend, BackendStatus, BackendType

#: The setting that pins a worker to GPUs (SwarmUI's name, and the embedded manager's).
GPU_SETTING = "GPU_ID"
#: Statuses that mean a worker process is (or is about to be) up: what quitting would stop.
LIVE_STATUSES = (BackendStatus.RUNNING, BackendStatus.IDLE, BackendStatus.LOADING, BackendStatus.WAITING)

_GPU_LIST = re.compile(r"\s*\d+\s*(?:,\s*\d+\s*)*", re.ASCII)


class GpuIdError(ValueError):
    """A ``GPU_ID`` value outside the grammar above."""


def parse_gpu_ids(value: object) -> tuple[int, ...]:
    """The GPU numbers a ``GPU_ID`` value names (``()`` = none chosen); ``GpuIdError`` when it names none."""
    if value is None:
        return ()
    if isinstance(value, bool):  # bool is an int: True is no GPU number
        raise GpuIdError(f"not a GPU number: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise GpuIdError(f"not a GPU number: {value!r}")
        return (value,)
    if not isinstance(value, str):
        raise GpuIdError(f"not a GPU number: {type(value).__name__}")
    return _parse_text(value)


@lru_cache(maxsize=1024)  # the same few texts on thousands of rows
def _parse_text(text: str) -> tuple[int, ...]:
    if not text.strip():
        return ()
    if not _GPU_LIST.fullmatch(text):
        raise GpuIdError(f"not a list of GPU numbers: {text!r}")
    return tuple(dict.fromkeys(int(part) for part in text.split(",")))


def format_gpu_ids(ids: Iterable[int]) -> str:
    """``(0, 1)`` -> ``"0,1"``: what ``CUDA_VISIBLE_DEVICES`` and the setting take."""
    return ",".join(str(i) for i in ids)


def gpu_ids(settings: Mapping[str, Any]) -> tuple[int, ...]:
    """The GPUs a backend's settings pin it to; ``()`` when none is chosen or the value is not a GPU_ID."""
    try:
        return parse_gpu_ids(settings.get(GPU_SETTING))
    except GpuIdError:
        return ()


def gpu_text(settings: Mapping[str, Any], names: Mapping[int, str] | None = None) -> str:
    """The GPU column's text: ``"0,1"`` for a valid value, the value as it is for one that is not (so a
    person sees what is set), ``""`` for none. With ``names`` (index -> the GPU's name, from the last GPU
    report), each known GPU reads ``"1: RTX 4090"``."""
    raw = settings.get(GPU_SETTING)
    try:
        ids = parse_gpu_ids(raw)
    except GpuIdError:
        return str(raw).strip()
    if not names:
        return format_gpu_ids(ids)
    return ", ".join(f"{i}: {short_gpu_name(names[i])}" if i in names else str(i) for i in ids)


_VENDOR_PREFIX = re.compile(r"^(?:NVIDIA\s+)?(?:GeForce\s+)?", re.IGNORECASE)


def short_gpu_name(name: str) -> str:
    """A GPU's name without the words every card of a box shares: "NVIDIA GeForce RTX 4090" -> "RTX 4090"."""
    return _VENDOR_PREFIX.sub("", name.strip()) or name.strip()


def used_gpus(backends: Iterable[Backend]) -> set[int]:
    return {g for b in backends for g in gpu_ids(b.settings)}


def next_free_gpu(used: set[int], gpus: Sequence[int] | None) -> int | None:
    """The lowest GPU no backend uses: among ``gpus`` when known, else one past the highest in use."""
    if gpus is not None:
        return next((g for g in gpus if g not in used), None)
    return max(used) + 1 if used else None


def copyable_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings fit to send to another backend: a secret comes back as the marker, and sent elsewhere the
    marker would mean "keep *its* (empty) value"."""
    return {k: v for k, v in settings.items() if v != SECRET_MARKER}


def live(backends: Iterable[Backend]) -> list[Backend]:
    """The backends whose worker is up or coming up."""
    return [b for b in backends if b.status in LIVE_STATUSES]


def per_gpu_type(types: Iterable[BackendType]) -> BackendType | None:
    """The type "one backend per GPU" adds: the first standard type with a ``GPU_ID`` setting (the embedded
    manager lists its self-starting ComfyUI first)."""
    return next((t for t in types if t.is_standard and t.setting(GPU_SETTING) is not None), None)


@dataclass(frozen=True)
class NewWorker:
    """One backend to add for a GPU: its title and the settings to lay over the new backend's defaults."""

    gpu: int
    title: str
    settings: dict[str, Any]


def plan_one_per_gpu(gpus: Sequence[tuple[int, str]], backends: Iterable[Backend], type_id: str) -> list[NewWorker]:
    """For each GPU ``(index, name)`` no backend of ``type_id`` is set to, a new one pinned to it, with the
    settings of the first existing backend of that type (so the ComfyUI folder is asked only once)."""
    existing = [b for b in backends if b.type == type_id]
    covered = used_gpus(existing)
    template = copyable_settings(existing[0].settings) if existing else {}
    return [
        NewWorker(index, f"GPU {index} ({name})", {**template, GPU_SETTING: str(index)})
        for index, name in gpus
        if index not in covered
    ]


@dataclass(frozen=True)
class Copy:
    """One duplicate to make: of ``source``, with ``title`` and ``settings``; ``note`` says where it went."""

    source: Backend
    title: str
    settings: dict[str, Any]
    note: str


def plan_duplicates(sources: Iterable[Backend], backends: Iterable[Backend], gpus: Sequence[int] | None) -> list[Copy]:
    """A copy of each source; one set to a GPU goes on the next GPU none uses (``gpus``: this computer's,
    ``None`` where they cannot be known, ``[]`` where there is none: then the copy keeps its source's)."""
    used = used_gpus(backends)
    out: list[Copy] = []
    for source in sources:
        settings = copyable_settings(source.settings)
        note = ""
        if GPU_SETTING in source.settings and gpus != []:
            free = next_free_gpu(used, gpus)
            if free is not None:
                settings[GPU_SETTING] = str(free)
                used.add(free)
                note = f" on GPU {free}"
            else:
                note = " on the same GPU (every GPU already has a backend)"
        out.append(Copy(source, f"{source.title} (copy)" if source.title else "", settings, note))
    return out
