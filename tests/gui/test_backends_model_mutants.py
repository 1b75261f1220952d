"""BackendsModel and its filter: what the mutation run of gui/backends_model.py found unchecked (docs/TESTING.md) —
the Queue column's wording and order, the Last used cell's thresholds, reasons found in a log (set_reason), the
URL column, the several-connection parts (names, labels, greyed rows), the signals a view repaints from, rows
keeping their selection when they move, and a filter that is sorted before it gets its table."""

from __future__ import annotations

import time
from dataclasses import replace

from PySide6.QtCore import QItemSelectionModel, Qt

from backend_manager_gui.core.links import WorkerLink
from backend_manager_gui.core.models import QUEUE_PENDING, QUEUE_RUNNING, Backend, BackendStatus
from backend_manager_gui.core.rowkeys import row_key
from backend_manager_gui.gui import backends_model
from backend_manager_gui.gui.backends_model import (
    BACKEND_ROLE,
    FROM_LOG,
    HEADER_TIPS,
    NO_REASON,
    BackendsFilterModel,
    BackendsModel,
    Column,
)

from .conftest import run
from .test_backends_model import _Repaints

TYPES = {"comfyui_selfstart": "ComfyUI Self-Starting", "comfyui_api": "ComfyUI API By URL"}
_D, _T, _F, _G = Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.FontRole, \
    Qt.ItemDataRole.ForegroundRole
_ASC, _DESC = Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder


def _b(i: int, status: BackendStatus = BackendStatus.RUNNING, **kw) -> Backend:
    kw.setdefault("type", "comfyui_selfstart")
    return Backend(id=i, status=status, **kw)


def _queued(i: int, running: int, pending: int) -> Backend:
    return _b(i, extra={QUEUE_RUNNING: running, QUEUE_PENDING: pending})


def _model(*backends: Backend) -> BackendsModel:
    model = BackendsModel()
    model.set_type_names(TYPES)
    model.apply({b.id: b for b in backends})
    return model


def _cell(model: BackendsModel, backend_id: int, col: Column, role=_D):
    row = model.row_of(backend_id)
    assert row is not None, backend_id
    return model.data(model.index(row, col), role)


def _signals(model: BackendsModel) -> list[tuple[int, int, int, int]]:
    """Each dataChanged as (first row, last row, first column, last column)."""
    events: list[tuple[int, int, int, int]] = []
    model.dataChanged.connect(lambda a, b, roles=(): events.append((a.row(), b.row(), a.column(), b.column())))
    return events


def _proxy(model, *, sort: tuple[int, Qt.SortOrder] | None = None, before: bool = False) -> BackendsFilterModel:
    """A filter over ``model``; ``sort`` applied after it has the model, or before (``before``)."""
    proxy = BackendsFilterModel()
    if sort is not None and before:
        proxy.sort(*sort)
    proxy.setSourceModel(model)
    if sort is not None and not before:
        proxy.sort(*sort)
    return proxy


def _shown(proxy, col: Column = Column.TITLE) -> list:
    return [proxy.index(r, col).data() for r in range(proxy.rowCount())]


# ---- the Queue column: its wording and its order ------------------------------------------------------------
def test_queue_text_wording(qapp):
    model = _model(_b(0), _queued(1, 0, 0), _queued(2, 1, 3), _queued(3, 2, 0), _queued(4, 0, 4))
    assert [_cell(model, i, Column.QUEUE) for i in range(5)] == [
        "", "0", "1 running · 3 waiting", "2 running", "4 waiting"]  # "" while the service does not tell


def test_queue_sorts_by_prompts_in_all_then_running_and_unknown_first(qapp):
    model = _model(_queued(0, 1, 0), _queued(1, 0, 1), _b(2), _queued(3, 2, 3), _queued(4, 0, 0), _queued(5, 0, 3))
    # not known (no queue from the service) first; then by prompts in all; equal totals: fewer running first
    assert _shown(_proxy(model, sort=(Column.QUEUE, _ASC)), Column.ID) == ["2", "4", "1", "0", "5", "3"]


