"""BackendsModel and its filter, cell by cell: every role a view asks for, the Enabled box, the busy mark, each
column's sort, rows worked out ahead by prepare(). Mutation testing found these unchecked (docs/TESTING.md)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from PySide6.QtCore import QModelIndex, Qt

from backend_manager_gui.core.models import Backend, BackendStatus
from backend_manager_gui.gui import backends_model, icons
from backend_manager_gui.gui.backends_model import (
    HEADERS,
    NO_REASON,
    STATUS_HINT,
    BackendsFilterModel,
    BackendsModel,
    Column,
)

from .conftest import run
from .test_backends_model import _assert_every_changed_cell_is_repainted, _Repaints

TYPES = {"comfyui_selfstart": "ComfyUI Self-Starting", "comfyui_api": "ComfyUI API By URL"}
_D, _T, _F, _G = Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.FontRole, \
    Qt.ItemDataRole.ForegroundRole


def _b(i: int, status: BackendStatus = BackendStatus.RUNNING, **kw) -> Backend:
    kw.setdefault("type", "comfyui_selfstart")
    return Backend(id=i, status=status, **kw)


def _model(*backends: Backend) -> BackendsModel:
    model = BackendsModel()
    model.set_type_names(TYPES)
    model.apply({b.id: b for b in backends})
    return model


def _cell(model, backend_id: int, col: Column, role=_D):
    return model.data(model.index(model.row_of(backend_id), col), role)


def _changes(model) -> list[tuple]:
    events: list[tuple] = []
    model.dataChanged.connect(lambda a, b, roles=(): events.append((a.row(), b.row(), a.column(), b.column(),
                                                                    sorted(int(r) for r in roles))))
    return events


def test_the_enabled_box_asks_for_that_backend_and_that_state(qapp):
    model = _model(_b(3), _b(7, BackendStatus.DISABLED, enabled=False))
    asked: list[tuple[int, bool]] = []
    model.toggle_requested.connect(lambda i, e: asked.append((i, e)))
    box = model.index(model.row_of(7), Column.ENABLED)
    assert model.setData(box, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole) is True
    assert model.setData(box, False, Qt.ItemDataRole.CheckStateRole) is True  # a bool is taken as it is
    assert model.setData(box, True, Qt.ItemDataRole.CheckStateRole) is True
    assert asked == [(7, True), (7, False), (7, True)]
    # anything else is not a toggle: another column, another role, no cell
    assert model.setData(model.index(1, Column.TITLE), Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole) is False
    assert model.setData(box, "x", Qt.ItemDataRole.EditRole) is False
    assert model.setData(QModelIndex(), Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole) is False
    model.set_busy(7, True)  # a request in flight: the box cannot ask again
    assert model.setData(box, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole) is False
    assert asked == [(7, True), (7, False), (7, True)]


def test_every_cell_can_be_selected_and_only_the_enabled_box_ticked(qapp):
    model = _model(_b(0))
    plain = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
    for col in Column:
        want = plain | Qt.ItemFlag.ItemIsUserCheckable if col == Column.ENABLED else plain
        assert model.flags(model.index(0, col)) == want, col
    assert model.flags(QModelIndex()) == Qt.ItemFlag.NoItemFlags


def test_a_busy_row_shows_it_on_its_status_cell_only_and_signals_just_that(qapp):
    model = _model(_b(0), _b(4), _b(9))
    events = _changes(model)
    model.set_busy(4, True)
    assert model.is_busy(4)
    status_roles = sorted([int(Qt.ItemDataRole.DecorationRole.value), int(Qt.ItemDataRole.ToolTipRole.value)])
    assert events == [(1, 1, Column.STATUS, Column.STATUS, status_roles)]
    assert _cell(model, 4, Column.STATUS, Qt.ItemDataRole.DecorationRole).cacheKey() == icons.busy_icon().cacheKey()
    assert _cell(model, 0, Column.STATUS, Qt.ItemDataRole.DecorationRole).cacheKey() == \
        icons.status_icon(BackendStatus.RUNNING).cacheKey()
    model.set_busy(4, True)  # already busy: nothing to repaint
    assert len(events) == 1
    model.set_busy(4, False)
    assert not model.is_busy(4) and len(events) == 2
    assert _cell(model, 4, Column.STATUS, Qt.ItemDataRole.DecorationRole).cacheKey() == \
        icons.status_icon(BackendStatus.RUNNING).cacheKey()
    model.set_busy(5, True)  # no such row (yet): nothing to repaint
    assert len(events) == 2
    # a busy backend that goes away is not busy when it comes back
    model.set_busy(9, True)
    model.apply({0: model.backend(0), 4: model.backend(4)})
    model.apply({0: model.backend(0), 4: model.backend(4), 9: _b(9)})
    assert not model.is_busy(9) and model.flags(model.index(2, Column.ENABLED)) & Qt.ItemFlag.ItemIsUserCheckable


def test_rows_are_found_by_backend_id(qapp):
    model = _model(_b(2), _b(5), _b(8))
    assert [model.row_of(i) for i in (2, 5, 8)] == [0, 1, 2]
    assert [model.row_of(i) for i in (0, 3, 9)] == [None, None, None]
    assert model.backend(5).id == 5 and model.backend(6) is None


def test_headers_and_a_flat_table(qapp):
    model = _model(_b(0))
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in Column] == [HEADERS[c] for c in Column]
    assert model.headerData(Column.ID, Qt.Orientation.Horizontal) == "ID"
    assert model.headerData(0, Qt.Orientation.Vertical) is None
    assert model.headerData(Column.ID, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole) is None
    assert model.headerData(-1, Qt.Orientation.Horizontal) is None
    assert model.headerData(len(Column), Qt.Orientation.Horizontal) is None
    cell = model.index(0, 0)
    assert model.rowCount(cell) == 0 and model.columnCount(cell) == 0  # no row has children
    assert model.columnCount() == len(Column)


def test_no_cell_answers_for_a_row_that_is_not_there(qapp):
    model = _model(_b(0), _b(1))
    assert model.data(QModelIndex()) is None
    assert model.data(model.createIndex(2, 0)) is None  # an index kept from before a row went away


def test_what_each_cell_shows_beyond_its_text(qapp):
    model = _model(_b(0, title="Mine", status_message="ready at http://127.0.0.1:8188"), _b(1, title=""),
                   _b(2, BackendStatus.ERRORED))
    assert _cell(model, 0, Column.ENABLED) is None  # the box only, no text
    # a title nobody chose is set apart: italic, grey, and says so
    assert _cell(model, 1, Column.TITLE) == "ComfyUI Self-Starting"
    assert _cell(model, 1, Column.TITLE, _T) == "No title set: showing the type's name (Edit to give it one)"
    assert _cell(model, 1, Column.TITLE, _F).italic() and _cell(model, 1, Column.TITLE, _G).color().name() == "#6b6b6b"
    assert [_cell(model, 0, Column.TITLE, role) for role in (_T, _F, _G)] == [None, None, None]
    # the service's own words are plain; ours standing in for them are set apart
    assert _cell(model, 0, Column.DETAILS) == "ready at http://127.0.0.1:8188"
    assert _cell(model, 0, Column.DETAILS, _F) is None and _cell(model, 0, Column.DETAILS, _G) is None
    assert _cell(model, 2, Column.DETAILS) == NO_REASON and _cell(model, 2, Column.DETAILS, _F).italic()
    # numbers read right-aligned, words do not
    right = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    aligned = {c for c in Column if _cell(model, 0, c, Qt.ItemDataRole.TextAlignmentRole) == right}
    assert aligned == {Column.ID, Column.PORT}
    assert _cell(model, 0, Column.TITLE, Qt.ItemDataRole.TextAlignmentRole) is None


def test_each_status_has_its_colour_and_without_a_message_its_hint(qapp):
    backends_model._BRUSHES.clear()  # as in a fresh app: the first paint makes each colour's brush
    model = _model(*[_b(i, status) for i, status in enumerate(BackendStatus)])
    for i, status in enumerate(BackendStatus):
        assert _cell(model, i, Column.STATUS, _G).color() == icons.status_colour(status), status
        assert _cell(model, i, Column.STATUS, _T) == STATUS_HINT[status], status
    assert STATUS_HINT[BackendStatus.RUNNING] == "Running and ready for work."


def test_without_a_details_provider_a_server_backend_shows_no_port_nor_model_nor_time(qapp):
    model = _model(_b(0, settings={"GPU_ID": "1"}))
    assert [_cell(model, 0, c) for c in (Column.GPU, Column.PORT, Column.MODEL, Column.LAST_USED)] == ["1", "", "", ""]
    model.set_details_provider(lambda b: (f"GPU {b.id + 1}", str(8188 + b.id)))
    assert [_cell(model, 0, c) for c in (Column.GPU, Column.PORT)] == ["GPU 1", "8188"]


def _sorted_ids(model, col: Column, order=Qt.SortOrder.AscendingOrder) -> list[int]:
    proxy = BackendsFilterModel()
    proxy.setSourceModel(model)
    proxy.sort(col, order)
    return [int(proxy.index(r, Column.ID).data()) for r in range(proxy.rowCount())]


def test_each_column_sorts_the_way_a_person_reads_it(qapp):
    model = _model(
        _b(0, title="beta", enabled=False, time_since_used="Never", seconds_since_used=0),  # SwarmUI's "Never": last
        _b(1, title="Alpha", time_since_used="5 seconds ago", seconds_since_used=5),
        _b(2, title="gamma", time_since_used=None, seconds_since_used=None),  # no time at all: last too
        _b(3, title="delta", enabled=False, time_since_used="1 minute ago", seconds_since_used=60),
    )
    model.apply({**model.backends(), 5: _b(5, title="eps", time_since_used="never", seconds_since_used=3)})
    model.set_details_provider(lambda b: ({0: "10", 1: "2", 2: "", 3: "cpu", 5: "zz"}[b.id],
                                          {0: "9000", 1: "", 2: "81", 3: "700", 5: "81a"}[b.id]))
    assert _sorted_ids(model, Column.TITLE) == [1, 0, 3, 5, 2]  # case does not matter
    assert _sorted_ids(model, Column.ENABLED) == [0, 3, 1, 2, 5]  # disabled first
    # by time; "Never" (any case, whatever seconds came with it) and no time at all both last, in id order
    assert _sorted_ids(model, Column.LAST_USED) == [1, 3, 0, 2, 5]
    assert _sorted_ids(model, Column.GPU) == [1, 0, 3, 5, 2]  # numbers in numeric order, then words, then nothing
    # a leading number sorts by that number ("1: RTX 4090" in the GPU column; "81a" next to 81), nothing last
    assert _sorted_ids(model, Column.PORT) == [2, 5, 3, 0, 1]


def test_a_sorted_view_stays_sorted_as_rows_change_and_back_to_id_order(qapp):
    model = _model(_b(0, title="c"), _b(1, title="a"), _b(2, title="b"))
    proxy = BackendsFilterModel()
    proxy.setSourceModel(model)
    assert (proxy.sortColumn(), proxy.sortOrder()) == (-1, Qt.SortOrder.AscendingOrder)  # not sorted yet
    proxy.sort(Column.TITLE, Qt.SortOrder.DescendingOrder)
    assert (proxy.sortColumn(), proxy.sortOrder()) == (Column.TITLE, Qt.SortOrder.DescendingOrder)

    def ids() -> list[int]:
        return [int(proxy.index(r, Column.ID).data()) for r in range(proxy.rowCount())]

    assert ids() == [0, 2, 1]
    model.apply({0: model.backend(0), 1: replace(model.backend(1), title="z"), 2: model.backend(2)})
    assert ids() == [1, 0, 2]  # re-sorted by itself when a title changed
    proxy.sort(Column.ID, Qt.SortOrder.AscendingOrder)
    assert ids() == [0, 1, 2] and proxy.sortColumn() == Column.ID


def test_the_filter_works_on_any_source_model_too(qapp):
    from PySide6.QtGui import QStandardItem, QStandardItemModel

    source = QStandardItemModel()
    for title, type_, status in (("alpha", "ComfyUI", "Running"), ("beta", "API", "Errored"), ("", "x", "Idle")):
        row = [QStandardItem("") for _ in Column]
        row[Column.TITLE].setText(title)
        row[Column.TYPE].setText(type_)
        row[Column.STATUS].setText(status)
        row[Column.ID].setData(len(title), Qt.ItemDataRole.UserRole + 2)
        source.appendRow(row)
    proxy = BackendsFilterModel()
    proxy.setSourceModel(source)

    def titles() -> list[str]:
        return [proxy.index(r, Column.TITLE).data() for r in range(proxy.rowCount())]

    proxy.set_filter_text("ERRORED")
    assert titles() == ["beta"]
    proxy.set_filter_text("comfy")
    assert titles() == ["alpha"]
    proxy.set_filter_text("nothing like it")
    assert titles() == []
    proxy.set_filter_text("")
    proxy.sort(Column.ID, Qt.SortOrder.AscendingOrder)  # by the sort role: 0, 4, 5 characters
    assert titles() == ["", "beta", "alpha"]


def test_the_filter_keeps_up_with_rows_added_while_it_is_set(qapp):
    model = _model(_b(0, title="alpha"), _b(1, title="beta"))
    proxy = BackendsFilterModel()
    proxy.setSourceModel(model)
    proxy.set_filter_text("  ALPHA ")  # case and spaces do not matter
    assert proxy.rowCount() == 1
    model.apply({0: model.backend(0), 1: model.backend(1), 2: _b(2, title="alphabet"), 3: _b(3, title="gamma")})
    assert sorted(proxy.index(r, Column.TITLE).data() for r in range(proxy.rowCount())) == ["alpha", "alphabet"]
    proxy.set_filter_text("")
    assert proxy.rowCount() == 4


def test_rows_worked_out_ahead_are_the_rows_apply_would_make(qapp, loop):
    snapshot = {i: _b(i, title=f"b{i}", status=BackendStatus.LOADING) for i in range(200)}
    ahead = BackendsModel()
    ahead.set_type_names(TYPES)
    run(loop, ahead.prepare(snapshot, slice_s=0.0))  # a turn for the loop at every chance
    ahead.apply(snapshot)
    plain = _model(*snapshot.values())
    for i in (0, 57, 199):
        assert [_cell(ahead, i, c) for c in Column] == [_cell(plain, i, c) for c in Column]


def test_names_arriving_while_rows_are_worked_out_ahead_are_not_lost(qapp, loop):
    snapshot = {i: _b(i, title="") for i in range(500)}
    model = BackendsModel()

    async def prepare_while_names_arrive() -> None:
        task = asyncio.ensure_future(model.prepare(snapshot, slice_s=0.0))
        await asyncio.sleep(0)
        model.set_type_names(TYPES)  # the rows worked out so far have the old names
        await task

    run(loop, prepare_while_names_arrive())
    model.apply(snapshot)
    assert {_cell(model, i, Column.TITLE) for i in (0, 250, 499)} == {"ComfyUI Self-Starting"}


def test_a_row_worked_out_ahead_for_an_older_backend_is_not_used(qapp, loop):
    model = _model(_b(0, title="old"))
    run(loop, model.prepare({0: _b(0, title="ahead")}))
    model.apply({0: _b(0, title="newest")})  # not the object prepared
    assert _cell(model, 0, Column.TITLE) == "newest"


def test_a_details_provider_set_before_any_row_is_used_for_the_first_rows(qapp):
    model = BackendsModel()
    model.set_details_provider(lambda b: ("GPU 0", "7821"))
    model.apply({0: _b(0)})
    assert [_cell(model, 0, c) for c in (Column.GPU, Column.PORT)] == ["GPU 0", "7821"]


def test_a_title_left_empty_reads_as_the_types_name(qapp):
    model = _model()
    assert model.display_title(_b(0, title="")) == "ComfyUI Self-Starting"
    assert model.display_title(_b(0, title="Mine")) == "Mine"
    assert model.type_name("comfyui_api") == "ComfyUI API By URL" and model.type_name("custom") == "custom"
    assert model.display_title(_b(0, title="", type="custom")) == "custom"


def test_a_change_repaints_its_own_cells_and_not_the_status(qapp):
    model = _model(_b(0), _b(1, status_message="exited\nline 2"))
    repaints = _Repaints(model)
    model.apply({0: replace(model.backend(0), title="Renamed"), 1: model.backend(1)})
    assert repaints.covers(0, Column.TITLE, _D) and not repaints.covers(0, Column.STATUS, _D)
    # only the second line of a message changed: the cell reads the same, its tooltip (on Status) does not
    repaints.ranges.clear()
    model.apply({0: model.backend(0), 1: replace(model.backend(1), status_message="exited\nline 3")})
    assert repaints.covers(1, Column.STATUS, _T)


def test_a_server_restarting_every_worker_repaints_every_changed_cell(qapp):
    model = _model(*(_b(i, title=f"b{i}") for i in range(200)))
    new = {i: replace(b, status=BackendStatus.LOADING, status_message=f"restarting {i}") for i, b in model.backends().items()}
    repaints = _Repaints(model)
    model.apply(new)
    assert all(rows.start >= 0 and rows.stop <= 200 and cols.start >= 0 and cols.stop <= len(Column)
               for rows, cols, _roles in repaints.ranges), repaints.ranges
    model2 = _model(*(_b(i, title=f"b{i}") for i in range(200)))
    changed = _assert_every_changed_cell_is_repainted(model2, new)
    assert {row for row, _c, _n in changed} == set(range(200))
    assert {col for _r, col, _n in changed} >= {Column.STATUS, Column.DETAILS}


def test_new_ids_around_an_existing_one_go_in_at_their_places(qapp):
    model = _model(_b(3), _b(8))
    model.apply({i: _b(i) for i in (0, 1, 3, 5, 6, 8, 9)})
    assert [int(_cell(model, i, Column.ID)) for i in (0, 1, 3, 5, 6, 8, 9)] == [0, 1, 3, 5, 6, 8, 9]
    assert [model.index(r, Column.ID).data() for r in range(model.rowCount())] == ["0", "1", "3", "5", "6", "8", "9"]


def test_a_filter_set_before_a_row_arrives_finds_it_by_its_details(qapp):
    model = _model(_b(0))
    proxy = BackendsFilterModel()
    proxy.setSourceModel(model)
    proxy.set_filter_text("out of memory")
    assert proxy.rowCount() == 0
    model.apply({0: model.backend(0), 1: _b(1, BackendStatus.ERRORED, status_message="CUDA out of memory")})
    assert proxy.rowCount() == 1 and proxy.index(0, Column.ID).data() == "1"


async def _ticking(coro) -> tuple[int, object]:
    turns = 0
    done = False

    async def ticker() -> None:
        nonlocal turns
        while not done:
            turns += 1
            await asyncio.sleep(0)

    task = asyncio.ensure_future(ticker())
    await asyncio.sleep(0)
    turns = 0
    try:
        result = await coro
    finally:
        done = True
        await task
    return turns, result


def test_working_out_5000_rows_ahead_gives_the_loop_turns(qapp, loop):
    model = BackendsModel()
    model.set_type_names(TYPES)
    snapshot = {i: _b(i, title=f"b{i}") for i in range(5000)}
    turns, _ = run(loop, _ticking(model.prepare(snapshot)))
    # at least one turn (5,000 rows take far longer than one 5 ms slice on any machine), and no more than one per
    # 32 rows: it only ever yields for a turn, never sleeps
    assert 1 <= turns <= 5000 // 32 + 1, turns
    model.apply(snapshot)
    assert _cell(model, 4999, Column.TITLE) == "b4999"


def test_a_view_asking_through_the_sorted_filter_gets_the_right_rows_cells(qapp):
    from PySide6.QtCore import QModelRoleData, QModelRoleDataSpan

    model = _model(_b(0, title="b"), _b(1, BackendStatus.ERRORED, title="a", status_message="boom"), _b(2, title="c"))
    proxy = BackendsFilterModel()
    proxy.setSourceModel(model)
    proxy.sort(Column.TITLE, Qt.SortOrder.AscendingOrder)  # proxy row 0 is source row 1

    def asked(row: int, col: Column, role) -> object:  # the way a view's delegate asks (Qt 6: multiData)
        data = QModelRoleData(int(role))
        proxy.multiData(proxy.index(row, col), QModelRoleDataSpan(data))
        return data.data()

    assert [asked(0, Column.STATUS, role) for role in (_D, _T)] == ["Errored", "boom"]
    assert [asked(r, Column.TITLE, _D) for r in range(3)] == ["a", "b", "c"]


def test_the_model_and_its_filter_belong_to_their_window(qapp):
    from PySide6.QtCore import QObject

    window = QObject()
    model = BackendsModel(window)
    proxy = BackendsFilterModel(window)
    assert model.parent() is window and proxy.parent() is window  # they go when the window goes


def test_the_filter_sorts_a_source_with_mixed_sort_values_by_their_text(qapp):
    from PySide6.QtGui import QStandardItem, QStandardItemModel

    source = QStandardItemModel()
    for value in ("b", 2, "a", "2", "1"):
        row = [QStandardItem(str(value)) for _ in Column]
        row[Column.ID].setData(value, Qt.ItemDataRole.UserRole + 2)
        source.appendRow(row)
    proxy = BackendsFilterModel()
    proxy.setSourceModel(source)
    proxy.sort(Column.ID, Qt.SortOrder.AscendingOrder)
    # a number and a word cannot be compared: their texts are ("1" < "2" < "a" < "b"); equal texts keep their order
    assert [proxy.index(r, Column.TITLE).data() for r in range(proxy.rowCount())] == ["1", "2", "2", "a", "b"]
    assert [type(proxy.index(r, Column.ID).data(Qt.ItemDataRole.UserRole + 2)) for r in (1, 2)] == [int, str]
