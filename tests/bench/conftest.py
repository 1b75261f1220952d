"""Benchmarks P1-P7 of issue 7 (docs/PERFORMANCE.md). Not part of the default run (addopts ignores tests/bench);
run them with::

    .venv/bin/python -m pytest tests/bench -p no:randomly -q

Every figure is a ratio to a baseline measured in the same run (the machine is shared and noisy) or an absolute
figure where the goal is absolute. Each test records its figures in ``benchmark.extra_info`` and in ``RESULTS``;
the table of all of them is printed at the end. Goals are not asserted unless ``--bench-strict`` is given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

# the GUI test fixtures: a fresh qasync loop per test, isolated QSettings
from tests.gui.conftest import _isolated_qsettings, loop  # noqa: F401

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@dataclass
class Result:
    id: str
    what: str
    goal: str
    figure: str
    met: bool


RESULTS: dict[str, Result] = {}


def record(benchmark: object, id: str, what: str, goal: str, figure: str, met: bool, **extra: object) -> None:
    """Keep one goal's outcome for the summary table (and in pytest-benchmark's JSON as extra_info)."""
    RESULTS[id] = Result(id, what, goal, figure, met)
    info = getattr(benchmark, "extra_info", None)
    if isinstance(info, dict):
        info.update({"goal": goal, "figure": figure, "met": met, **extra})


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("backend manager benchmarks")
    group.addoption("--p2-seconds", type=float, default=30.0,
                    help="how long P2 polls with the person scrolling and filtering (default 30 s, the issue's figure)")
    group.addoption("--bench-strict", action="store_true", default=False,
                    help="fail a benchmark whose goal is not met (default: only report)")


@pytest.fixture
def strict(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--bench-strict"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    tr = terminalreporter
    tr.section("Backend Manager performance goals (issue 7)")
    rows = [("id", "what", "goal", "measured", "status")]
    rows += [(r.id, r.what, r.goal, r.figure, "met" if r.met else "NOT MET") for r in sorted(RESULTS.values(), key=lambda r: r.id)]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for n, row in enumerate(rows):
        tr.write_line(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)))
        if n == 0:
            tr.write_line("-+-".join("-" * w for w in widths))