# ---- the Last used cell: where each wording starts -----------------------------------------------------------
def test_short_time_since_thresholds(qapp):
    seconds = [0, 0.5, 59, 60, 119, 3599, 3600, 7199, 7200, 86399, 86400, 172799, 172800]
    model = _model(*(_b(i, seconds_since_used=s, time_since_used=f"{s} seconds ago") for i, s in enumerate(seconds)))
    assert [_cell(model, i, Column.LAST_USED) for i in range(len(seconds))] == [
        "just now", "just now", "just now", "1 min ago", "1 min ago", "59 min ago", "1 h ago", "1 h ago", "2 h ago",
        "23 h ago", "1 d ago", "1 d ago", "2 d ago"]
    # the tooltip keeps the service's own words
    assert _cell(model, 3, Column.LAST_USED, _T) == "60 seconds ago"


def test_a_time_below_zero_shows_the_services_words(qapp):
    model = _model(_b(0, seconds_since_used=-1, time_since_used="in the future"))
    assert _cell(model, 0, Column.LAST_USED) == "in the future"


# ---- set_reason: a reason found in the backend's log ---------------------------------------------------------
def test_set_reason_shows_in_details_with_where_it_came_from(qapp):
    model = _model(_b(0), _b(1, BackendStatus.ERRORED), _b(2, BackendStatus.ERRORED))
    assert _cell(model, 1, Column.DETAILS) == NO_REASON
    repaints = _Repaints(model)
    events = _signals(model)
    model.set_reason(1, "CUDA out of memory")
    assert model.reason(1) == "CUDA out of memory" and model.reason(2) is None
    assert _cell(model, 1, Column.DETAILS) == "CUDA out of memory"
    assert _cell(model, 1, Column.DETAILS, _T) == f"CUDA out of memory\n{FROM_LOG}"
    assert _cell(model, 1, Column.STATUS, _T) == f"CUDA out of memory\n{FROM_LOG}"
    assert _cell(model, 1, Column.DETAILS, _F).italic()  # still our words, not the service's
    # only that row, from its first changed cell to its last: Status (its tooltip) and Details
    assert events == [(1, 1, Column.STATUS, Column.DETAILS)]
    assert repaints.covers(1, Column.DETAILS, _D) and repaints.covers(1, Column.STATUS, _T)
    assert _cell(model, 2, Column.DETAILS) == NO_REASON
    model.set_reason(1, "CUDA out of memory")  # the same reason again: nothing to repaint
    assert len(events) == 1
    model.set_reason(1, "another")
    assert _cell(model, 1, Column.DETAILS) == "another" and len(events) == 2
    model.set_reason(1, None)  # taken away: the placeholder again
    assert model.reason(1) is None and _cell(model, 1, Column.DETAILS) == NO_REASON
    assert events[-1] == (1, 1, Column.STATUS, Column.DETAILS) and len(events) == 3
    model.set_reason(1, None)  # nothing to take away
    model.set_reason(2, "")  # an empty reason is none
    assert len(events) == 3 and model.reason(2) is None


def test_set_reason_stays_behind_the_services_own_message(qapp):
    model = _model(_b(0, BackendStatus.ERRORED, status_message="exited with code 1\ntraceback"))
    events = _signals(model)
    model.set_reason(0, "from the log")
    assert model.reason(0) == "from the log"
    assert _cell(model, 0, Column.DETAILS) == "exited with code 1"
    assert _cell(model, 0, Column.DETAILS, _T) == "exited with code 1\ntraceback"
    assert events == []  # nothing shown changed
    # once the service's message goes, the reason shows
    model.apply({0: replace(model.backend(0), status_message=None)})
    assert _cell(model, 0, Column.DETAILS) == "from the log"


def test_set_reason_for_a_row_not_there_yet_shows_when_it_arrives(qapp):
    model = _model(_b(0))
    events = _signals(model)
    model.set_reason(5, "port 8188 in use")
    assert events == [] and model.reason(5) == "port 8188 in use"
    model.apply({0: model.backend(0), 5: _b(5, BackendStatus.ERRORED)})
    assert _cell(model, 5, Column.DETAILS) == "port 8188 in use"


def test_a_reason_goes_with_its_row(qapp):
    model = _model(_b(0, BackendStatus.ERRORED), _b(1, BackendStatus.ERRORED))
    model.set_reason(1, "old trouble")
    model.apply({0: model.backend(0)})
    assert model.reason(1) is None
    model.apply({0: model.backend(0), 1: _b(1, BackendStatus.ERRORED)})
    assert _cell(model, 1, Column.DETAILS) == NO_REASON


