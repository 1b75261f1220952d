"""BackendsModel: what the table shows, and that a refresh touches only the rows that changed."""

from __future__ import annotations

import time
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt

from backend_manager_gui.core.models import Backend, BackendStatus
from backend_manager_gui.gui.backends_model import (
    BACKEND_ROLE,
    SORT_ROLE,
    BackendsFilterModel,
    BackendsModel,
    Column,
)

TYPES = {"comfyui_selfstart": "ComfyUI Self-Starting", "comfyui_api": "ComfyUI API By URL"}


def _b(i: int, status: BackendStatus = BackendStatus.RUNNING, **kw) -> Backend:
    kw.setdefault("type", "comfyui_selfstart")
    kw.setdefault("settings", {"GPU_ID": str(i)})
    return Backend(id=i, status=status, **kw)


def _snap(*backends: Backend) -> dict[int, Backend]:
    return {b.id: b for b in backends}


class _Spy:
    """Records the model's change signals as plain tuples."""

    def __init__(self, model: BackendsModel) -> None:
        self.events: list[tuple] = []
        model.dataChanged.connect(lambda a, b, roles=(): self.events.append(("changed", a.row(), b.row(), a.column(), b.column())))
        model.rowsInserted.connect(lambda _p, first, last: self.events.append(("inserted", first, last)))
        model.rowsRemoved.connect(lambda _p, first, last: self.events.append(("removed", first, last)))
        model.modelReset.connect(lambda: self.events.append(("reset",)))
        model.layoutChanged.connect(lambda *a: self.events.append(("layout",)))


def _text(model, row: int, col: Column) -> str:
    return model.data(model.index(row, col))


def test_model_passes_qt_model_tester(qtmodeltester):
    model = BackendsModel()
    model.set_type_names(TYPES)
    model.apply(_snap(_b(0), _b(1, BackendStatus.ERRORED, status_message="boom"), _b(4, BackendStatus.DISABLED, enabled=False)))
    qtmodeltester.check(model, force_py=True)
    model.apply(_snap(_b(1, BackendStatus.LOADING), _b(5)))
    qtmodeltester.check(model, force_py=True)


