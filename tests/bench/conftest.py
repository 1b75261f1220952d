"""Benchmarks P1-P8 of issues 7 and 16 (docs/PERFORMANCE.md). Not part of the default run (addopts ignores
tests/bench); run them with::

    .venv/bin/python -m pytest tests/bench -p no:randomly -q

Every figure is a ratio to a baseline measured in the same run (the machine is shared and noisy) or an absolute
figure where the goal is absolute. Each test records its figures in ``benchmark.extra_info`` and in ``RESULTS``;
the table of all of them is printed at the end. Goals are not asserted unless ``--bench-strict`` is given.
The benchmarks whose cost depends on how many backends there are (P1, P2, P6, P7, P8) run once per size in
``--sizes`` (5,000 and 50,000 by default): the goals are for 5,000, the other sizes show how each cost grows.
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


def record(benchmark: object, id: str, what: str, goal: str, figure: str, met: bool, *, n: int | None = None,
           **extra: object) -> None:
    """Keep one goal's outcome for the summary table (and in pytest-benchmark's JSON as extra_info). ``n``: the
    number of backends it was measured with, for the benchmarks run at several sizes."""
    if n is not None:
        id = f"{id} @ {n:,}"
        what = what.replace("5,000", f"{n:,}")
        extra["backends"] = n
    RESULTS[id] = Result(id, what, goal, figure, met)
    info = getattr(benchmark, "extra_info", None)
    if isinstance(info, dict):
        info.update({"goal": goal, "figure": figure, "met": met, **extra})


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("backend manager benchmarks")
    group.addoption("--p2-seconds", type=float, default=30.0,
                    help="how long P2 polls with the person scrolling and filtering (default 30 s, the issue's figure)")
    group.addoption("--p9-seconds", type=float, default=30.0,
                    help="how long P9 (ten connections in one window) polls with the person scrolling and filtering "
                         "(default 30 s)")
    group.addoption("--bench-strict", action="store_true", default=False,
                    help="fail a benchmark whose goal is not met at 5,000 backends (default: only report)")
    group.addoption("--sizes", default="5000,50000",
                    help="numbers of backends for P1, P2, P6, P7 and P8, comma-separated (default 5000,50000)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "n_backends" in metafunc.fixturenames:
        sizes = [int(x) for x in str(metafunc.config.getoption("--sizes")).split(",") if x.strip()]
        # module scope: the fake server of each size is started once for the tests that use it
        metafunc.parametrize("n_backends", sizes, scope="module", ids=[f"{n}" for n in sizes])


@pytest.fixture
def strict(request: pytest.FixtureRequest) -> bool:
    """Assert the goal: with --bench-strict, and only at the size the goals are set for."""
    n = request.node.callspec.params.get("n_backends") if hasattr(request.node, "callspec") else None
    return bool(request.config.getoption("--bench-strict")) and n in (None, 5000)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    tr = terminalreporter
    tr.section("Backend Manager performance goals (issues 7 and 16; goals are for 5,000 backends)")
    rows = [("id", "what", "goal", "measured", "status")]
    rows += [(r.id, r.what, r.goal, r.figure, "met" if r.met else "NOT MET") for r in sorted(RESULTS.values(), key=lambda r: r.id)]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for n, row in enumerate(rows):
        tr.write_line(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)))
        if n == 0:
            tr.write_line("-+-".join("-" * w for w in widths))