def test_set_reason_on_a_table_sorted_by_details_moves_the_row(qapp):
    model = _model(*(_b(i, BackendStatus.ERRORED, status_message=m) for i, m in ((0, "b crash"), (2, "d crash"))),
                   _b(1, BackendStatus.ERRORED))
    proxy = _proxy(model, sort=(Column.DETAILS, _ASC))
    assert _shown(proxy, Column.ID) == ["0", "2", "1"]  # "b…", "d…", "no reason given…"
    model.set_reason(1, "c crash")
    assert _shown(proxy, Column.ID) == ["0", "1", "2"]
    assert _shown(proxy, Column.DETAILS) == ["b crash", "c crash", "d crash"]
    # sorted by another column: the reason changes nothing of the order
    proxy.sort(Column.ID, _DESC)
    model.set_reason(1, "a crash")
    assert _shown(proxy, Column.ID) == ["2", "1", "0"]


def test_set_reason_while_rows_are_worked_out_ahead(qapp, loop):
    model = _model(_b(0, BackendStatus.ERRORED))
    snapshot = {0: _b(0, BackendStatus.ERRORED, title="renamed")}
    run(loop, model.prepare(snapshot))
    model.set_reason(0, "found in the log")  # the row worked out ahead knew no reason
    model.apply(snapshot)
    assert _cell(model, 0, Column.TITLE) == "renamed" and _cell(model, 0, Column.DETAILS) == "found in the log"


# ---- prepare(): rows worked out once, ahead of apply() -------------------------------------------------------
def test_rows_worked_out_ahead_are_not_worked_out_again(qapp, loop):
    # the details provider runs once per row worked out: a count of what the product does, not of time
    worked: list[int] = []
    model = BackendsModel()
    model.set_details_provider(lambda b: (worked.append(b.id), ("", ""))[1])
    first = {i: _b(i, title=f"b{i}") for i in range(200)}
    run(loop, model.prepare(first, slice_s=0.0))  # a turn for the loop at every chance
    assert sorted(worked) == list(range(200))
    model.apply(first)
    assert len(worked) == 200 and _cell(model, 199, Column.TITLE) == "b199"  # none worked out again
    worked.clear()
    second = {**first, 5: replace(first[5], title="renamed"), 200: _b(200)}
    run(loop, model.prepare(second, slice_s=0.0))
    assert sorted(worked) == [5, 200]  # only the changed and the new
    model.apply(second)
    assert sorted(worked) == [5, 200] and _cell(model, 5, Column.TITLE) == "renamed"
    worked.clear()
    model.apply(second)  # the very same objects: not looked at
    model.apply({**second, 7: replace(second[7], title="x")})  # without prepare(): only that row
    assert worked == [7]


# ---- the URL column --------------------------------------------------------------------------------------------
def _linked_model() -> BackendsModel:
    model = BackendsModel()
    links = {0: WorkerLink("http://127.0.0.1:7821/"), 1: WorkerLink("http://gpu-box:7821/", "ssh -L 7821:…")}
    model.set_link_provider(lambda b: links.get(b.id))  # before any row arrives
    model.apply({i: _b(i, title=f"w{i}") for i in range(3)})
    return model


def test_the_url_column_shows_each_workers_page_and_how_to_open_it(qapp):
    model = _linked_model()
    assert [_cell(model, i, Column.URL) for i in range(3)] == ["http://127.0.0.1:7821/", "http://gpu-box:7821/", ""]
    assert _cell(model, 0, Column.URL, _T) == "http://127.0.0.1:7821/\nDouble-click to open it"
    assert _cell(model, 1, Column.URL, _T) == "http://gpu-box:7821/\nssh -L 7821:…"
    assert _cell(model, 2, Column.URL, _T) is None  # no page: nothing to say
    assert model.link(1) == WorkerLink("http://gpu-box:7821/", "ssh -L 7821:…")
    assert model.link(2) is None and model.link(9) is None
    # the page's tooltip is the URL cell's only: the other cells of the row say their own
    assert [_cell(model, 0, c, _T) for c in (Column.TITLE, Column.GPU, Column.QUEUE)] == [None, None, None]
    assert _cell(model, 0, Column.URL, _F) is None and _cell(model, 0, Column.URL, _G) is None
    assert _cell(model, 0, Column.ID, Qt.ItemDataRole.TextAlignmentRole) == \
        int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    # the provider taken away: no links
    model.set_link_provider(None)
    assert _cell(model, 0, Column.URL) == "" and model.link(0) is None


