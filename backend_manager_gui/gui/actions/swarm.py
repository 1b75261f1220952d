"""Use in SwarmUI…: a running ComfyUI worker of this computer or of a ``serve`` box added to a chosen SwarmUI
connection as a ``comfyui_api`` backend with the worker's address as that server reaches it, so SwarmUI sends
generations to it. An address the server could not reach (a worker on 127.0.0.1 only, SwarmUI elsewhere) is
refused with the reason. Pairs found linked (a SwarmUI backend whose Address is a worker's) show so in the Host
column of both rows."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from ...core.errors import BackendApiError
from ...core.links import SWARM_ADDRESS, SWARM_COMFY_TYPE, local_address_towards, same_worker, swarm_address
from ...core.models import Backend
from ...core.rowkeys import backend_number, host_of
from ..hosts import Host
from .choose import choose_connection
from .context import ActionContext


def swarm_targets(ctx: ActionContext, backend: Backend) -> list[Host]:
    """The SwarmUI connections ``backend``'s worker could be added to (servers other than its own connection)."""
    own = host_of(backend.id)
    return [h for h in ctx.hosts if h.number != own and not h.runs_workers_here
            and (not h.types or SWARM_COMFY_TYPE in h.types)]


def can_use_in_swarm(ctx: ActionContext, backend: Backend) -> bool:
    return backend.worker_url() is not None and bool(swarm_targets(ctx, backend))


async def use_in_swarm(ctx: ActionContext, backend: Backend) -> Backend | None:
    targets = swarm_targets(ctx, backend)
    label = ctx.model.label(backend)
    if not targets:
        ctx.message_bar.show_info("Open a SwarmUI server beside this one first (File → Add connection…).")
        return None
    number = await choose_connection(ctx, "Use in SwarmUI", f"Add {label} to SwarmUI, as a ComfyUI API backend, on:",
                                     "Add", allowed=[t.number for t in targets], default=targets[0].number)
    target = ctx.hosts.get(number) if number is not None else None
    if target is None:
        return None
    swarm_url = target.service.location
    here = await asyncio.to_thread(local_address_towards, swarm_url)
    if here:
        ctx.this_computer.add(here)
    try:
        address = swarm_address(backend, ctx.hosts.served_from(backend.id), swarm_url, here)
    except BackendApiError as exc:
        ctx.message_bar.show_error(f"Cannot use {label} in SwarmUI at {swarm_url}: {exc}")
        return None
    new = await ctx.service.add_backend(SWARM_COMFY_TYPE, host=number)
    title = f"{ctx.model.display_title(backend)} ({ctx.model.host_name(backend.id) or 'worker'})"
    added = await ctx.service.edit_backend(new.id, title, {**new.settings, SWARM_ADDRESS: address})
    await ctx.refresh([added.id])
    ctx.done(f"SwarmUI at {swarm_url} now sends generations to {label} at {address} "
             f"(its backend #{backend_number(added.id)}).", 10000)
    show_links(ctx)
    return added


def _scan(snapshot: Mapping[int, Backend]) -> list[Backend]:
    """The rows of one snapshot that may be half of a pair: workers with a page, SwarmUI's comfyui_api backends."""
    return [b for b in snapshot.values()
            if (b.worker_port() is not None and b.worker_url() is not None)
            or (b.type == SWARM_COMFY_TYPE and isinstance(b.settings.get(SWARM_ADDRESS), str))]


def show_links(ctx: ActionContext) -> None:
    """Mark the linked pairs in the Host column: a SwarmUI ``comfyui_api`` backend whose Address is a worker's of
    another open connection ("this computer ⇄ swarm:7801 #3" on the worker, "⇄ this computer #0" on SwarmUI's)."""
    hosts = ctx.hosts
    if not hosts.several:
        ctx.model.set_links({})
        ctx.link_scans.clear()
        return
    workers: dict[int, list[Backend]] = {}  # port -> the workers listening on it
    swarm_rows: list[Backend] = []
    scans = ctx.link_scans
    for host in hosts:
        snapshot = host.snapshot or {}
        scan = scans.get(host.number)
        if scan is None or scan[0] is not snapshot:  # each poll brings one connection's snapshot: only it is read
            scan = scans[host.number] = (snapshot, _scan(snapshot))
        for b in scan[1]:
            port = b.worker_port()
            if port is not None:
                workers.setdefault(port, []).append(b)
            else:
                swarm_rows.append(b)
    for gone in scans.keys() - {h.number for h in hosts}:
        del scans[gone]
    links: dict[int, str] = {}
    for row in swarm_rows:
        address = str(row.settings[SWARM_ADDRESS])
        for port, candidates in workers.items():
            if f":{port}" not in address:
                continue
            for worker in candidates:
                if host_of(worker.id) != host_of(row.id) and same_worker(
                        address, worker, hosts.served_from(worker.id), ctx.this_computer):
                    links[worker.id] = f"{ctx.model.host_name(row.id)} #{backend_number(row.id)}"
                    links[row.id] = f"{ctx.model.host_name(worker.id)} #{backend_number(worker.id)}"
    ctx.model.set_links(links)
