"""Actions on the chosen rows, or on every backend: enable/disable, restart, free memory, delete."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from ...core.models import Backend
from ..tasks import ask
from .choose import choose_connections
from .context import ActionContext


def _plural(n: int) -> str:
    return f"{n} backend{'s' if n != 1 else ''}"


async def toggle(ctx: ActionContext, backends: list[Backend], enabled: bool) -> None:
    await ctx.on_each("enable" if enabled else "disable", backends, lambda b: ctx.service.toggle_backend(b.id, enabled))


def _failed(results: list[object]) -> bool:
    return any(isinstance(r, BaseException) for r in results)


async def restart(ctx: ActionContext, backends: list[Backend]) -> None:
    results = await ctx.on_each("restart", backends, lambda b: ctx.service.restart_backends(b.id))
    restarted = sum(r for r in results if isinstance(r, int))
    # what failed is in the message bar already: no "Restarted 0 backends." beside it
    if restarted:
        ctx.done(f"Restarted {_plural(restarted)}.")
    elif not _failed(results):
        ctx.message_bar.show_info("Nothing was restarted: only running or errored backends restart.")


async def restart_all(ctx: ActionContext) -> None:
    numbers = await choose_connections(ctx, "Restart all", "Restart every running or errored backend of:", "Restart")
    if not numbers:
        return
    count = await ctx.on_all("restart all backends", lambda s: s.restart_backends("all"), numbers)
    if count is not None:
        ctx.done(f"Restarted {_plural(count)}.")


async def free(ctx: ActionContext, backends: list[Backend], system_ram: bool) -> None:
    """Free the memory of ``backends``, or of every backend when none is given."""
    what = "GPU and system memory" if system_ram else "GPU memory"
    failed = False
    if backends:
        results = await ctx.on_each("free memory of", backends,
                                    lambda b: ctx.service.free_memory(system_ram=system_ram, backend=b.id))
        failed = _failed(results)
        count: int | None = sum(r for r in results if isinstance(r, int))
    else:
        numbers = await choose_connections(ctx, "Free memory", f"Free {what} of every backend of:", "Free")
        if not numbers:
            return
        count = await ctx.on_all(f"free {what}", lambda s: s.free_memory(system_ram=system_ram, backend="all"), numbers)
    if count:
        ctx.done(f"Freed {what} on {_plural(count)}.")
    elif count == 0 and not failed:
        ctx.message_bar.show_info(f"Nothing to free: no running backend held {what}.")
    # else refused or failed: the message bar says why


async def delete(ctx: ActionContext, backends: list[Backend]) -> None:
    """Ask, then delete ``backends``."""
    n = len(backends)
    if n == 1:
        text = f"Delete {ctx.names(backends, limit=10)}?"
    else:
        text = f"Delete these {n} backends?\n\n" + "\n".join(
            f"• {ctx.model.label(b)}" for b in backends[:15]
        ) + (f"\n• and {n - 15} more" if n > 15 else "")
    informative = "A running backend is stopped first. Its settings are gone for good."
    if not await ask(ctx.window, "Delete backends", text, accept="Delete", informative=informative,
                     icon=QMessageBox.Icon.Warning, object_name="confirm_delete"):
        return
    await ctx.on_each("delete", backends, lambda b: ctx.service.delete_backend(b.id))
