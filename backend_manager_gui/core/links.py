"""Where a person opens a worker's web page: the URL the app shows (Open in browser, Copy URL), and how to reach
it when the URL alone may not do. Qt-free.

A service says where a worker's page is as the machine running the manager reaches it (``Backend.worker_url()``,
mostly ``http://127.0.0.1:<port>``). On this computer that is the URL. Over ``serve`` (a manager on a GPU box,
reached at ``served_from``) a loopback URL is the box's own loopback:

- the app reaches ``serve`` on 127.0.0.1 itself (the same computer, or an SSH tunnel to the box): the URL stays
  ``http://127.0.0.1:<port>``, with a hint that a tunnel needs this port forwarded too;
- ``serve`` listens beyond 127.0.0.1 and so does the worker (its Listen setting): ``http://<serve host>:<port>``;
- ``serve`` listens beyond 127.0.0.1 but the worker does not: only a tunnel reaches it, so the URL is the
  tunnel's end, ``http://127.0.0.1:<port>``, and the hint gives the ``ssh -L`` command for that port.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from .models import Backend


@dataclass(frozen=True)
class WorkerLink:
    #: what Open in browser opens and Copy URL copies
    url: str
    #: how to reach it when the URL alone may not work (an SSH tunnel), in words; "" when it just works
    hint: str = ""


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tunnel_command(port: int, host: str) -> str:
    return f"ssh -N -L {port}:127.0.0.1:{port} {host}"


def worker_link(backend: Backend, served_from: str | None) -> WorkerLink | None:
    """The link to ``backend``'s page; ``served_from``: the URL of the ``serve`` the app talks to, None for the
    manager inside the app (this computer). None when the worker has no page (or its service does not say)."""
    url = backend.worker_url()
    if url is None:
        return None
    if served_from is None:
        return WorkerLink(url)
    parts = urlsplit(url)
    if not is_loopback(parts.hostname):
        return WorkerLink(url)  # an address of its own (a ComfyUI by URL elsewhere): as given
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    box = urlsplit(served_from).hostname or ""
    local = urlunsplit((parts.scheme, f"127.0.0.1:{port}", parts.path, parts.query, ""))
    if is_loopback(box) or not box:
        return WorkerLink(local, f"Through an SSH tunnel to the GPU box, forward this port as well: "
                                 f"{tunnel_command(port, 'you@gpu-box')}")
    if backend.worker_listens_all():
        where = f"[{box}]" if ":" in box else box
        return WorkerLink(urlunsplit((parts.scheme, f"{where}:{port}", parts.path, parts.query, "")))
    return WorkerLink(local, f"The worker listens on {box}'s 127.0.0.1 only: open a tunnel first with "
                             f"{tunnel_command(port, box)} (or turn on its Listen setting)")
