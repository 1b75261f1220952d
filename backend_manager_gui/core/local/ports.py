"""Ports for workers: checked free on 127.0.0.1, never handed to two backends."""

from __future__ import annotations

import os
import socket


def port_is_free(port: int) -> bool:
    """True when a worker could bind 127.0.0.1:port now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if os.name == "posix":
            # the servers workers run (aiohttp, http.server) set SO_REUSEADDR, so a TIME_WAIT leftover of our
            # own last run does not stop them; on Windows the option means something else (port stealing)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _os_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PortBook:
    """Which backend holds which port, so one port is never given to two backends."""

    def __init__(self) -> None:
        self._held: dict[int, int] = {}  # port -> backend id

    def holder(self, port: int) -> int | None:
        return self._held.get(port)

    def release(self, backend_id: int) -> None:
        for port, owner in list(self._held.items()):
            if owner == backend_id:
                del self._held[port]

    def take(self, backend_id: int, wanted: int, previous: int | None) -> tuple[int, str | None]:
        """A port for ``backend_id``: ``wanted`` (0 = any), else ``previous`` while free, else a fresh one.

        Returns the port and a note for the person when the wanted one could not be used.
        """
        self.release(backend_id)
        note = None
        if wanted:
            other = self._held.get(wanted)
            if other is None and port_is_free(wanted):
                port = wanted
            else:
                who = f"backend {other}" if other is not None else "another program"
                port = self._fresh()
                note = f"port {wanted} is in use by {who}; using {port} instead"
        elif previous and previous not in self._held and port_is_free(previous):
            port = previous
        else:
            port = self._fresh()
        self._held[port] = backend_id
        return port, note

    def _fresh(self) -> int:
        for _ in range(50):
            port = _os_free_port()
            if port not in self._held:
                return port
        raise OSError("no free port on 127.0.0.1")