def test_the_url_column_sorts_by_address(qapp):
    model = _linked_model()
    assert _shown(_proxy(model, sort=(Column.URL, _DESC)), Column.ID) == ["1", "0", "2"]


def test_header_tooltips_explain_the_newer_columns(qapp):
    model = _model(_b(0))
    tips = [model.headerData(c, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole) for c in Column]
    assert tips == [HEADER_TIPS.get(c) for c in Column]
    assert tips[Column.QUEUE].startswith("Prompts running and waiting")
    assert model.headerData(Column.QUEUE, Qt.Orientation.Horizontal, Qt.ItemDataRole.FontRole) is None


# ---- several connections: names, labels, greyed rows ------------------------------------------------------------
def test_host_names_and_labels_with_one_two_or_no_connection_names(qapp):
    model = _model(_b(3, title="mine"), _b(row_key(1, 3), title="theirs"))
    assert model.label(model.backend(3)) == "mine (#3)"  # no names at all
    assert model.host_name(3) == "" and model.linked(3) is None
    model.set_host_names({0: "this computer"})  # one connection: no need to say where
    assert model.label(model.backend(3)) == "mine (#3)"
    assert model.host_name(3) == "this computer" and model.host_name(row_key(1, 3)) == ""
    # a connection without a name while another has one: an empty Host cell
    assert _cell(model, row_key(1, 3), Column.HOST) == "" and _cell(model, 3, Column.HOST) == "this computer"
    assert model.label(model.backend(row_key(1, 3))) == "theirs (#3)"
    model.set_host_names({0: "this computer", 1: "gpu-box:7801"})  # two: each label says where
    assert model.label(model.backend(3)) == "mine (#3 on this computer)"
    assert model.label(model.backend(row_key(1, 3)), quoted=True) == "“theirs” (#3 on gpu-box:7801)"
    assert model.host_name(row_key(1, 3)) == "gpu-box:7801"
    model.set_host_names({0: "this computer", 2: "swarm:7801"})  # two names, but not this row's connection
    assert model.label(model.backend(row_key(1, 3))) == "theirs (#3)"


def test_greying_signals_every_cell_of_the_connections_rows_for_colour_and_tooltip_only(qapp):
    model = _model(_b(0), _b(1), _b(row_key(1, 0)))
    model.set_host_names({0: "this computer", 1: "gpu-box:7801"})
    repaints = _Repaints(model)
    model.set_stale_hosts({})  # nothing greyed before, nothing now: no repaint
    assert repaints.ranges == []
    model.set_stale_hosts({1: time.monotonic()})
    # connection 1's row alone (the third), every column, only its colour and tooltip
    assert repaints.ranges == [(range(2, 3), range(0, len(Column)), {int(_G), int(_T)})]


def test_greying_an_empty_table_signals_nothing(qapp):
    model = BackendsModel()
    repaints = _Repaints(model)
    model.set_stale_hosts({1: time.monotonic()})
    assert repaints.ranges == []
    model.apply({row_key(1, 0): _b(row_key(1, 0))})  # rows arriving later are greyed all the same
    assert _cell(model, row_key(1, 0), Column.TITLE, _G).color().name() == "#6b6b6b"


def test_a_greyed_connection_without_a_name_is_the_connection(qapp):
    model = _model(_b(row_key(4, 2)))
    model.set_stale_hosts({4: time.monotonic() - 7200})
    assert _cell(model, row_key(4, 2), Column.STATUS, _T) == (
        "The connection is not answering: last seen 2 h ago. This row is what it showed then.")


def test_links_set_before_the_rows_arrive_show_in_the_host_column(qapp):
    model = BackendsModel()
    model.set_host_names({0: "this computer", 2: "swarm:7801"})
    model.set_links({0: "swarm:7801 #4"})
    model.apply({0: _b(0), row_key(2, 4): _b(row_key(2, 4))})
    assert _cell(model, 0, Column.HOST) == "this computer ⇄ swarm:7801 #4"
    assert _cell(model, row_key(2, 4), Column.HOST) == "swarm:7801"


