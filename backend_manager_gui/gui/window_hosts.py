"""Opening, adding and closing the window's connections (``MainWindow.switch_service``, ``add_connection``,
``close_connection``): the table, docks and watchers follow, the open set is saved for the next start, and
closing one connection never touches another's workers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..core.aggregate import AggregateService
from ..core.errors import BackendServiceError, ServiceUnavailable
from ..core.service import BackendService
from .hosts import Hosts, connection_name
from .profiles import ConnectionProfile

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger(__name__)


def new_hosts(w: MainWindow, service: BackendService, profile: ConnectionProfile | None) -> Hosts:
    """``service`` as the window's one connection, polled on its own, its snapshots into the table."""
    interval, max_interval = w._poll_interval
    aggregate = AggregateService([(connection_name(service, profile), service)])
    hosts = Hosts(aggregate, w, interval=interval, max_interval=max_interval, prepare=w.backends_model.prepare)
    hosts.set_profile(hosts.first().number, profile)
    hosts.snapshot_ready.connect(w._on_snapshot_received)
    hosts.poll_failed.connect(w._on_poll_failed)
    hosts.changed.connect(lambda: _on_hosts_changed(w, hosts))
    return hosts


def _on_hosts_changed(w: MainWindow, hosts: Hosts) -> None:
    if hosts is w.hosts:
        w.connections_dock.show_hosts(hosts)


def poll_failed(w: MainWindow, number: int, exc: BaseException) -> None:
    """A connection's poll failed: a refusal (a bad token, say) in its own words in the message bar; a first
    connection that never answered says so there too, or an empty table would read as "no backends"."""
    from .tasks import describe_error

    host = w.hosts.get(number)
    if host is None:
        return
    where = host.service.location
    if not isinstance(exc, ServiceUnavailable):
        text = describe_error(exc, where)
        w.message_bar.show_error(f"{host.name}: {text}" if w.hosts.several and where not in text else text)
    elif not w.hosts.several and w.poller.last_snapshot is None and not w.message_bar.text():
        w._unreachable_notice = True
        w.message_bar.show_error(f"{describe_error(exc, where)}\nRetrying automatically. "
                                 "File → Connect… chooses another server or this computer.")


def save_open(w: MainWindow) -> None:
    """The open connections, for the next start (profiles only: never a token)."""
    w.profiles.set_open(w.hosts.profiles())


async def _close(service: BackendService) -> None:
    try:
        await service.aclose()
    except BackendServiceError as exc:
        log.warning("closing %s: %s", service.location, exc)


async def switch_service(w: MainWindow, service: BackendService, profile: ConnectionProfile | None) -> None:
    """Talk to ``service`` alone from now on; the old connections are closed. The one place the table is reset."""
    from .tasks import cancel_tasks, is_embedded

    old = w.hosts
    await old.stop()
    await cancel_tasks(list(w.ctx.tasks))
    w._unreachable_notice = False
    w.backends_model.set_type_names({})
    w.backends_model.set_stale_hosts({})
    w.backends_model.clear()
    w.view.proxy.set_host_filter(None)
    w.message_bar.dismiss()
    was_embedded = is_embedded(old.aggregate)
    w._save_header()  # the widths the person chose for the kind of connection being left
    w.ctx.reset(new_hosts(w, service, profile))
    old.deleteLater()
    w._update_count()
    w._attach()
    w._restore_header()
    if w.is_embedded and not was_embedded:
        w.gpu_dock.show()  # hidden while on a server, which has no GPU report
    w.backend_actions.update()
    for host in old:
        if host.service is not service:
            await _close(host.service)
    if profile is not None:
        w.profiles.remember(profile)
    save_open(w)
    w._started = False
    if w.isVisible():
        w.start()
    w.service_changed.emit(w.service)


async def add_connection(w: MainWindow, service: BackendService, profile: ConnectionProfile | None) -> int:
    """One more connection, polled on its own from now on; its number in row keys."""
    was_several = w.hosts.several
    if not was_several:
        w._save_header()
    host = w.hosts.add(connection_name(service, profile), service, profile)
    w._attach(fresh=False)
    if w._started and w.ctx.host is not None and w.ctx.host.connection is host.connection:
        # this computer joined: the GPU column names its GPUs
        w.ctx.spawn(w.local_columns.read_gpu_names(), "Reading the GPUs", quiet=True)
    if not was_several:
        w._restore_header()  # the widths kept for several connections, with the Host column
    w.ctx.request_types()
    if profile is not None:
        w.profiles.remember(profile)
    save_open(w)
    w.backend_actions.update()
    w.service_changed.emit(w.service)
    return host.number


async def close_connection(w: MainWindow, number: int) -> bool:
    """Close one connection: asks first when it runs workers here; the others' rows and workers are untouched."""
    from ..core.fleet import live
    from ..core.rowkeys import host_of
    from .actions import confirm_stop_workers

    hosts = w.hosts
    host = hosts.get(number)
    if host is None or len(hosts) < 2:
        return False
    keyed = w.ctx.host
    if keyed is not None and keyed.connection is host.connection:
        running = [b for b in live(w.backends_model.backends().values()) if host_of(b.id) == number]
        if running and not await confirm_stop_workers(w.ctx, "close", running):
            return False
    if w.view.proxy.host_filter == number:
        w.view.proxy.set_host_filter(None)
    w._save_header()
    await hosts.remove(number)
    w._attach(fresh=False)
    w._restore_header()
    save_open(w)
    w.backend_actions.update()
    await _close(host.service)
    w.service_changed.emit(w.service)
    return True