def test_rows_show_what_a_person_needs(qapp):
    model = BackendsModel()
    model.set_type_names(TYPES)
    model.apply(
        _snap(
            _b(0, title="Big GPU", current_model="sdxl/base.safetensors", time_since_used="42 seconds ago", seconds_since_used=42),
            _b(3, BackendStatus.ERRORED, title="", status_message="Process exited with code 1", enabled=False),
        )
    )
    assert [_text(model, 0, c) for c in (Column.ID, Column.TITLE, Column.TYPE, Column.STATUS, Column.MODEL, Column.LAST_USED)] == [
        "0", "Big GPU", "ComfyUI Self-Starting", "Running", "sdxl/base.safetensors", "just now",
    ]
    # Last used is short in its cell; the service's own words are its tooltip (issue 12 item 5)
    assert model.data(model.index(0, Column.LAST_USED), Qt.ItemDataRole.ToolTipRole) == "42 seconds ago"
    # an empty title shows the type's name; the status tooltip is the service's message
    assert _text(model, 1, Column.TITLE) == "ComfyUI Self-Starting"
    assert model.data(model.index(1, Column.STATUS), Qt.ItemDataRole.ToolTipRole) == "Process exited with code 1"
    assert model.data(model.index(1, Column.STATUS), Qt.ItemDataRole.DecorationRole) is not None
    assert model.data(model.index(0, Column.ENABLED), Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert model.data(model.index(1, Column.ENABLED), Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked
    # running and errored are told apart by colour, not only by words
    assert model.data(model.index(0, Column.STATUS), Qt.ItemDataRole.ForegroundRole).color() != model.data(
        model.index(1, Column.STATUS), Qt.ItemDataRole.ForegroundRole
    ).color()
    assert model.data(model.index(1, Column.ID), BACKEND_ROLE).id == 3


def test_apply_signals_only_the_rows_that_changed(qapp):
    model = BackendsModel()
    model.set_type_names(TYPES)
    base = _snap(_b(0), _b(1), _b(2), _b(3))
    model.apply(base)
    spy = _Spy(model)
    # the same snapshot again: nothing at all
    model.apply(dict(base))
    assert spy.events == []
    # one status changes: one dataChanged, on that row, on the Status column only
    changed = dict(base)
    changed[2] = replace(base[2], status=BackendStatus.LOADING)
    model.apply(changed)
    assert spy.events == [("changed", 2, 2, Column.STATUS, Column.STATUS)]
    assert _text(model, 2, Column.STATUS) == "Loading"


def test_greying_a_connection_signals_its_rows_alone_and_time_passing_nothing(qapp):
    from backend_manager_gui.core.rowkeys import row_key

    model = BackendsModel()
    model.set_type_names(TYPES)
    model.set_host_names({0: "A", 1: "B", 2: "C"})
    model.apply({row_key(h, i): _b(row_key(h, i)) for h in range(3) for i in range(4)})
    spy = _Spy(model)
    seen = time.monotonic() - 2
    model.set_stale_hosts({1: seen})
    # the four rows of connection 1 (rows 4-7 in id order), every column, once
    assert spy.events == [("changed", 4, 7, 0, len(Column) - 1)]
    tip = model.index(5, Column.TITLE).data(Qt.ItemDataRole.ToolTipRole)
    assert tip == "B is not answering: last seen just now. This row is what it showed then."
    assert model.index(5, Column.TITLE).data(Qt.ItemDataRole.ForegroundRole) is not None
    assert model.index(0, Column.TITLE).data(Qt.ItemDataRole.ToolTipRole) != tip
    spy.events.clear()
    # the same connection still grey: nothing is signalled (the tooltip's "last seen" is worked out when shown)
    model.set_stale_hosts({1: seen})
    assert spy.events == []
    # connection 1 back and 2 gone grey: both sets of rows signalled (side by side: one span), connection 0's not
    model.set_stale_hosts({2: time.monotonic() - 200})
    assert spy.events == [("changed", 4, 11, 0, len(Column) - 1)]
    assert model.stale_reason(row_key(1, 0)) is None
    assert model.stale_reason(row_key(2, 3)) == "C is not answering: last seen 3 min ago. This row is what it showed then."


def test_apply_inserts_and_removes_rows_never_resets(qapp):
    model = BackendsModel()
    model.apply(_snap(_b(0), _b(2), _b(5)))
    spy = _Spy(model)
    model.apply(_snap(_b(0), _b(1), _b(5), _b(7)))  # 1 and 7 new, 2 gone
    assert spy.events == [("removed", 1, 1), ("inserted", 1, 1), ("inserted", 3, 3)]
    assert [_text(model, r, Column.ID) for r in range(model.rowCount())] == ["0", "1", "5", "7"]
    spy.events.clear()
    model.apply({})
    assert spy.events == [("removed", 0, 3)]
    assert "reset" not in [e[0] for e in spy.events]


def test_type_names_arriving_late_update_titles(qapp):
    model = BackendsModel()
    model.apply(_snap(_b(0), _b(1, title="Mine")))
    assert _text(model, 0, Column.TITLE) == "comfyui_selfstart"
    spy = _Spy(model)
    model.set_type_names(TYPES)
    assert _text(model, 0, Column.TITLE) == "ComfyUI Self-Starting"
    assert _text(model, 1, Column.TITLE) == "Mine"
    assert ("reset",) not in spy.events


def test_ticking_enabled_asks_and_does_not_pretend(qapp):
    model = BackendsModel()
    model.apply(_snap(_b(0)))
    asked: list[tuple[int, bool]] = []
    model.toggle_requested.connect(lambda i, e: asked.append((i, e)))
    idx = model.index(0, Column.ENABLED)
    assert model.flags(idx) & Qt.ItemFlag.ItemIsUserCheckable
    model.setData(idx, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert asked == [(0, False)]
    # the box shows the service's truth until a snapshot says otherwise
    assert model.data(idx, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    # while a request is in flight the row cannot be toggled again
    model.set_busy(0, True)
    assert not model.flags(idx) & Qt.ItemFlag.ItemIsUserCheckable
    assert model.data(model.index(0, Column.STATUS), Qt.ItemDataRole.ToolTipRole) == "Waiting for the answer…"


def test_filter_and_sort(qapp):
    model = BackendsModel()
    model.set_type_names(TYPES)
    model.apply(
        _snap(
            _b(0, title="alpha", seconds_since_used=300, time_since_used="5 minutes ago"),
            _b(1, BackendStatus.ERRORED, title="beta", time_since_used="Never"),
            _b(2, type="comfyui_api", title="gamma", seconds_since_used=5, time_since_used="5 seconds ago"),
            _b(10, BackendStatus.DISABLED, title="delta", enabled=False, seconds_since_used=60, time_since_used="1 minute ago"),
        )
    )
    proxy = BackendsFilterModel()
    proxy.setSourceModel(model)

    def titles() -> list[str]:
        return [proxy.index(r, Column.TITLE).data() for r in range(proxy.rowCount())]

    proxy.sort(Column.ID, Qt.SortOrder.DescendingOrder)
    assert titles() == ["delta", "gamma", "beta", "alpha"]  # 10 > 2 as numbers, not as text
    proxy.sort(Column.LAST_USED, Qt.SortOrder.AscendingOrder)
    assert titles() == ["gamma", "delta", "alpha", "beta"]  # "Never" last
    proxy.sort(Column.STATUS, Qt.SortOrder.AscendingOrder)
    assert titles()[0] == "beta"  # errored first
    proxy.set_filter_text("API")  # matches the type name
    assert titles() == ["gamma"]
    proxy.set_filter_text("errored")  # matches the status
    assert titles() == ["beta"]
    proxy.set_filter_text("")
    assert len(titles()) == 4
    # a new row appears in the filtered, sorted view without a reset
    proxy.set_filter_text("a")
    model.apply({**{i: model.backend(i) for i in (0, 1, 2, 10)}, 11: _b(11, title="zeta")})
    assert "zeta" in titles()


def test_details_column_says_why_at_a_glance_and_the_filter_finds_it(qapp):
    model = BackendsModel()
    model.set_type_names(TYPES)
    reason = "exited with code 1: CUDA out of memory\nTraceback (most recent call last):\n  ..."
    model.apply(_snap(_b(0, status_message="running at http://127.0.0.1:8188"), _b(1, BackendStatus.ERRORED, status_message=reason), _b(2)))
    # the cell shows the first line, the tooltip the whole message; no message, no text
    assert [_text(model, r, Column.DETAILS) for r in range(3)] == ["running at http://127.0.0.1:8188", "exited with code 1: CUDA out of memory", ""]
    assert model.data(model.index(1, Column.DETAILS), Qt.ItemDataRole.ToolTipRole) == reason
    assert model.headerData(Column.DETAILS, Qt.Orientation.Horizontal) == "Details"
    spy = _Spy(model)
    model.apply(_snap(_b(0, status_message="running at http://127.0.0.1:8188"), _b(1, BackendStatus.ERRORED, status_message=reason),
                      _b(2, BackendStatus.LOADING, status_message="waiting for http://127.0.0.1:8190/object_info — 3 s")))
    assert spy.events and all(e[0] == "changed" and e[1] == e[2] == 2 for e in spy.events)
    proxy = BackendsFilterModel()
    proxy.setSourceModel(model)
    proxy.set_filter_text("out of memory")
    assert proxy.rowCount() == 1 and proxy.index(0, Column.ID).data() == "1"


def test_last_used_is_written_compactly(qapp):
    from backend_manager_gui.gui.backends_model import short_time_since

    cases = [(0, "Never"), (5, "5 seconds ago"), (200, "3 minutes 20 seconds ago"), (7 * 3600 + 60, "7 hours 1 minute ago"),
             (2 * 86400 + 5000, "2 days 1 hour ago"), (None, "a while ago"), (None, None)]
    assert [short_time_since(sec, text) for sec, text in cases] == [
        "Never", "just now", "3 min ago", "7 h ago", "2 d ago", "a while ago", ""]


# ---- what the view is told to repaint --------------------------------------------------------------------
# A view repaints a cell only when a dataChanged range (and its roles, when listed) covers it: a cell whose
# shown value changed outside every signalled range stays stale on screen although model.data() is right. The
# sort value counts too (a sorting proxy re-sorts on dataChanged); tooltips do not (a view asks for one on hover).
_SHOWN_ROLES = {
    "text": Qt.ItemDataRole.DisplayRole, "check": Qt.ItemDataRole.CheckStateRole,
    "icon": Qt.ItemDataRole.DecorationRole, "colour": Qt.ItemDataRole.ForegroundRole, "font": Qt.ItemDataRole.FontRole,
    "sort": SORT_ROLE,
}


def _shown(model: BackendsModel) -> dict[tuple[int, int, str], object]:
    """Every cell's every shown value, in comparable form."""
    out: dict[tuple[int, int, str], object] = {}
    for row in range(model.rowCount()):
        for col in range(model.columnCount()):
            idx = model.index(row, col)
            for name, role in _SHOWN_ROLES.items():
                value = model.data(idx, role)
                if name == "icon" and value is not None:
                    value = value.cacheKey()
                elif name == "colour" and value is not None:
                    value = value.color().name()
                elif name == "font" and value is not None:
                    value = (value.italic(), value.bold())
                elif name == "check" and value is not None:
                    value = Qt.CheckState(value)
                out[(row, col, name)] = value
    return out


class _Repaints:
    """The dataChanged signals a view connected to the model receives: (rows, columns, roles)."""

    def __init__(self, model: BackendsModel) -> None:
        self.ranges: list[tuple[range, range, set[int]]] = []
        model.dataChanged.connect(self._record)

    def _record(self, top_left, bottom_right, roles=()) -> None:
        self.ranges.append((range(top_left.row(), bottom_right.row() + 1),
                            range(top_left.column(), bottom_right.column() + 1), {int(r) for r in roles}))

    def covers(self, row: int, col: int, role: int) -> bool:
        return any(row in rows and col in cols and (not roles or int(role) in roles) for rows, cols, roles in self.ranges)


def _assert_every_changed_cell_is_repainted(model: BackendsModel, snapshot: dict[int, Backend]) -> list[tuple]:
    before = _shown(model)
    repaints = _Repaints(model)
    model.apply(snapshot)
    after = _shown(model)
    changed = [key for key in after if before.get(key) != after[key]]
    stale = [key for key in changed if not repaints.covers(key[0], key[1], _SHOWN_ROLES[key[2]])]
    assert stale == [], f"changed but never signalled to the view: {stale} (signalled: {repaints.ranges})"
    return changed


def test_a_change_in_several_columns_repaints_each_of_them(qapp):
    model = BackendsModel()
    model.set_type_names(TYPES)
    base = _snap(_b(0), _b(1), _b(2))
    model.apply(base)
    # title, status (text, icon, colour), model and details of one row change at once: columns 1, 3, 5, 9
    new = dict(base)
    new[1] = replace(base[1], title="Renamed", status=BackendStatus.ERRORED, status_message="exited with code 1",
                     current_model="sdxl.safetensors")
    changed = _assert_every_changed_cell_is_repainted(model, new)
    assert {(row, col) for row, col, _ in changed} == {(1, Column.TITLE), (1, Column.STATUS), (1, Column.MODEL), (1, Column.DETAILS)}
    # enabled (a check box, no text) and last used, far apart
    newer = dict(new)
    newer[2] = replace(base[2], enabled=False, time_since_used="3 seconds ago", seconds_since_used=3)
    changed = _assert_every_changed_cell_is_repainted(model, newer)
    assert {(row, col) for row, col, _ in changed} == {(2, Column.ENABLED), (2, Column.LAST_USED)}


def test_many_rows_changing_at_once_are_all_repainted(qapp):
    model = BackendsModel()
    model.set_type_names(TYPES)
    base = _snap(*(_b(i) for i in range(100)))
    model.apply(base)
    new = {i: replace(b, status=BackendStatus.LOADING, title=f"t{i}") if i % 2 else b for i, b in base.items()}
    changed = _assert_every_changed_cell_is_repainted(model, new)
    assert {row for row, _c, _n in changed} == set(range(1, 100, 2))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(
    st.sampled_from(list(BackendStatus)), st.sampled_from(["", "a", "B"]), st.booleans(),
    st.sampled_from([None, "", "boom", "two\nlines"]), st.sampled_from([None, "m1", "m2"]),
    st.sampled_from([None, "Never", "5 seconds ago"]), st.sampled_from(["comfyui_selfstart", "comfyui_api", "other"]),
), min_size=2, max_size=12), st.integers(0, 2**32))
def test_any_change_repaints_every_cell_it_changes(qapp, rows, seed):
    import random

    def backend(i: int, spec: tuple) -> Backend:
        status, title, enabled, message, current, used, type_ = spec
        return _b(i, status, title=title, enabled=enabled, status_message=message, current_model=current,
                  time_since_used=used, type=type_)

    rng = random.Random(seed)
    model = BackendsModel()
    model.set_type_names(TYPES)
    model.apply({i: backend(i, spec) for i, spec in enumerate(rows)})
    shuffled = rows[:]
    rng.shuffle(shuffled)  # each row takes another row's values: any mix of columns changes
    _assert_every_changed_cell_is_repainted(model, {i: backend(i, spec) for i, spec in enumerate(shuffled)})


def test_the_selection_stays_on_its_backends_while_the_filter_changes(qapp):
    from PySide6.QtCore import QItemSelectionModel

    model = BackendsModel()
    model.set_type_names(TYPES)
    model.apply(_snap(*(_b(i, title=f"{'gpu' if i % 3 else 'cpu'} node {i}") for i in range(30))))
    proxy = BackendsFilterModel()
    proxy.setSourceModel(model)
    selection = QItemSelectionModel(proxy)

    def selected_ids() -> list[int]:
        return sorted(proxy.data(i, BACKEND_ROLE).id for i in selection.selectedRows())

    for backend_id in (4, 7, 12):
        idx = proxy.mapFromSource(model.index(model.row_of(backend_id), 0))
        selection.select(idx, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
    assert selected_ids() == [4, 7, 12]
    proxy.set_filter_text("gpu")  # 4 and 7 stay in view (12 is a cpu node): they stay selected, on other rows
    assert selected_ids() == [4, 7]
    assert [proxy.data(i, BACKEND_ROLE).id for i in selection.selectedRows()] != [] and proxy.rowCount() == 20
    proxy.set_filter_text("gpu node 7")
    assert selected_ids() == [7]
    proxy.set_filter_text("")
    assert selected_ids() == [7]
    assert proxy.rowCount() == 30


# ---- the order a sorted, filtered table shows, whatever happens to the backends -------------------------------
_STATUSES = list(BackendStatus)


def _expected_order(model: BackendsModel, column: int, descending: bool, needle: str) -> list[int]:
    """Ids as the table must show them: by the column's sort value, equal values in id order; the filter applied."""
    backends = {i: model.backend(i) for i in sorted(model.backends())}
    keys = {i: model.sort_key(model.row_of(i), column) for i in backends}
    shown = [i for i in backends if not needle or needle in model.search_text(model.row_of(i))]
    return sorted(shown, key=lambda i: keys[i], reverse=descending)


def _shown_order(proxy: BackendsFilterModel) -> list[int]:
    return [proxy.data(proxy.index(r, 0), BACKEND_ROLE).id for r in range(proxy.rowCount())]


_backend_states = st.lists(
    st.tuples(st.integers(0, 40), st.sampled_from(_STATUSES), st.sampled_from(["", "alpha", "beta", "gamma"]),
              st.integers(0, 3)),
    max_size=25,
).map(lambda items: {i: _b(i, status, title=title, seconds_since_used=used * 60,
                           time_since_used=f"{used} minutes ago", enabled=status is not BackendStatus.DISABLED)
                     for i, status, title, used in items})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(snapshots=st.lists(_backend_states, min_size=1, max_size=5),
       column=st.sampled_from([Column.ID, Column.TITLE, Column.STATUS, Column.LAST_USED, Column.ENABLED]),
       descending=st.booleans(), needle=st.sampled_from(["", "a", "errored", "gamma"]), sort_first=st.booleans())
def test_a_sorted_filtered_table_keeps_its_order_as_backends_come_go_and_change(
        qapp, snapshots, column, descending, needle, sort_first):
    model = BackendsModel()
    model.set_type_names(TYPES)
    proxy = BackendsFilterModel()
    proxy.setSourceModel(model)
    order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
    if sort_first:
        proxy.sort(column, order)
    proxy.set_filter_text(needle)
    for n, snapshot in enumerate(snapshots):
        model.apply(snapshot)
        if n == 0 and not sort_first:
            proxy.sort(column, order)
        assert _shown_order(proxy) == _expected_order(model, column, descending, needle)
        assert sorted(model.backends()) == sorted(snapshot) and list(model.backends()) == sorted(snapshot)
        for i in snapshot:  # a row is found by its id, whatever the order
            assert model.backend(i) is not None and model.data(model.index(model.row_of(i), 0), BACKEND_ROLE).id == i
    proxy.set_filter_text("")
    assert _shown_order(proxy) == _expected_order(model, column, descending, "")


def test_a_table_sorted_by_status_follows_each_change_of_status(qapp):
    model = BackendsModel()
    proxy = BackendsFilterModel()
    proxy.setSourceModel(model)
    proxy.sort(Column.STATUS, Qt.SortOrder.AscendingOrder)
    base = _snap(*(_b(i) for i in range(6)))
    model.apply(base)
    assert _shown_order(proxy) == [0, 1, 2, 3, 4, 5]  # all running: id order
    # 4 errors (worst first), 1 starts loading; nothing else changes
    model.apply({**base, 4: replace(base[4], status=BackendStatus.ERRORED), 1: replace(base[1], status=BackendStatus.LOADING)})
    assert _shown_order(proxy) == [4, 1, 0, 2, 3, 5]
    assert [model.backend(i).status for i in _shown_order(proxy)][:2] == [BackendStatus.ERRORED, BackendStatus.LOADING]
    proxy.sort(Column.STATUS, Qt.SortOrder.DescendingOrder)
    assert _shown_order(proxy) == [0, 2, 3, 5, 1, 4]  # equal statuses stay in id order either way
    proxy.sort(Column.ID, Qt.SortOrder.AscendingOrder)
    assert _shown_order(proxy) == [0, 1, 2, 3, 4, 5] and [model.row_of(i) for i in range(6)] == list(range(6))