def test_a_change_of_connection_names_repaints_the_host_column_of_many_rows(qapp):
    model = _model(*(_b(i) for i in range(100)))
    repaints = _Repaints(model)
    model.set_host_names({0: "this computer", 1: "gpu-box:7801"})
    assert all(repaints.covers(r, Column.HOST, _D) for r in range(100))
    assert _cell(model, 99, Column.HOST) == "this computer"


# ---- the signals of apply(): one span for many rows close together, one per row when scattered ---------------
def _changed_rows_signal(rows: list[int], total: int) -> list[tuple[int, int, int, int]]:
    model = _model(*(_b(i, title=f"b{i}") for i in range(total)))
    events = _signals(model)
    snapshot = model.backends()
    for r in rows:
        snapshot[r] = replace(snapshot[r], title=f"changed {r}")
    model.apply(snapshot)
    return events


def test_65_rows_changing_side_by_side_are_one_signal_over_every_column(qapp):
    assert _changed_rows_signal(list(range(2000, 2065)), 2100) == [(2000, 2064, 0, len(Column) - 1)]


def test_64_rows_changing_are_a_signal_each(qapp):
    assert _changed_rows_signal(list(range(64)), 100) == [(r, r, Column.TITLE, Column.TITLE) for r in range(64)]


def test_many_rows_scattered_far_apart_are_a_signal_each(qapp):
    # 65 changed rows spanning 32 × 65 rows or more: a span would make the filter look at every row between
    for rows in ([0, *range(2100, 2164)], [*range(64), 3000], [*range(64), 2080]):
        events = _changed_rows_signal(rows, 3001)
        assert events == [(r, r, Column.TITLE, Column.TITLE) for r in rows], rows[-3:]
    # just inside the bound: one span
    assert _changed_rows_signal([*range(64), 2079], 3001) == [(0, 2079, 0, len(Column) - 1)]


# ---- apply(): new rows' places ----------------------------------------------------------------------------------
def test_new_ids_all_before_an_existing_one_go_in_before_it(qapp):
    model = _model(_b(9))
    inserted: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _p, first, last: inserted.append((first, last)))
    model.apply({i: _b(i) for i in (1, 2, 9)})
    assert inserted == [(0, 1)]
    assert [model.index(r, Column.ID).data() for r in range(3)] == ["1", "2", "9"]


def test_rows_going_from_a_sorted_table_leave_the_others_found(qapp):
    model = _model(*(_b(i, title=t) for i, t in enumerate(("d", "b", "a", "c"))))
    model.sort_rows(Column.TITLE, _DESC)
    assert [model.row_of(i) for i in range(4)] == [0, 2, 3, 1]
    model.apply({0: model.backend(0), 2: model.backend(2)})
    assert [model.row_of(i) for i in range(4)] == [0, None, 1, None]


