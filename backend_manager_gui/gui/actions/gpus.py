"""Actions that place backends on GPUs: duplicate (the copy goes on the next free GPU) and one backend per
GPU. The plans are core's (``core/fleet.py``); these carry them out and tell the person."""

from __future__ import annotations

from ...core.errors import BackendServiceError
from ...core.fleet import per_gpu_type, plan_duplicates, plan_one_per_gpu
from ...core.models import Backend
from ..tasks import describe_error
from .context import ActionContext
from .edit import edit_backend


async def duplicate(ctx: ActionContext, backends: list[Backend]) -> None:
    """A copy of each backend, on the next GPU none uses; a single copy then opens for review."""
    host = ctx.host
    gpus = [g.index for g in (await host.gpus()).gpus] if host is not None else None  # None: cannot be known
    copies = {c.source.id: c for c in plan_duplicates(backends, ctx.model.backends().values(), gpus)}
    made: list[str] = []

    async def one(source: Backend) -> Backend:
        copy = copies[source.id]
        new = await ctx.service.add_backend(source.type)
        edited = await ctx.service.edit_backend(new.id, copy.title, {**new.settings, **copy.settings})
        made.append(f"#{edited.id} from #{source.id}{copy.note}")
        return edited

    results = await ctx.on_each("duplicate", backends, one)
    new_ids = [r.id for r in results if isinstance(r, Backend)]
    if made:
        ctx.done("Duplicated: " + "; ".join(made), 8000)
        ctx.view.select_backends(new_ids)
    if len(new_ids) == 1:
        # one copy: offer its settings (the GPU it was put on above all) for review, as Add does
        await ctx.refresh()
        added = ctx.model.backend(new_ids[0])
        if added is not None:
            await edit_backend(ctx, added)


async def one_backend_per_gpu(ctx: ActionContext) -> list[Backend]:
    """Add a backend of the per-GPU type for every GPU of this computer that has none."""
    host = ctx.host
    if host is None:
        return []
    report = await host.gpus()
    if not report.gpus:
        ctx.message_bar.show_info(f"No NVIDIA GPU detected{': ' + report.reason if report.reason else ''}.")
        return []
    if not ctx.types:
        await ctx.load_types()
    btype = per_gpu_type(ctx.types.values())
    if btype is None:
        ctx.message_bar.show_info("This service has no backend type that runs on one GPU.")
        return []
    plan = plan_one_per_gpu([(g.index, g.name) for g in report.gpus], ctx.model.backends().values(), btype.id)
    if not plan:
        ctx.message_bar.show_info(f"Every GPU already has a {btype.name} backend.")
        return []
    added: list[Backend] = []
    for worker in plan:
        try:
            new = await ctx.service.add_backend(btype.id)
            added.append(await ctx.service.edit_backend(new.id, worker.title, {**new.settings, **worker.settings}))
        except BackendServiceError as exc:
            ctx.message_bar.show_error(f"Could not add a backend for GPU {worker.gpu}: {describe_error(exc, ctx.where)}")
            break
    await ctx.refresh()
    if added:
        ctx.done(f"Added {len(added)} backend{'s' if len(added) != 1 else ''}, one per GPU.", 8000)
        ctx.view.select_backends([b.id for b in added])
    return added
