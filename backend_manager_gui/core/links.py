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


#: The SwarmUI backend type that reaches a running ComfyUI by its address, and the setting that holds it.
SWARM_COMFY_TYPE = "comfyui_api"
SWARM_ADDRESS = "Address"


def swarm_address(backend: Backend, served_from: str | None, swarm_url: str, this_computer: str | None = None) -> str:
    """The address a SwarmUI server at ``swarm_url`` reaches ``backend``'s worker at (for its ``comfyui_api``
    backend's Address). ``served_from``: the ``serve`` the worker is managed through (None: this computer);
    ``this_computer``: this computer's address as seen from the SwarmUI server's side (``local_address_towards``).

    Raises ``BackendApiError`` with the reason when the SwarmUI server could not reach it: above all a worker that
    listens on 127.0.0.1 only while SwarmUI runs on another machine."""
    from .errors import BackendApiError

    url = backend.worker_url()
    if url is None:
        raise BackendApiError("The worker has no web address yet: start it (enable it) and wait until it runs.")
    parts = urlsplit(url)
    if not is_loopback(parts.hostname):
        return url  # a ComfyUI with an address of its own: SwarmUI goes there as the app does
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise BackendApiError(f"The worker's address {url!r} is not one SwarmUI can use.") from exc
    swarm_host = urlsplit(swarm_url).hostname or ""
    box = urlsplit(served_from).hostname or "" if served_from is not None else ""
    on_this_computer = served_from is None or is_loopback(box)
    machine = "this computer" if on_this_computer else box
    if (is_loopback(swarm_host) and on_this_computer) or (box and swarm_host.lower() == box.lower()):
        return url  # SwarmUI runs on the worker's own machine: its 127.0.0.1 is the worker's
    if not backend.worker_listens_all():
        raise BackendApiError(
            f"The worker listens on {machine}'s 127.0.0.1 only, and the SwarmUI server at {swarm_url} runs on another "
            "machine: it could not reach it. Turn on the worker's Listen setting (Edit), then try again.")
    host = box if not on_this_computer else this_computer
    if not host or is_loopback(host):
        raise BackendApiError(
            f"This computer's address as {swarm_url} sees it is not known, so SwarmUI could not be told where the "
            "worker is. Add it in SwarmUI by hand as a ComfyUI API backend.")
    where = f"[{host}]" if ":" in host else host
    return urlunsplit((parts.scheme, f"{where}:{port}", parts.path, parts.query, ""))


def local_address_towards(url: str) -> str | None:
    """This computer's IP address on the route to ``url``'s host (a UDP socket that sends nothing), or None. It may
    look the name up: call it in a worker thread."""
    import socket

    host = urlsplit(url).hostname
    if not host:
        return None
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((host, urlsplit(url).port or 80))
            address = str(sock.getsockname()[0])
    except OSError:
        return None
    return None if is_loopback(address) else address


def same_worker(address: str, worker: Backend, served_from: str | None, this_computer: set[str]) -> bool:
    """Whether a SwarmUI backend's Address points at ``worker``: the same port, on a name of the worker's machine
    (its loopback, the serve box's host, or one of ``this_computer``'s addresses for a worker of this computer)."""
    url = worker.worker_url()
    if url is None or not address:
        return False
    try:
        mine, theirs = urlsplit(url), urlsplit(address if "://" in address else f"http://{address}")
        if (mine.port or 80) != (theirs.port or 80):
            return False
    except ValueError:
        return False
    host = (theirs.hostname or "").lower()
    if host == (mine.hostname or "").lower() or is_loopback(host):
        return True
    box = (urlsplit(served_from).hostname or "").lower() if served_from is not None else ""
    return host == box if box and not is_loopback(box) else host in this_computer
