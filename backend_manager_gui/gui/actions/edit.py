"""Add a backend (the Add menu, one entry per type the service offers) and edit one in its dialog."""

from __future__ import annotations

from PySide6.QtWidgets import QMenu, QMessageBox

from ...core.errors import BackendServiceError
from ...core.models import Backend, BackendType
from ...core.rowkeys import backend_number, host_of, row_key
from .. import icons
from ..tasks import ask, describe_error
from .choose import choose_connection
from .context import ActionContext


async def edit_backend(ctx: ActionContext, backend: Backend) -> Backend | None:
    """Open the edit dialog for ``backend``; the table shows the result once saved."""
    if backend.id in ctx.editing:
        return None
    from ..dialogs import edit_backend_dialog

    btype = ctx.types_for(backend.id).get(backend.type)
    if btype is None and not ctx.types_for(backend.id):
        await ctx.load_types()
        btype = ctx.types_for(backend.id).get(backend.type)
    ctx.editing.add(backend.id)
    ctx.state_changed.emit()
    try:
        edited = await edit_backend_dialog(ctx.window, ctx.service, backend, btype)
    finally:
        ctx.editing.discard(backend.id)
        ctx.state_changed.emit()
    if edited is not None:
        chosen = [b.id for b in ctx.view.selected_backends()]
        await ctx.refresh()
        now = [b.id for b in ctx.view.selected_backends()]
        # follow the edited row (its id may have moved), unless the person picked another row meanwhile
        if not now or now == chosen:
            ctx.view.select_backends([edited.id])
    return edited


async def add_backend(ctx: ActionContext, btype: BackendType, *, edit: bool = True) -> Backend | None:
    """Add a backend of ``btype`` (asking first for an advanced type), then open it in the edit dialog; Cancel there
    deletes it again. The saved backend, or None when nothing was added."""
    if not btype.is_standard:
        description = btype.description.strip()
        ok = await ask(
            ctx.window, "Add an advanced backend",
            f"“{btype.name}” is for advanced users.",
            informative=(description + "\n\n" if description else "")
            + "It is not a standard backend type: it may need extra setup and can break generation if misconfigured.",
            accept="Add anyway", icon=QMessageBox.Icon.Warning, object_name="confirm_advanced",
        )
        if not ok:
            return None
    chosen = ctx.view.selected_backends()
    number = await choose_connection(
        ctx, f"Add {btype.name}", f"Add a {btype.name} backend on:", "Add",
        allowed=[h.number for h in ctx.hosts if btype.id in h.types or not h.types],
        default=host_of(chosen[0].id) if chosen else None)
    if number is None:
        return None
    try:
        new = await ctx.service.add_backend(btype.id, host=number)
    except BackendServiceError as exc:
        ctx.message_bar.show_error(f"Could not add {btype.name}: {describe_error(exc, ctx.where_of(row_key(number, 0)))}")
        return None
    await ctx.refresh()
    ctx.view.select_backends([new.id])
    if not edit:
        return new
    edited = await edit_backend(ctx, ctx.model.backend(new.id) or new)
    if edited is None:
        # Cancel on a backend that was just added takes the Add back: nothing half set up is left behind
        await _take_back(ctx, new, btype)
    return edited


async def _take_back(ctx: ActionContext, new: Backend, btype: BackendType) -> None:
    try:
        await ctx.service.delete_backend(new.id)
    except BackendServiceError as exc:
        ctx.message_bar.show_error(
            f"Could not remove the new {btype.name} backend (#{backend_number(new.id)}) after Cancel: "
            f"{describe_error(exc, ctx.where_of(new.id))}"
        )
    await ctx.refresh()


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def fill_add_menu(ctx: ActionContext, menu: QMenu) -> None:
    """One entry per type the service offers: standard ones first, advanced ones in a submenu. The empty table's
    hint names the same standard entries."""
    menu.clear()
    types = list(ctx.types.values())
    ctx.view.set_add_choices([(t.name, _first_line(t.description)) for t in types if t.is_standard])
    if not types:
        placeholder = menu.addAction("Reading backend types…")
        placeholder.setEnabled(False)
        return
    for t in types:
        if t.is_standard:
            _add_type_action(ctx, menu, t)
    advanced = [t for t in types if not t.is_standard]
    if advanced:
        menu.addSeparator()
        sub = menu.addMenu(icons.icon("warning"), "Advanced")
        sub.setObjectName("advanced_menu")
        sub.setToolTipsVisible(True)
        for t in advanced:
            _add_type_action(ctx, sub, t)
    menu.setToolTipsVisible(True)


def _add_type_action(ctx: ActionContext, menu: QMenu, btype: BackendType) -> None:
    act = menu.addAction(btype.name)
    act.setObjectName(f"add_{btype.id}")
    act.setData(btype.id)
    first_line = _first_line(btype.description)
    act.setToolTip(first_line or btype.id)
    act.setStatusTip(first_line)
    act.triggered.connect(lambda _checked=False, t=btype: ctx.spawn(add_backend(ctx, t), f"Add {t.name}"))
