"""Log lines as SwarmUI keeps them: one sequence counter for the whole process, a tracker per log that keeps
its last lines, SwarmUI's time format, and ``last_error_line`` for "why did it fail" (SwarmUI's own rules for
spotting a worker's error lines, ``NetworkBackendUtils.ReportLogsFromProcess``).

The local manager's per-worker tails and ``serve``'s level logs are ``LogTracker``s, so every line this process
logs has a number from the same counter, as every line of a SwarmUI server has (``Logs.LogTracker``).
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import datetime

from .models import LogLine

#: What ``BackendLog.reason`` says (fit to show a person).
NO_PERMISSION = "this account may not read the server's logs"
NO_BACKEND_LOG = "this backend has no log on the server (not self-started, or its process has exited)"
NO_LOG_ROUTES = "this server does not offer its logs"

_counter_lock = threading.Lock()
_last_sequence = 0


def last_sequence() -> int:
    """The number of the newest line logged in this process (0 before the first)."""
    return _last_sequence


def _next_sequence() -> int:
    global _last_sequence
    with _counter_lock:
        _last_sequence += 1
        return _last_sequence


def swarm_time(epoch: float) -> str:
    """``epoch`` as SwarmUI writes a log line's time: ``yyyy-MM-dd HH:mm:ss.fff``, local time."""
    stamp = datetime.fromtimestamp(epoch)
    return f"{stamp:%Y-%m-%d %H:%M:%S}.{stamp.microsecond // 1000:03d}"


class LogTracker:
    """The last ``size`` lines of one log, each with its sequence number and time. Thread-safe.

    Iterating gives the texts (oldest first), so it stands where a ``deque`` of lines stood.
    """

    def __init__(self, size: int) -> None:
        self._lines: deque[tuple[int, float, str]] = deque(maxlen=size)
        self._lock = threading.Lock()
        self.last_sequence = 0

    def append(self, text: str) -> int:
        """Keep ``text`` as the newest line; returns its sequence number."""
        with self._lock:  # number and append together: a reader sees every line numbered up to what it read
            sequence = _next_sequence()
            self._lines.append((sequence, time.time(), text))
            self.last_sequence = sequence
        return sequence

    def after(self, sequence: int) -> list[tuple[int, float, str]]:
        """The kept lines numbered above ``sequence``, oldest first: ``(sequence, epoch time, text)``."""
        with self._lock:
            if sequence >= self.last_sequence:
                return []
            out = []
            for item in reversed(self._lines):
                if item[0] <= sequence:
                    break
                out.append(item)
        out.reverse()
        return out

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            texts = [text for _seq, _time, text in self._lines]
        return iter(texts)

    def __len__(self) -> int:
        return len(self._lines)


# ---- why did it fail ---------------------------------------------------------------------------------

#: "[STDERR] ", "[err] ", "[ComfyUI-3/STDERR] ": who wrote a line, not what it says
_STREAM_PREFIX = re.compile(r"^\[(?:[^\]\n]*/)?(?:STDOUT|STDERR|err)\] ")
#: a Python exception's own line, as the last line of a traceback reads ("OSError: …", "KeyboardInterrupt")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit)\b")


def _content(text: str) -> str:
    return _STREAM_PREFIX.sub("", text, count=1)


def last_error_line(lines: Iterable[LogLine]) -> str | None:
    """The last line of ``lines`` that says what went wrong, without its stream prefix; None when none does.

    SwarmUI's rules for a worker's error lines: a Python traceback (whose own last line, the exception, is the
    one that says what happened) and any line with ``Error: `` in it (not ComfyUI's "Found comfy_kitchen backend"
    notice). A line from the server's own Error log about the backend counts too.
    """
    last: str | None = None
    in_traceback = False
    for line in lines:
        text = _content(line.text).rstrip()
        if not text:
            continue
        if text.startswith("Traceback ("):
            in_traceback = True
            continue
        if in_traceback:
            if text[:1].isspace():
                continue  # a frame of the traceback
            in_traceback = False
            if _EXCEPTION_LINE.match(text) or ": " in text:
                last = text
                continue
        if line.level == "Error" or (("Error: " in text or text.startswith("Error:"))
                                     and "Found comfy_kitchen backend" not in text):
            last = text
    return last
