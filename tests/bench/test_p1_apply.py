"""P1: apply a 5,000-backend ListBackends reply where 1% changed: parse + diff + model update.

Goal: ≤ 3 × json.loads of the same bytes, and ≥ 10 × faster than rebuilding the model with a reset.
The measured path is the product's: RemoteService's ListBackends decoder on the reply's bytes, then
BackendsModel.apply(), with the window's filter/sort proxy attached and sorted by ID as the window starts.
"""

from __future__ import annotations

import json
from collections.abc import Coroutine
from typing import Any

from PySide6.QtCore import Qt

from backend_manager_gui.core.list_decoder import BackendListDecoder
from backend_manager_gui.core.models import backends_from_wire
from backend_manager_gui.gui.backends_model import BackendsFilterModel, BackendsModel, Column
from tests.bench.conftest import record
from tests.bench.support import best_of, change_some, ms, populate, wire_reply
from tests.support.fake_swarm import BACKEND_TYPES, FakeSwarm


def drive(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that only ever yields to let others in (asyncio.sleep(0)) to its end, without a loop."""
    try:
        while True:
            coro.send(None)
    except StopIteration as stop:
        return stop.value


def make_model() -> tuple[BackendsModel, BackendsFilterModel]:
    model = BackendsModel()
    model.set_type_names({t["id"]: t["name"] for t in BACKEND_TYPES})
    proxy = BackendsFilterModel()
    proxy.setSourceModel(model)
    proxy.sort(Column.ID, Qt.SortOrder.AscendingOrder)
    return model, proxy


def reset_apply(model: BackendsModel, content: bytes) -> None:
    """The alternative: parse everything and rebuild every row behind a model reset."""
    snapshot = backends_from_wire(json.loads(content))
    model.beginResetModel()
    model._ids = list(snapshot)
    model._rows = {i: model._make_row(b) for i, b in snapshot.items()}
    model.endResetModel()


def test_p1_apply_one_percent_changed(qapp, benchmark, strict, n_backends):
    reply0 = wire_reply(populate(FakeSwarm(), n_backends))
    reply1 = change_some(reply0, 0.01)
    bytes0, bytes1 = json.dumps(reply0).encode(), json.dumps(reply1).encode()
    changed_rows = {row for row, key in enumerate(sorted(reply0, key=int)) if reply0[key] != reply1[key]}

    model, proxy = make_model()
    decoder = BackendListDecoder()
    model.apply(drive(decoder.decode(bytes0)))
    assert model.rowCount() == proxy.rowCount() == n_backends
    signalled: list[set[int]] = []  # the rows each apply() signalled as changed
    model.dataChanged.connect(lambda tl, br, roles=(): signalled[-1].update(range(tl.row(), br.row() + 1)))
    turn = [0]

    def apply_next() -> None:
        content = (bytes1, bytes0)[turn[0] % 2]
        turn[0] += 1
        signalled.append(set())
        model.apply(drive(decoder.decode(content)))

    benchmark.pedantic(apply_next, rounds=30, iterations=1, warmup_rounds=2)
    incremental_min = benchmark.stats.stats.min
    incremental_median = benchmark.stats.stats.median
    # what a person sees: the last reply applied, only the changed rows signalled
    last = (bytes1, bytes0)[(turn[0] - 1) % 2]
    assert model.backends() == backends_from_wire(json.loads(last))
    # every changed row signalled, each time; and no other row while the changes are few enough to be signalled
    # one by one (apply() signals one span above 64 changed rows)
    assert all(changed_rows <= rows for rows in signalled)
    if len(changed_rows) <= 64:
        assert all(rows == changed_rows for rows in signalled)

    loads_min, loads_median = best_of(lambda: json.loads(bytes1), 30)
    reset_model, _reset_proxy = make_model()
    reset_model.apply(backends_from_wire(reply0))
    reset_min, reset_median = best_of(lambda: reset_apply(reset_model, bytes1), 5)

    vs_loads = incremental_min / loads_min
    vs_reset = reset_min / incremental_min
    met = vs_loads <= 3.0 and vs_reset >= 10.0
    figure = f"{vs_loads:.2f} × json.loads, {vs_reset:.0f} × faster than reset ({ms(incremental_min)} vs {ms(loads_min)} vs {ms(reset_min)})"
    record(benchmark, "P1", "apply 5,000-backend reply, 1% changed", "≤ 3 × json.loads; ≥ 10 × faster than reset",
           figure, met, n=n_backends, incremental_ms=incremental_min * 1000, incremental_median_ms=incremental_median * 1000,
           json_loads_ms=loads_min * 1000, json_loads_median_ms=loads_median * 1000, reset_ms=reset_min * 1000,
           reset_median_ms=reset_median * 1000, reply_bytes=len(bytes1))
    print(f"\nP1 @ {n_backends:,}: {figure}; reply {len(bytes1) / 1e6:.1f} MB")
    if strict:
        assert met, figure
