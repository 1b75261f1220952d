"""Actions on what workers share with the person: their web pages (Open in browser, Copy URL; which URL is
core/links.py's call) and one models folder for every selected ComfyUI (Set models folder…)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QLineEdit

from ...core.links import WorkerLink
from ...core.models import Backend
from ..tasks import wait_dialog
from .context import ActionContext

#: The setting "Set models folder…" fills (the embedded manager's ComfyUI self-starting workers have it).
MODELS_SETTING = "ModelsFolder"
#: Pages opened by one Open in browser at most: a selection of 500 rows must not open 500 tabs.
MAX_PAGES = 12


def links_of(ctx: ActionContext, backends: list[Backend]) -> list[tuple[Backend, WorkerLink]]:
    """The selected backends that have a page, with the link to it."""
    out = []
    for b in backends:
        link = ctx.model.link(b.id)
        if link is not None:
            out.append((b, link))
    return out


def _tell_hints(ctx: ActionContext, links: list[tuple[Backend, WorkerLink]], done: str) -> None:
    hints = [f"{ctx.names([b])}: {link.hint}" for b, link in links if link.hint]
    if hints:
        ctx.message_bar.show_info(f"{done}\n" + "\n".join(hints))
    else:
        ctx.done(done)


def open_pages(ctx: ActionContext, backends: list[Backend]) -> None:
    """Open each selected worker's page in the browser (the desktop's own handler for http URLs)."""
    links = links_of(ctx, backends)
    if not links:
        ctx.message_bar.show_info("None of the selected backends has a web page (or it is not running).")
        return
    for _b, link in links[:MAX_PAGES]:
        QDesktopServices.openUrl(QUrl(link.url))
    opened = ", ".join(link.url for _b, link in links[:MAX_PAGES])
    more = f" (the first {MAX_PAGES} of {len(links)})" if len(links) > MAX_PAGES else ""
    _tell_hints(ctx, links[:MAX_PAGES], f"Opened {opened}{more}.")


def copy_urls(ctx: ActionContext, backends: list[Backend]) -> None:
    """Put the selected workers' URLs on the clipboard, one a line."""
    links = links_of(ctx, backends)
    if not links:
        ctx.message_bar.show_info("None of the selected backends has a web page (or it is not running).")
        return
    text = "\n".join(link.url for _b, link in links)
    QGuiApplication.clipboard().setText(text)
    _tell_hints(ctx, links, f"Copied {text.replace(chr(10), ', ')}.")


def has_models_folder(ctx: ActionContext, backend: Backend) -> bool:
    btype = ctx.types_for(backend.id).get(backend.type)  # the type as the backend's own connection describes it
    return btype is not None and btype.setting(MODELS_SETTING) is not None


async def set_models_folder(ctx: ActionContext, backends: list[Backend]) -> None:
    """Ask for one models folder and set it on every selected backend that has the setting (each restarts)."""
    if ctx.types_missing():
        await ctx.load_types()
    chosen = [b for b in backends if has_models_folder(ctx, b)]
    if not chosen:
        ctx.message_bar.show_info(f"None of the selected backends has a {MODELS_SETTING} setting "
                                  "(ComfyUI self-starting workers of this computer or of serve have one).")
        return
    current = next((str(b.settings.get(MODELS_SETTING) or "") for b in chosen if b.settings.get(MODELS_SETTING)), "")
    what = f"{len(chosen)} workers" if len(chosen) > 1 else ctx.names(chosen)
    host = ctx.host
    if host is not None and all(host.owns(b.id) for b in chosen):  # a folder of this computer: pick it
        folder = await _choose_folder(ctx, f"Models folder for {what}", current)
    else:
        folder = await _type_folder(ctx, f"Models folder for {what}", current)
    if folder is None:
        return
    results = await ctx.on_each("set the models folder of", chosen, lambda b: ctx.service.edit_backend(
        b.id, b.title, {**b.settings, MODELS_SETTING: folder}))
    done = sum(1 for r in results if isinstance(r, Backend))
    skipped = len(backends) - len(chosen)
    if done:
        note = f" ({skipped} without that setting left as they were)" if skipped else ""
        ctx.done(f"Models folder {folder} set on {done} backend{'s' if done != 1 else ''}; they restart.{note}", 8000)


async def _choose_folder(ctx: ActionContext, title: str, current: str) -> str | None:
    """A folder of this computer, picked in a folder dialog opened with open() (no nested event loop)."""
    start = Path(current).expanduser() if current else Path.home()
    dialog = QFileDialog(ctx.window, title, str(start if start.is_dir() else Path.home()))
    dialog.setObjectName("modelsFolderDialog")
    dialog.setFileMode(QFileDialog.FileMode.Directory)
    dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
    picked: list[str] = []
    dialog.fileSelected.connect(picked.append)
    try:
        result = await wait_dialog(dialog)
    finally:
        dialog.deleteLater()
    return picked[-1] if result == QDialog.DialogCode.Accepted and picked else None


async def _type_folder(ctx: ActionContext, title: str, current: str) -> str | None:
    """A folder on the server's computer, typed (a file dialog here would show this computer's folders)."""
    dialog = QInputDialog(ctx.window)
    dialog.setObjectName("modelsFolderInput")
    dialog.setWindowTitle(title)
    dialog.setLabelText(f"A folder on {ctx.where}'s computer, holding checkpoints/, loras/, vae/ …:")
    dialog.setTextEchoMode(QLineEdit.EchoMode.Normal)
    dialog.setTextValue(current)
    try:
        result = await wait_dialog(dialog)
        text = dialog.textValue().strip()
    finally:
        dialog.deleteLater()
    return text if result == QDialog.DialogCode.Accepted and text else None