# ---- rows that move keep what the view holds on them ------------------------------------------------------------
def test_the_selection_and_current_cell_follow_their_backends_when_rows_are_reordered(qapp):
    model = _model(*(_b(i, title=t) for i, t in enumerate(("d", "b", "a", "c"))))
    selection = QItemSelectionModel(model)
    for backend_id in (0, 3):
        selection.select(model.index(model.row_of(backend_id), 0),
                         QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
    selection.setCurrentIndex(model.index(model.row_of(1), Column.TITLE), QItemSelectionModel.SelectionFlag.NoUpdate)

    def selected() -> list[int]:
        return sorted(model.data(i, BACKEND_ROLE).id for i in selection.selectedRows())

    model.sort_rows(Column.TITLE, _ASC)
    assert [model.index(r, Column.TITLE).data() for r in range(4)] == ["a", "b", "c", "d"]
    assert selected() == [0, 3]
    current = selection.currentIndex()
    assert (model.data(current, BACKEND_ROLE).id, current.column()) == (1, Column.TITLE)
    model.sort_rows(Column.TITLE, _DESC)
    assert selected() == [0, 3] and model.data(selection.currentIndex(), BACKEND_ROLE).id == 1


# ---- clear() ----------------------------------------------------------------------------------------------------
def test_a_cleared_sorted_table_finds_no_row_and_takes_new_ones(qapp):
    model = _model(_b(0, title="b"), _b(1, title="a"))
    model.sort_rows(Column.TITLE, _ASC)
    assert model.row_of(0) == 1
    model.clear()
    assert model.rowCount() == 0 and model.row_of(0) is None and model.row_of(1) is None
    model.apply({5: _b(5, title="z"), 6: _b(6, title="y")})
    assert [model.row_of(5), model.row_of(6)] == [1, 0]


# ---- the GPU column on first use -------------------------------------------------------------------------------
def test_the_gpu_column_reads_the_same_on_first_use_and_after(qapp, monkeypatch):
    # as in a fresh app: the GPU text's module is loaded when the first row needs it
    monkeypatch.setattr(backends_model, "_gpu_text", backends_model._load_gpu_text)
    model = _model(_b(0, settings={"GPU_ID": "1"}), _b(1, settings={"GPU_ID": "0,1"}), _b(2))
    assert [_cell(model, i, Column.GPU) for i in range(3)] == ["1", "0,1", ""]


# ---- the filter --------------------------------------------------------------------------------------------------
def test_the_filter_shows_a_row_that_comes_to_match_it(qapp):
    model = _model(_b(0, title="alpha"), _b(1, title="beta"))
    proxy = _proxy(model)
    proxy.set_filter_text("errored")
    assert proxy.rowCount() == 0
    model.apply({0: model.backend(0), 1: replace(model.backend(1), status=BackendStatus.ERRORED)})
    assert _shown(proxy) == ["beta"]
    model.apply({0: model.backend(0), 1: replace(model.backend(1), status=BackendStatus.RUNNING)})
    assert _shown(proxy) == []


def test_a_filter_with_no_table_yet_can_be_sorted_and_filtered(qapp):
    proxy = BackendsFilterModel()
    proxy.sort(Column.TITLE, _DESC)
    proxy.set_filter_text("a")
    assert proxy.rowCount() == 0 and proxy.sortColumn() == Column.TITLE


def test_a_filter_sorted_before_it_gets_its_table_sorts_by_that_column(qapp):
    model = _model(_b(0, title="c", enabled=False), _b(1, title="A"), _b(2, title="b"), _b(3, title="b"))
    proxy = _proxy(model, sort=(Column.TITLE, _ASC), before=True)
    assert _shown(proxy) == ["A", "b", "b", "c"]  # case does not matter
    assert _shown(proxy, Column.ID)[1:3] == ["2", "3"]  # equal titles stay in id order
    proxy.sort(Column.TITLE, _DESC)
    assert _shown(proxy) == ["c", "b", "b", "A"]
    descending = _proxy(model, sort=(Column.ENABLED, _DESC), before=True)
    assert _shown(descending, Column.ID)[-1] == "0"  # the disabled one last


def test_a_filter_sorted_before_it_gets_its_table_filters_by_text_and_connection(qapp):
    keys = {row_key(0, 0): "alpha here", row_key(1, 0): "alpha there", row_key(1, 1): "beta there",
            row_key(2, 0): "gamma"}
    model = _model(*(_b(k, title=t) for k, t in keys.items()))
    proxy = _proxy(model, sort=(Column.TITLE, _ASC), before=True)
    proxy.set_filter_text("alpha")
    assert _shown(proxy) == ["alpha here", "alpha there"]
    proxy.set_host_filter(1)
    assert _shown(proxy) == ["alpha there"]
    proxy.set_filter_text("")
    assert _shown(proxy) == ["alpha there", "beta there"]
    proxy.set_filter_text("there")
    assert _shown(proxy) == ["alpha there", "beta there"]
    proxy.set_host_filter(None)
    assert _shown(proxy) == ["alpha there", "beta there"]
    proxy.set_filter_text("")
    assert proxy.rowCount() == 4


def test_the_filter_sorts_another_table_in_the_order_asked(qapp):
    from PySide6.QtGui import QStandardItem, QStandardItemModel

    source = QStandardItemModel()
    for title in ("b", "c", "a"):
        row = [QStandardItem(title) for _ in Column]
        row[Column.TITLE].setData(title, Qt.ItemDataRole.UserRole + 2)
        source.appendRow(row)
    proxy = _proxy(source, sort=(Column.TITLE, _DESC))
    assert _shown(proxy) == ["c", "b", "a"]
    proxy.set_filter_text("b")  # filtered while sorted by a column
    assert _shown(proxy) == ["b"]

