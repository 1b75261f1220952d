"""Shared pieces of the reliability suite: the --long switch, a figures recorder, an event-loop lateness probe.

Figures: every test records what it did (how many faults, kills, iterations) and what it measured. They are
printed at the end of the run and, when ``BM_RELIABILITY_FIGURES`` names a file, written there as JSON lines
(docs/RELIABILITY.md is filled from such a run).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

# the GUI tests of this suite use the same qasync loop fixture and isolated QSettings as tests/gui
from tests.gui.conftest import _isolated_qsettings, loop  # noqa: F401

_FIGURES: list[dict[str, Any]] = []


@pytest.fixture
def long_run(request: pytest.FixtureRequest) -> bool:
    """True under ``pytest --long``: the long variants (more iterations, longer soaks)."""
    return bool(request.config.getoption("--long"))


class Figures:
    def __init__(self, test: str, long_run: bool) -> None:
        self.data: dict[str, Any] = {"test": test, "long": long_run}

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def add(self, key: str, n: float = 1) -> None:
        self.data[key] = self.data.get(key, 0) + n

    def top(self, key: str, value: float) -> None:
        """Keep the largest value seen under ``key``."""
        self.data[key] = max(self.data.get(key, value), value)


@pytest.fixture
def figures(request: pytest.FixtureRequest, long_run: bool) -> Iterator[Figures]:
    fig = Figures(request.node.name, long_run)
    started = time.monotonic()
    yield fig
    fig["wall_s"] = round(time.monotonic() - started, 1)
    _FIGURES.append(fig.data)
    out = os.environ.get("BM_RELIABILITY_FIGURES")
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(fig.data, default=str) + "\n")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _FIGURES:
        terminalreporter.section("reliability figures")
        for fig in _FIGURES:
            terminalreporter.write_line(json.dumps(fig, default=str))
