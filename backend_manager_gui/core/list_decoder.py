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


class _Entries:
    """The entries of one reply, in order: key, whole entry text (key to separator), value text, id, Backend."""

    __slots__ = ("keys", "texts", "values", "ids", "backends")

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.texts: list[str] = []
        self.values: list[str] = []
        self.ids: list[int] = []
        self.backends: list[Backend] = []

    def extend(self, other: _Entries, first: int, stop: int) -> None:
        self.keys += other.keys[first:stop]
        self.texts += other.texts[first:stop]
        self.values += other.values[first:stop]
        self.ids += other.ids[first:stop]
        self.backends += other.backends[first:stop]


class BackendListDecoder:
    """Decodes ``ListBackends`` replies of one server, remembering the previous reply's entries."""

    def __init__(self) -> None:
        self._previous = _Entries()
        self._scan = json.JSONDecoder().raw_decode

    def forget(self) -> None:
        self._previous = _Entries()

    async def decode(self, content: bytes | str) -> dict[int, Backend] | None:
        """``{id: Backend}`` ordered by id, or None when ``content`` is not a plain backend list.

        Raises what ``Backend.from_wire`` raises (``BackendApiError``) for a malformed entry.
        """
        try:
            text = content.decode("utf-8") if isinstance(content, (bytes, bytearray)) else content
        except UnicodeDecodeError:
            return None
        prev = self._previous
        p_texts, p_values = prev.texts, prev.values
        n_prev = len(p_texts)
        by_key: dict[str, int] | None = None  # key -> index in prev, made on the first entry off the run
        cur = _Entries()
        pos = _SPACE.match(text).end()  # type: ignore[union-attr]  # always matches
        if not text.startswith("{", pos):
            return None
        pos += 1
        after = _AFTER.match(text, pos)
        if after is not None and after.group(1) == "}":
            pos = after.end()
        else:
            slice_end = time.perf_counter() + SLICE_S
            count = 0
            j = 0  # the previous entry expected here
            while True:
                # the common case: a run of entries exactly as they were, in the same order, separators and
                # all (a JSON object ends at its own closing brace: the same text is the same value)
                run = j
                while j < n_prev and text.startswith(p_texts[j], pos):
                    pos += len(p_texts[j])
                    j += 1
                if j > run:
                    cur.extend(prev, run, j)
                    if text[pos - 1] == "}":  # that run ended with the reply's closing brace
                        break
                # one entry that is new, moved or changed
                entry_start = pos
                key = _KEY.match(text, pos)
                if key is None:
                    return None
                start = key.end()
                name = key.group(1)
                if by_key is None:
                    by_key = {k: i for i, k in enumerate(prev.keys)}
                i = by_key.get(name)
                if i is not None and text.startswith(p_values[i], start):
                    value = p_values[i]
                    end = start + len(value)
                    backend = prev.backends[i]
                else:
                    if not text.startswith("{", start):
                        return None
                    try:
                        raw, end = self._scan(text, start)
                    except ValueError:
                        return None
                    backend = Backend.from_wire(raw)
                    value = text[start:end]
                if i is not None:
                    j = i + 1
                after = _AFTER.match(text, end)
                if after is None:
                    return None
                pos = after.end()
                cur.keys.append(name)
                cur.texts.append(text[entry_start:pos])
                cur.values.append(value)
                cur.ids.append(backend.id)
                cur.backends.append(backend)
                if after.group(1) == "}":
                    break
                count += 1
                if count % _CHECK_EVERY == 0 and time.perf_counter() > slice_end:
                    await asyncio.sleep(0)  # let paints, clicks and timers in
                    slice_end = time.perf_counter() + SLICE_S
        if _SPACE.match(text, pos).end() != len(text):  # type: ignore[union-attr]
            return None  # trailing garbage: json.loads refuses it, so must we
        if len(set(cur.keys)) != len(cur.keys):
            return None  # a repeated key: json.loads keeps the last one; leave that to it
        self._previous = cur
        out = dict(zip(cur.ids, cur.backends, strict=False))
        ids = cur.ids
        if len(out) == len(ids) and ids == sorted(ids):
            return out
        return dict(sorted(out.items()))
