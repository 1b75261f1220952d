"""BackendsModel with several connections: rows keyed by (connection, id), the Host column, greyed rows of a
connection that does not answer, linked pairs, and the proxy's connection filter — what the person reads."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt

from backend_manager_gui.core.models import Backend, BackendStatus
from backend_manager_gui.core.rowkeys import row_key
from backend_manager_gui.gui.backends_model import SORT_ROLE, BackendsFilterModel, BackendsModel, Column


def _b(key: int, title: str, status: BackendStatus = BackendStatus.RUNNING) -> Backend:
    return Backend(id=key, type="comfyui_api", status=status, title=title)


def _model(qapp) -> tuple[BackendsModel, dict[int, Backend]]:
    model = BackendsModel()
    model.set_host_names({0: "this computer", 1: "gpu-box:7801", 2: "swarm:7801"})
    snap = {b.id: b for b in (_b(row_key(0, 0), "here"), _b(row_key(1, 0), "box zero"), _b(row_key(1, 3), "box three"),
                              _b(row_key(2, 0), "swarm zero", BackendStatus.ERRORED))}
    model.apply(snap)
    return model, snap


def _text(model: BackendsModel, key: int, col: Column, role: int = Qt.ItemDataRole.DisplayRole) -> object:
    row = model.row_of(key)
    assert row is not None
    return model.index(row, col).data(role)


def test_equal_ids_on_different_connections_are_different_rows(qapp):
    model, _snap = _model(qapp)
    assert model.rowCount() == 4
    assert [_text(model, k, Column.ID) for k in (row_key(0, 0), row_key(1, 0), row_key(2, 0))] == ["0", "0", "0"]
    assert _text(model, row_key(1, 3), Column.ID) == "3"
    assert [_text(model, row_key(h, 0), Column.HOST) for h in range(3)] == ["this computer", "gpu-box:7801", "swarm:7801"]
    # rows in (connection, id) order; the Host column sorts by name
    assert [model.index(r, Column.TITLE).data() for r in range(4)] == ["here", "box zero", "box three", "swarm zero"]
    assert _text(model, row_key(1, 0), Column.HOST, SORT_ROLE) == "gpu-box:7801"
    model.sort_rows(Column.HOST, Qt.SortOrder.DescendingOrder)
    assert [model.index(r, Column.HOST).data() for r in range(4)] == ["this computer", "swarm:7801", "gpu-box:7801",
                                                                     "gpu-box:7801"]
    assert model.backend(row_key(1, 3)).title == "box three" and model.backend(row_key(2, 3)) is None


def test_a_label_names_the_connection_only_while_there_are_several(qapp):
    model, snap = _model(qapp)
    assert model.label(snap[row_key(1, 3)]) == "box three (#3 on gpu-box:7801)"
    assert model.label(snap[row_key(1, 3)], quoted=True) == "“box three” (#3 on gpu-box:7801)"
    model.set_host_names({})
    assert model.label(snap[row_key(0, 0)]) == "here (#0)"
    assert _text(model, row_key(0, 0), Column.HOST) == ""


def test_greyed_rows_of_a_connection_that_does_not_answer(qapp):
    model, _snap = _model(qapp)
    changes: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, roles=(): changes.append((a.row(), b.row())))
    seen = time.monotonic() - 40
    model.set_stale_hosts({1: seen})
    assert changes  # the rows are repainted grey
    grey = _text(model, row_key(1, 0), Column.TITLE, Qt.ItemDataRole.ForegroundRole)
    assert grey is not None and grey.color().name() == "#6b6b6b"
    tip = _text(model, row_key(1, 3), Column.STATUS, Qt.ItemDataRole.ToolTipRole)
    assert tip == "gpu-box:7801 is not answering: last seen just now. This row is what it showed then."
    assert model.stale_reason(row_key(1, 3)) is not None and model.stale_reason(row_key(0, 0)) is None
    # the other connections' rows stay as they were
    assert _text(model, row_key(0, 0), Column.TITLE, Qt.ItemDataRole.ForegroundRole) is None
    assert _text(model, row_key(2, 0), Column.STATUS, Qt.ItemDataRole.ToolTipRole) != tip
    changes.clear()
    model.set_stale_hosts({1: seen})  # nothing new: no repaint
    assert changes == []
    model.set_stale_hosts({})
    assert changes and _text(model, row_key(1, 0), Column.TITLE, Qt.ItemDataRole.ForegroundRole) is None
    assert model.stale_reason(row_key(1, 0)) is None


def test_a_minute_old_connection_says_so(qapp):
    model, _snap = _model(qapp)
    model.set_stale_hosts({2: time.monotonic() - 125})
    assert model.stale_reason(row_key(2, 0)) == ("swarm:7801 is not answering: last seen 2 min ago. "
                                                 "This row is what it showed then.")


def test_linked_pairs_show_in_the_host_column(qapp):
    model, _snap = _model(qapp)
    model.set_links({row_key(0, 0): "swarm:7801 #4", row_key(2, 0): "this computer #0"})
    assert _text(model, row_key(0, 0), Column.HOST) == "this computer ⇄ swarm:7801 #4"
    assert _text(model, row_key(2, 0), Column.HOST) == "swarm:7801 ⇄ this computer #0"
    assert _text(model, row_key(1, 0), Column.HOST) == "gpu-box:7801"
    assert model.linked(row_key(0, 0)) == "swarm:7801 #4" and model.linked(row_key(1, 0)) is None
    assert _text(model, row_key(0, 0), Column.HOST, Qt.ItemDataRole.ToolTipRole) == (
        "Linked with swarm:7801 #4: a SwarmUI backend and the worker it sends generations to (Use in SwarmUI…)")
    assert _text(model, row_key(1, 0), Column.HOST, Qt.ItemDataRole.ToolTipRole) is None
    model.set_links({})
    assert _text(model, row_key(0, 0), Column.HOST) == "this computer"


def test_the_proxy_shows_one_connection_and_the_filter_text_within_it(qapp):
    model, _snap = _model(qapp)
    proxy = BackendsFilterModel()
    proxy.setSourceModel(model)
    proxy.sort(-1)
    assert proxy.host_filter is None and proxy.rowCount() == 4
    proxy.set_host_filter(1)
    assert proxy.host_filter == 1
    assert [proxy.index(r, Column.TITLE).data() for r in range(proxy.rowCount())] == ["box zero", "box three"]
    proxy.set_filter_text("three")
    assert [proxy.index(r, Column.TITLE).data() for r in range(proxy.rowCount())] == ["box three"]
    proxy.set_filter_text("zero")
    assert [proxy.index(r, Column.TITLE).data() for r in range(proxy.rowCount())] == ["box zero"]
    proxy.set_host_filter(None)
    assert sorted(proxy.index(r, Column.TITLE).data() for r in range(proxy.rowCount())) == ["box zero", "swarm zero"]
    # the filter box finds a connection by its name
    proxy.set_filter_text("swarm:7801")
    assert [proxy.index(r, Column.TITLE).data() for r in range(proxy.rowCount())] == ["swarm zero"]
    # a row added to the chosen connection shows; one of another connection does not
    proxy.set_filter_text("")
    proxy.set_host_filter(2)
    model.apply({**{k: model.backend(k) for k in model.backends()}, row_key(2, 9): _b(row_key(2, 9), "new"),
                 row_key(1, 9): _b(row_key(1, 9), "other")})
    assert sorted(proxy.index(r, Column.TITLE).data() for r in range(proxy.rowCount())) == ["new", "swarm zero"]


def _scattered(runs: int) -> tuple[BackendsModel, list[tuple[int, int]]]:
    """Rows of two connections sorted by title so that connection 1's rows stand alone ``runs`` times."""
    model = BackendsModel()
    model.set_host_names({0: "here", 1: "there"})
    snap = {}
    for i in range(runs):
        snap[row_key(0, i)] = _b(row_key(0, i), f"t{i:03d}a")
        snap[row_key(1, i)] = _b(row_key(1, i), f"t{i:03d}b")
    model.apply(snap)
    model.sort_rows(Column.TITLE)
    signals: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, roles=(): signals.append((a.row(), b.row())))
    return model, signals


def test_greying_scattered_rows_signals_each_run_up_to_64_then_one_span(qapp):
    model, signals = _scattered(64)
    model.set_stale_hosts({1: time.monotonic()})
    # sorted by title, connection 1's rows are every other row: 64 runs of one row each, each its own signal
    assert signals == [(r, r) for r in range(1, 128, 2)]
    model, signals = _scattered(65)
    model.set_stale_hosts({1: time.monotonic()})
    # 65 runs: one span from its first row to its last (as apply() does for many scattered rows)
    assert signals == [(1, 129)]
    assert model.stale_reason(row_key(1, 64)) is not None and model.stale_reason(row_key(0, 64)) is None
