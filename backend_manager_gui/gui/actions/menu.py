"""The QActions of the Backends menu, the toolbar and the table's context menu: their keys and tips, what each
starts (through ``ActionContext.spawn``), and when each is enabled. The window only places them."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from .. import icons
from ..backends_model import BACKEND_ROLE, Column
from . import gpus, rows, swarm, web
from .connect import ConnectActions
from .context import ActionContext
from .edit import edit_backend, fill_add_menu

Shortcut = QKeySequence | QKeySequence.StandardKey | str | Qt.Key


def unique_keys(shortcuts: Iterable[Shortcut]) -> list[QKeySequence]:
    """Expand standard keys and drop duplicates: Qt ignores a shortcut bound twice on one action as "ambiguous"
    (on X11 StandardKey.Quit is Ctrl+Q, so Quit + "Ctrl+Q" made Ctrl+Q do nothing)."""
    out: dict[str, QKeySequence] = {}
    for key in shortcuts:
        seqs = QKeySequence.keyBindings(key) if isinstance(key, QKeySequence.StandardKey) else [QKeySequence(key)]
        for seq in seqs:
            text = seq.toString()
            if text and text not in out:
                out[text] = seq
    return list(out.values())


def make_action(owner: QWidget, text: str, slot: Callable[[], object], *, icon: str = "",
                shortcuts: Iterable[Shortcut] = (), tip: str = "", table: QWidget | None = None) -> QAction:
    """An action whose keys work anywhere in ``owner``, or, given ``table``, only while the table has focus
    (keys that mean something while typing: Space, Del, Enter)."""
    act = QAction(text, owner)
    if icon:
        act.setIcon(icons.icon(icon))
    keys = unique_keys(shortcuts)
    if keys:
        act.setShortcuts(keys)
    if tip:
        act.setToolTip(tip + (f" ({keys[0].toString(QKeySequence.SequenceFormat.NativeText)})" if keys else ""))
        act.setStatusTip(tip)
    act.triggered.connect(lambda _checked=False: slot())
    if table is not None:
        act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        table.addAction(act)
    else:
        owner.addAction(act)
    return act


class BackendActions:
    """Every action on backends, as ``act_*`` QActions, and ``add_menu`` (one entry per backend type)."""

    def __init__(self, ctx: ActionContext, connect: ConnectActions) -> None:
        self.ctx = ctx
        self.connect = connect
        w, table = ctx.window, ctx.view.table
        self.act_add = QAction(icons.icon("add"), "Add", w)
        self.act_add.setToolTip("Add a backend")
        self.act_edit = make_action(w, "Edit…", self._on_edit_triggered, icon="edit", table=table,
                                    shortcuts=(Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_F2),
                                    tip="Change the selected backend's title and settings")
        self.act_duplicate = make_action(w, "Duplicate", self._on_duplicate_triggered, icon="duplicate",
                                         shortcuts=("Ctrl+D",), tip="Add a copy of each selected backend, on the next free GPU")
        self.act_delete = make_action(w, "Delete…", self._on_delete_triggered, icon="delete", table=table,
                                      shortcuts=(QKeySequence.StandardKey.Delete,), tip="Delete the selected backends")
        self.act_toggle = make_action(w, "Disable", self._on_toggle_triggered, icon="toggle", table=table,
                                      shortcuts=(Qt.Key.Key_Space,), tip="Enable or disable the selected backends")
        self.act_restart = make_action(w, "Restart", self._on_restart_triggered, icon="restart", shortcuts=("Ctrl+R",),
                                       tip="Restart the selected backends")
        self.act_restart_all = make_action(w, "Restart all", self._on_restart_all_triggered, shortcuts=("Ctrl+Shift+R",),
                                           tip="Restart every running or errored backend")
        self.act_free = make_action(w, "Free VRAM", lambda: self._on_free_triggered(False), icon="free-memory",
                                    tip="Unload models from GPU memory (selected backends, or all when none is selected)")
        self.act_free_ram = make_action(w, "Free VRAM + RAM", lambda: self._on_free_triggered(True),
                                        tip="Unload models from GPU memory and system memory")
        self.act_refresh = make_action(w, "Refresh", self._on_refresh_triggered, icon="refresh",
                                       shortcuts=("F5",), tip="Read the backend list now")
        self.act_per_gpu = make_action(w, "One backend per GPU", self._on_per_gpu_triggered, icon="gpu",
                                       tip="Add a ComfyUI self-starting backend for every GPU that has none")
        self.act_connect = make_action(w, "Connect…", self._on_connect_triggered, shortcuts=("Ctrl+O",),
                                       tip="Manage this computer's backends or a SwarmUI server's, instead of the "
                                           "connections open now (Add connection… opens one beside them)")
        self.act_add_connection = make_action(w, "Add connection…", self._on_add_connection_triggered,
                                              shortcuts=("Ctrl+Shift+O",),
                                              tip="Open a SwarmUI server or a serve box beside the connections open now")
        self.act_close_connection = make_action(w, "Close connection", self._on_close_connection_triggered,
                                                tip="Close the connection chosen in the Connections list")
        self.act_use_in_swarm = make_action(w, "Use in SwarmUI…", self._on_use_in_swarm_triggered,
                                            tip="Add the selected ComfyUI worker to an open SwarmUI server, which then "
                                                "sends generations to it")
        self.act_open = make_action(w, "Open in browser", self._on_open_triggered, icon="open-browser",
                                    shortcuts=("Ctrl+B",), tip="Open the selected workers' web pages in the browser")
        self.act_copy_url = make_action(w, "Copy URL", self._on_copy_url_triggered, shortcuts=("Ctrl+Shift+C",),
                                        tip="Copy the selected workers' web addresses")
        self.act_models_folder = make_action(w, "Set models folder…", self._on_models_folder_triggered,
                                             tip="Give every selected ComfyUI one shared models folder")
        self.add_menu = QMenu("Add", w)
        self.add_menu.setObjectName("add_menu")
        self.add_menu.aboutToShow.connect(self._on_add_menu_about_to_show)
        self.act_add.setMenu(self.add_menu)
        self.fill_add_menu()
        ctx.state_changed.connect(self.update)
        ctx.types_changed.connect(self.fill_add_menu)
        ctx.model.toggle_requested.connect(self._on_toggle_requested)
        table.doubleClicked.connect(self._on_row_double_clicked)

    def fill_add_menu(self) -> None:
        fill_add_menu(self.ctx, self.add_menu)

    def update(self) -> None:
        """Enable what the selection allows: rows with a request in flight cannot be acted on."""
        ctx = self.ctx
        chosen = ctx.view.selected_backends()
        some = bool(chosen)
        idle = some and not any(b.id in ctx.busy for b in chosen)
        for act in (self.act_duplicate, self.act_delete, self.act_toggle, self.act_restart):
            act.setEnabled(idle)
        self.act_edit.setEnabled(idle and len(chosen) == 1 and chosen[0].id not in ctx.editing)
        pages = bool(web.links_of(ctx, chosen))
        self.act_open.setEnabled(pages)
        self.act_copy_url.setEnabled(pages)
        # the types may not be known yet: then the action itself reads them and says what it can do
        self.act_models_folder.setEnabled(idle and (not ctx.types or any(web.has_models_folder(ctx, b) for b in chosen)))
        self.act_free.setEnabled(not some or idle)
        self.act_free_ram.setEnabled(not some or idle)
        # with nothing selected they act on every backend: say so on the button
        self.act_free.setText("Free VRAM" if some else "Free VRAM (all)")
        self.act_free_ram.setText("Free VRAM + RAM" if some else "Free VRAM + RAM (all)")
        self.act_restart_all.setEnabled(ctx.model.rowCount() > 0 and not ctx.busy)
        self.act_use_in_swarm.setEnabled(idle and len(chosen) == 1 and swarm.can_use_in_swarm(ctx, chosen[0]))
        self.act_close_connection.setEnabled(ctx.hosts.several and ctx.view.proxy.host_filter is not None)
        enable = some and not all(b.enabled for b in chosen)
        self.act_toggle.setText("Enable" if enable else "Disable")
        n = len(chosen)
        self.act_delete.setText(f"Delete {n} backends…" if n > 1 else "Delete…")

    # ---- what each action starts --------------------------------------------------------------
    def _on_add_menu_about_to_show(self) -> None:
        if not self.ctx.types:
            self.ctx.request_types()

    def _on_edit_triggered(self) -> None:
        chosen = self.ctx.view.selected_backends()
        if len(chosen) == 1 and chosen[0].id not in self.ctx.busy:
            self.ctx.spawn(edit_backend(self.ctx, chosen[0]), "Edit")

    def _on_row_double_clicked(self, index: QModelIndex | QPersistentModelIndex) -> None:
        if index.column() == Column.ENABLED:
            return  # that click was for the check box
        backend = index.data(BACKEND_ROLE)
        if index.column() == Column.URL and backend is not None and self.ctx.model.link(backend.id) is not None:
            web.open_pages(self.ctx, [backend])  # a double-click on the address opens it; elsewhere it edits
            return
        if backend is not None and backend.id not in self.ctx.busy:
            self.ctx.spawn(edit_backend(self.ctx, backend), "Edit")

    def _on_duplicate_triggered(self) -> None:
        chosen = self.ctx.idle_selection()
        if chosen:
            self.ctx.spawn(gpus.duplicate(self.ctx, chosen), "Duplicate")

    def _on_delete_triggered(self) -> None:
        chosen = self.ctx.idle_selection()
        if chosen:
            self.ctx.spawn(rows.delete(self.ctx, chosen), "Delete")

    def _on_toggle_triggered(self) -> None:
        chosen = self.ctx.idle_selection()
        if chosen:
            enable = not all(b.enabled for b in chosen)
            self.ctx.spawn(rows.toggle(self.ctx, chosen, enable), "Enable" if enable else "Disable")

    def _on_toggle_requested(self, backend_id: int, enabled: bool) -> None:
        backend = self.ctx.model.backend(backend_id)
        if backend is not None and backend_id not in self.ctx.busy:
            self.ctx.spawn(rows.toggle(self.ctx, [backend], enabled), "Enable" if enabled else "Disable")

    def _on_restart_triggered(self) -> None:
        chosen = self.ctx.idle_selection()
        if chosen:
            self.ctx.spawn(rows.restart(self.ctx, chosen), "Restart")

    def _on_restart_all_triggered(self) -> None:
        self.ctx.spawn(rows.restart_all(self.ctx), "Restart all")

    def _on_free_triggered(self, system_ram: bool) -> None:
        chosen = self.ctx.idle_selection()
        self.ctx.spawn(rows.free(self.ctx, chosen, system_ram), "Free VRAM + RAM" if system_ram else "Free VRAM")

    def _on_refresh_triggered(self) -> None:
        self.ctx.spawn(self.ctx.refresh(), "Refresh")

    def _on_per_gpu_triggered(self) -> None:
        self.ctx.spawn(gpus.one_backend_per_gpu(self.ctx), "One backend per GPU")

    def _on_open_triggered(self) -> None:
        web.open_pages(self.ctx, self.ctx.view.selected_backends())

    def _on_copy_url_triggered(self) -> None:
        web.copy_urls(self.ctx, self.ctx.view.selected_backends())

    def _on_models_folder_triggered(self) -> None:
        chosen = self.ctx.idle_selection()
        if chosen:
            self.ctx.spawn(web.set_models_folder(self.ctx, chosen), "Set models folder")

    def _on_connect_triggered(self) -> None:
        self.ctx.spawn(self.connect.connect_dialog(), "Connect")

    def show_links(self) -> None:
        """The linked pairs of workers and SwarmUI backends, while several connections are open."""
        if self.ctx.hosts.several or self.ctx.link_scans:
            swarm.show_links(self.ctx)

    def _on_use_in_swarm_triggered(self) -> None:
        chosen = self.ctx.idle_selection()
        if len(chosen) == 1:
            self.ctx.spawn(swarm.use_in_swarm(self.ctx, chosen[0]), "Use in SwarmUI")

    def _on_add_connection_triggered(self) -> None:
        self.ctx.spawn(self.connect.add_dialog(), "Add connection")

    def _on_close_connection_triggered(self) -> None:
        number = self.ctx.view.proxy.host_filter
        if number is not None:
            self.connect.close_requested.emit(number)
