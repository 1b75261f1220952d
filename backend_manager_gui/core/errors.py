"""The two errors a BackendService may raise. Nothing else escapes a service."""

from __future__ import annotations


class BackendServiceError(Exception):
    """Base of every error a service raises; ``str(err)`` is fit to show a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BackendApiError(BackendServiceError):
    """The server or the manager refused the request; ``message`` is its own text.

    ``error_id`` is the server's machine-readable id when it sent one (``invalid_session_id``,
    ``basic_api``, ``bad_route``, ``bad_permissions``, ``internal_error``), else None.
    """

    def __init__(self, message: str, error_id: str | None = None) -> None:
        super().__init__(message)
        self.error_id = error_id

    def __repr__(self) -> str:
        return f"BackendApiError({self.message!r}, error_id={self.error_id!r})"


class ServiceUnavailable(BackendServiceError):
    """The service could not be reached or answered something that is not the API (transport failure)."""

    def __repr__(self) -> str:
        return f"ServiceUnavailable({self.message!r})"
