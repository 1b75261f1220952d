"""Connection profiles: this computer's embedded manager or a SwarmUI server, and the recent ones in QSettings.

Kept apart from ``connections.py`` (the Connect dialog, opening a service, tokens) because start-up reads the
last profile before its first paint, when nothing else of the app is imported yet (docs/PERFORMANCE.md, P3).
A profile holds a kind and a URL or data folder, never a token.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtCore import QSettings

_RECENT_KEY = "connections/recent"
_OPEN_KEY = "connections/open"
_MAX_RECENT = 8


class ConnectionKind(StrEnum):
    LOCAL = "local"
    SERVER = "server"


@dataclass(frozen=True)
class ConnectionProfile:
    kind: ConnectionKind
    #: the server's URL (SERVER) or the data folder (LOCAL; "" = the default one)
    target: str = ""

    @property
    def label(self) -> str:
        if self.kind is ConnectionKind.LOCAL:
            return "This computer" if not self.target else f"This computer ({self.target})"
        return f"SwarmUI server {self.target}"

    @property
    def short_name(self) -> str:
        """The Host column's name: "this computer", or the server's host:port."""
        if self.kind is ConnectionKind.LOCAL:
            return "this computer"
        from urllib.parse import urlsplit

        return urlsplit(self.target).netloc or self.target

    @property
    def token_key(self) -> str:
        return f"token:{self.target}"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind.value, "target": self.target}

    @classmethod
    def from_json(cls, raw: object) -> ConnectionProfile | None:
        if not isinstance(raw, dict):
            return None
        kind = raw.get("kind")
        if kind not in tuple(ConnectionKind):
            return None
        return cls(ConnectionKind(kind), str(raw.get("target") or ""))


LOCAL_DEFAULT = ConnectionProfile(ConnectionKind.LOCAL)


class ProfileStore:
    """Recent connection profiles, most recent first, in QSettings."""

    def __init__(self, settings: QSettings) -> None:
        self._settings = settings

    def recent(self) -> list[ConnectionProfile]:
        import json  # here: a start with --server or --data-dir reads no profile before its first paint

        raw = self._settings.value(_RECENT_KEY, "[]")
        try:
            items = json.loads(raw if isinstance(raw, str) else "[]")
        except ValueError:
            items = []
        out = [p for p in (ConnectionProfile.from_json(i) for i in items if isinstance(items, list)) if p]
        return out

    def last(self) -> ConnectionProfile | None:
        recent = self.recent()
        return recent[0] if recent else None

    def remember(self, profile: ConnectionProfile) -> None:
        import json

        recent = [p for p in self.recent() if p != profile]
        recent.insert(0, profile)
        self._settings.setValue(_RECENT_KEY, json.dumps([p.to_json() for p in recent[:_MAX_RECENT]]))

    def open_set(self) -> list[ConnectionProfile]:
        """The connections that were open when the app last ran (reopened at start), in their order."""
        import json

        raw = self._settings.value(_OPEN_KEY, "[]")
        try:
            items = json.loads(raw if isinstance(raw, str) else "[]")
        except ValueError:
            return []
        out: list[ConnectionProfile] = []
        for item in items if isinstance(items, list) else []:
            profile = ConnectionProfile.from_json(item)
            if profile is not None and profile not in out:
                out.append(profile)
        return out

    def set_open(self, profiles: list[ConnectionProfile]) -> None:
        import json

        self._settings.setValue(_OPEN_KEY, json.dumps([p.to_json() for p in profiles]))

    def forget(self, profile: ConnectionProfile) -> None:
        import json

        self._settings.setValue(_RECENT_KEY, json.dumps([p.to_json() for p in self.recent() if p != profile]))
