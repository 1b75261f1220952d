"""httpx says ``HTTP Request: GET …/queue "HTTP/1.1 200 OK"`` at INFO for every request it makes.

The app polls a server every few seconds and the local manager probes each worker's ``/queue``: at INFO those
lines would bury what a person reads a log for. A filter on httpx's logger turns the lines of requests that
got an answer below 400 into DEBUG records (shown only when DEBUG is on for httpx); an answer of 400 or more
stays at INFO. Failures to connect are not httpx log lines: the callers log those themselves.
"""

from __future__ import annotations

import logging

_HTTPX = "httpx"
_REQUEST_LINE = "HTTP Request:"


class _RequestLinesAtDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not str(record.msg).startswith(_REQUEST_LINE):
            return True
        args = record.args
        status = args[3] if isinstance(args, tuple) and len(args) > 3 else None
        if not isinstance(status, int) or status >= 400:
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        # the logger let it through as INFO: pass it on only where DEBUG is wanted
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


_FILTER = _RequestLinesAtDebug()


def install() -> None:
    """Put the filter on httpx's logger (once; importing httpx is not needed for that)."""
    logger = logging.getLogger(_HTTPX)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
