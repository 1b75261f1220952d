"""Modules imported on first use, so start-up does not pay for what it may never need.

httpx (with its TLS setup) and psutil cost a good part of the app's start-up while the window is not yet
painted; the local manager only needs them once a worker is started or stopped.

Not ``importlib.util.LazyLoader``: on Python 3.11 its first-use load is not thread-safe (it was made so in 3.12,
CPython gh-114763), and psutil and NVML are used from worker threads here; a plain ``import_module`` on first
use runs under the import lock, and the real module stays the one in ``sys.modules``.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _LazyModule(ModuleType):
    """Stands for a module; the first attribute read imports it (then every read is one dict lookup)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_lazy_target"] = None

    def __getattr__(self, attr: str) -> Any:
        module = self.__dict__["_lazy_target"]
        if module is None:
            module = importlib.import_module(self.__name__)
            self.__dict__["_lazy_target"] = module
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self.__name__!r}>"


def lazy_module(name: str) -> Any:
    """A stand-in for ``import name`` that imports ``name`` on its first attribute read."""
    return _LazyModule(name)
