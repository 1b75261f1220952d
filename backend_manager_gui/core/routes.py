"""The wire's route names, written once: the client (``remote.py``) sends them and ``serve`` (``server.py``)
answers them. The fake SwarmUI server of the tests (``tests/support/fake_swarm.py``) spells them on its own on
purpose: it stands for the real server, so it must not share the product's table.

SwarmUI matches route names case-insensitively (``API.cs`` lower-cases them); ``Route.key`` is that form.
``PERMISSION`` is the permission SwarmUI registers each route with (``BackendAPI.cs``, ``AdminAPI.cs``).
"""

from __future__ import annotations

from enum import StrEnum


class Route(StrEnum):
    """One SwarmUI API route, named as SwarmUI's own source writes it (``POST /API/<name>``)."""

    GET_NEW_SESSION = "GetNewSession"
    LOGIN = "Login"  # not served; like GetNewSession it needs no session (API.cs)
    LIST_BACKEND_TYPES = "ListBackendTypes"
    LIST_BACKENDS = "ListBackends"
    ADD_NEW_BACKEND = "AddNewBackend"
    EDIT_BACKEND = "EditBackend"
    DELETE_BACKEND = "DeleteBackend"
    TOGGLE_BACKEND = "ToggleBackend"
    RESTART_BACKENDS = "RestartBackends"
    FREE_BACKEND_MEMORY = "FreeBackendMemory"
    LIST_LOG_TYPES = "ListLogTypes"
    LIST_RECENT_LOG_MESSAGES = "ListRecentLogMessages"

    @property
    def key(self) -> str:
        """The lower-case form SwarmUI looks routes up by."""
        return self.value.lower()


#: The routes that need no session id.
SESSIONLESS = frozenset({Route.GET_NEW_SESSION, Route.LOGIN})

#: route -> the permission SwarmUI registers it with.
PERMISSION: dict[Route, str] = {
    Route.LIST_BACKEND_TYPES: "view_backends_list",
    Route.LIST_BACKENDS: "view_backends_list",
    Route.ADD_NEW_BACKEND: "add_remove_backends",
    Route.EDIT_BACKEND: "edit_backends",
    Route.DELETE_BACKEND: "add_remove_backends",
    Route.TOGGLE_BACKEND: "toggle_backends",
    Route.RESTART_BACKENDS: "restart_backends",
    Route.FREE_BACKEND_MEMORY: "control_mem_clean",
    Route.LIST_LOG_TYPES: "view_logs",
    Route.LIST_RECENT_LOG_MESSAGES: "view_logs",
}

_BY_KEY = {route.key: route for route in Route}


def lookup(name: str) -> Route | None:
    """The route ``name`` means, in any letter case; None for a route not in this table."""
    return _BY_KEY.get(name.lower())
