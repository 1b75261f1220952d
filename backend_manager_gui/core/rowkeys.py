"""Row keys: a backend as (connection, backend id), carried as one integer (``core/aggregate.py`` says why).

Its own module with no imports, because the table's model uses it and is imported before the window's first
paint (docs/PERFORMANCE.md, P3).
"""

from __future__ import annotations

#: Row keys of one connection span this many integers (far beyond any 32-bit backend id, either sign).
HOST_SPAN = 1 << 40
_HALF = HOST_SPAN // 2
#: A backend id this far from zero could reach into the next connection's keys: such an entry is left out.
ID_LIMIT = 1 << 38


def row_key(host: int, backend_id: int) -> int:
    """The row key of backend ``backend_id`` of connection number ``host`` (connection 0: the id itself)."""
    return host * HOST_SPAN + backend_id


def split_key(key: int) -> tuple[int, int]:
    """(connection number, the backend's own id) of a row key."""
    host = (key + _HALF) // HOST_SPAN
    return host, key - host * HOST_SPAN


def host_of(key: int) -> int:
    return (key + _HALF) // HOST_SPAN


def backend_number(key: int) -> int:
    """The backend's own id, as its connection knows it and a person reads it ("#3")."""
    return split_key(key)[1]
