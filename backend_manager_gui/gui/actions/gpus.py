"""Actions that place backends on GPUs: duplicate (the copy goes on the next free GPU) and one backend per
GPU. The plans are core's (``core/fleet.py``); these carry them out and tell the person."""

from __future__ import annotations

from ...core.errors import BackendServiceError
from ...core.fleet import per_gpu_type, plan_duplicates, plan_one_per_gpu
from ...core.models import Backend
from ...core.rowkeys import backend_number, host_of
from ..tasks import describe_error
from .context import ActionContext
from .edit import edit_backend


async def duplicate(ctx: ActionContext, backends: list[Backend]) -> None:
    """A copy of each backend, on the next GPU none uses; a single copy then opens for review."""
    host = ctx.host
    by_host: dict[int, list[Backend]] = {}
    for b in backends:
        by_host.setdefault(host_of(b.id), []).append(b)
    copies = {}
    for number, sources in by_host.items():
        # each copy goes on its source's connection; the GPUs are known only of this computer's (None: unknown)
        here = host is not None and host.owns(sources[0].id)
        gpus = [g.index for g in (await host.gpus()).gpus] if here and host is not None else None
        same = [b for b in ctx.model.backends().values() if host_of(b.id) == number]
        copies.update({c.source.id: c for c in plan_duplicates(sources, same, gpus)})
    made: list[str] = []

    async def one(source: Backend) -> Backend:
        copy = copies[source.id]
        new = await ctx.service.add_backend(source.type, host=host_of(source.id))
        edited = await ctx.service.edit_backend(new.id, copy.title, {**new.settings, **copy.settings})
        made.append(f"#{backend_number(edited.id)} from #{backend_number(source.id)}{copy.note}")
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
    number = host.connection.host
    if not ctx.types_for(host.connection.key(0)):
        await ctx.load_types()
    btype = per_gpu_type(ctx.types_for(host.connection.key(0)).values())
    if btype is None:
        ctx.message_bar.show_info("This service has no backend type that runs on one GPU.")
        return []
    here = [b for b in ctx.model.backends().values() if host_of(b.id) == number]
    plan = plan_one_per_gpu([(g.index, g.name) for g in report.gpus], here, btype.id)
    if not plan:
        ctx.message_bar.show_info(f"Every GPU already has a {btype.name} backend.")
        return []
    added: list[Backend] = []
    for worker in plan:
        try:
            new = await ctx.service.add_backend(btype.id, host=number)
            added.append(await ctx.service.edit_backend(new.id, worker.title, {**new.settings, **worker.settings}))
        except BackendServiceError as exc:
            ctx.message_bar.show_error(f"Could not add a backend for GPU {worker.gpu}: {describe_error(exc, ctx.where)}")
            break
    await ctx.refresh()
    if added:
        ctx.done(f"Added {len(added)} backend{'s' if len(added) != 1 else ''}, one per GPU.", 8000)
        ctx.view.select_backends([b.id for b in added])
    return added
