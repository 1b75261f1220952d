"""Decoding successive ``ListBackends`` replies cheaply: what did not change is not parsed again.

A server with thousands of backends sends the whole list every poll, and between two polls almost every
entry is byte for byte what it was. ``BackendListDecoder`` walks the reply's top-level object itself: for an
entry whose text is exactly the text it had last time (one ``str.startswith`` at the same key) it hands back
the very same ``Backend`` object, so nothing is parsed and the table can skip the row by identity. Only new
or changed entries go through ``json`` and ``Backend.from_wire``. Decoding also gives the event loop a turn
every few milliseconds, so a first load of 5,000 backends never freezes the window.

Anything that is not a plain ``{"<id>": {...}, ...}`` object (an error reply, odd spacing the walker does not
expect, garbage) makes ``decode`` return None: the caller then takes its ordinary ``json.loads`` path, which
reports the problem in its own words. The result is always what ``backends_from_wire(json.loads(text))``
gives.
"""

from __future__ import annotations

import asyncio
import json
import re
import time

from .models import Backend

#: A key of the reply: a backend id as a JSON string, and the colon after it.
_KEY = re.compile(r'[ \t\r\n]*"(\d{1,18})"[ \t\r\n]*:[ \t\r\n]*')
#: What may follow an entry: another one, or the end of the object.
_AFTER = re.compile(r"[ \t\r\n]*([,}])")
_SPACE = re.compile(r"[ \t\r\n]*")
#: How long decoding may hold the loop before it yields (seconds).
SLICE_S = 0.005
_CHECK_EVERY = 32


class BackendListDecoder:
    """Decodes ``ListBackends`` replies of one server, remembering the previous reply's entries."""

    def __init__(self) -> None:
        # key text -> (the entry's JSON text, its Backend)
        self._previous: dict[str, tuple[str, Backend]] = {}
        self._scan = json.JSONDecoder().raw_decode

    def forget(self) -> None:
        self._previous = {}

    async def decode(self, content: bytes | str) -> dict[int, Backend] | None:
        """``{id: Backend}`` ordered by id, or None when ``content`` is not a plain backend list.

        Raises what ``Backend.from_wire`` raises (``BackendApiError``) for a malformed entry.
        """
        try:
            text = content.decode("utf-8") if isinstance(content, (bytes, bytearray)) else content
        except UnicodeDecodeError:
            return None
        previous = self._previous
        current: dict[str, tuple[str, Backend]] = {}
        out: dict[int, Backend] = {}
        in_order = True
        last_id = -1
        pos = _SPACE.match(text).end()  # type: ignore[union-attr]  # always matches
        if not text.startswith("{", pos):
            return None
        pos += 1
        after = _AFTER.match(text, pos)
        if after is not None and after.group(1) == "}":
            pos = after.end()
        else:
            loop_slice_end = time.perf_counter() + SLICE_S
            count = 0
            while True:
                key = _KEY.match(text, pos)
                if key is None:
                    return None
                start = key.end()
                name = key.group(1)
                if name in current:
                    return None  # a repeated key: json.loads keeps the last one; leave that to it
                seen = previous.get(name)
                if seen is not None and text.startswith(seen[0], start):
                    # a JSON object ends at its own closing brace: the same text here is the same value
                    end = start + len(seen[0])
                    backend = seen[1]
                    current[name] = seen
                else:
                    if not text.startswith("{", start):
                        return None
                    try:
                        raw, end = self._scan(text, start)
                    except ValueError:
                        return None
                    backend = Backend.from_wire(raw)
                    current[name] = (text[start:end], backend)
                if backend.id <= last_id:
                    in_order = False
                last_id = backend.id
                out[backend.id] = backend
                after = _AFTER.match(text, end)
                if after is None:
                    return None
                pos = after.end()
                if after.group(1) == "}":
                    break
                count += 1
                if count % _CHECK_EVERY == 0 and time.perf_counter() > loop_slice_end:
                    await asyncio.sleep(0)  # let paints, clicks and timers in
                    loop_slice_end = time.perf_counter() + SLICE_S
        if _SPACE.match(text, pos).end() != len(text):  # type: ignore[union-attr]
            return None  # trailing garbage: json.loads refuses it, so must we
        self._previous = current
        return out if in_order else dict(sorted(out.items()))
