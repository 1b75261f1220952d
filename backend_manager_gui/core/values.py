"""One value vocabulary for settings: how a value of each kind is read, refused and written. Qt-free.

The settings form (what it shows and what it reads back) and the embedded manager (what an edit may hold) both
go through ``parse_value``: a value the form produces is one the manager accepts, and a stored value the manager
would refuse is one the form shows with a warning. One rule per kind, for a value as it arrives (JSON from the
wire, or what the form read back):

==========  ========================================================================  ===================
kind        accepted                                                                  canonical form
==========  ========================================================================  ===================
text        text; a number as its text; true/false as "true"/"false"; null as ""       ``str``
integer     a whole number in 32 bits, also as a float with no fraction or as text    ``int``
            ("  -7 ", "+7"); not true/false, not "1.0", not "1_000"
decimal     a finite number within ±1e15, also as text ("2.5", "1e3"); not true/false ``float``
boolean     true/false, also as the text "true"/"false" in any case; nothing else     ``bool``
            (not 1/0, not "yes", not "")
dropdown    text (as for text) equal to one of the spec's values, in any case; any    the value as offered
            text when the spec offers none
list        a list of texts (numbers and true/false as their text), or one text of    ``list[str]``
            comma-separated items (stripped, empty ones dropped); null as []
secret      as text; ``SECRET_MARKER`` ("keep the stored one") passes as it is        ``str``
unknown     anything, unchanged: this app does not know the type, the server does     the value itself
==========  ========================================================================  ===================

The form sends an untouched text field's stored value back as it came (a number stays a number); the manager
stores its text. Where SwarmUI (FreneticUtilities' ``FDSData``, which loads a backend's settings) differs:

- boolean: its API *parameters* of type Boolean take only true/false (as here), but a boolean *setting* is read
  from any text, everything but "true" becoming false ("1", "yes" and "" all turn the switch off). Here such a
  value is refused with a reason instead.
- integer: ``long.TryParse`` as here (what does not parse is refused, by an exception), but a value beyond 32 bits
  is cut to 32 bits there; refused here.
- list: one text is a one-item list there; here it is split at commas (the form edits a list as such a line).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from .errors import BackendApiError
from .models import SECRET_MARKER, SettingKind, SettingSpec

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
#: Wide enough for any sensible setting, small enough that 6 decimals stay exact in a double.
DECIMAL_LIMIT = 1e15

_ALIASES = {"bool": SettingKind.BOOLEAN.value}  # older servers
_WHOLE = re.compile(r"[+-]?[0-9]+")
_SETTING_KINDS = frozenset(kind.value for kind in SettingKind)


class ValueKind(StrEnum):
    """The kind of a setting's value: the wire's ``SettingKind`` plus secret (any type marked ``is_secret``) and
    unknown (a type this app does not know)."""

    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DROPDOWN = "dropdown"
    LIST = "list"
    GROUP = "group"
    SECRET = "secret"
    UNKNOWN = "unknown"


class BadValue(ValueError):
    """A value that does not fit its setting's kind. ``expected`` says what would, as in "must be {expected}"."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def kind_of(spec: SettingSpec) -> ValueKind:
    """The value kind of ``spec``: a secret whatever its type, else its type ("bool" is boolean), else unknown."""
    if spec.is_secret:
        return ValueKind.SECRET
    name = _ALIASES.get(spec.type, spec.type)
    return ValueKind(name) if name in _SETTING_KINDS else ValueKind.UNKNOWN


def display_text(value: Any) -> str:
    """A stored value as text in an editor: null as "", true/false in lower case, anything else as ``str``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _text(value: Any) -> str:
    if value is None or isinstance(value, (str, bool, int, float)):
        return display_text(value)
    raise BadValue("text")


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise BadValue("a whole number")
    if isinstance(value, int):
        out = value
    elif isinstance(value, float) and value.is_integer():
        out = int(value)
    elif isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        out = int(value.strip())
    else:
        raise BadValue("a whole number")
    if not INT32_MIN <= out <= INT32_MAX:
        raise BadValue(f"a whole number from {INT32_MIN} to {INT32_MAX}")
    return out


def _decimal(value: Any) -> float:
    if isinstance(value, bool):
        raise BadValue("a number")
    try:
        if isinstance(value, (int, float)):
            out = float(value)
        elif isinstance(value, str) and "_" not in value:
            out = float(value.strip())
        else:
            raise BadValue("a number")
    except (ValueError, OverflowError):
        raise BadValue("a number") from None
    if not math.isfinite(out) or abs(out) > DECIMAL_LIMIT:
        raise BadValue(f"a number from -{DECIMAL_LIMIT:.0e} to {DECIMAL_LIMIT:.0e}")
    return out


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise BadValue("true or false")


def _dropdown(value: Any, choices: Sequence[str] | None) -> str:
    try:
        text = _text(value)
    except BadValue:
        raise BadValue("one of the choices") from None
    if not choices or text in choices:
        return text
    lowered = text.lower()
    for choice in choices:
        if choice.lower() == lowered:
            return choice
    raise BadValue("one of: " + ", ".join(choices[:10]) + (", …" if len(choices) > 10 else ""))


def split_list(text: str) -> list[str]:
    """The items of a comma-separated line: stripped, empty ones dropped."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return split_list(value)
    if isinstance(value, (list, tuple)) and all(isinstance(item, (str, bool, int, float)) for item in value):
        return [display_text(item) for item in value]
    raise BadValue("a list of text")


def parse_value(spec: SettingSpec, value: Any) -> Any:
    """``value`` in the canonical form of ``spec``'s kind; ``BadValue`` when it does not fit (see the table)."""
    kind = kind_of(spec)
    if kind is ValueKind.TEXT:
        return _text(value)
    if kind is ValueKind.INTEGER:
        return _integer(value)
    if kind is ValueKind.DECIMAL:
        return _decimal(value)
    if kind is ValueKind.BOOLEAN:
        return _boolean(value)
    if kind is ValueKind.DROPDOWN:
        return _dropdown(value, spec.values)
    if kind is ValueKind.LIST:
        return _list(value)
    if kind is ValueKind.SECRET:
        return value if value == SECRET_MARKER else _text(value)
    return value  # unknown (and group, which holds no value): unchanged


def require_value(spec: SettingSpec, value: Any) -> Any:
    """``parse_value``, refusing a value that does not fit with ``BackendApiError`` naming the setting."""
    try:
        return parse_value(spec, value)
    except BadValue as exc:
        raise BackendApiError(f"{spec.name} must be {exc.expected}.") from None


def hint_warning(spec: SettingSpec, value: Any) -> str | None:
    """What the spec's local hints say about a value (``ends_with``), in words; None when nothing."""
    if spec.ends_with and isinstance(value, str) and value.strip() and not value.strip().endswith(spec.ends_with):
        return f"{spec.name} should end in {spec.ends_with}."
    return None


def infer_kind(value: Any) -> SettingKind:
    """The kind whose canonical form ``value`` already is (for settings nobody describes); text otherwise."""
    for kind in (SettingKind.BOOLEAN, SettingKind.INTEGER, SettingKind.DECIMAL, SettingKind.LIST):
        try:
            parsed = parse_value(SettingSpec("", kind.value), value)
        except BadValue:
            continue
        if type(parsed) is type(value) and parsed == value:
            return kind
    return SettingKind.TEXT


__all__ = [
    "DECIMAL_LIMIT",
    "INT32_MAX",
    "INT32_MIN",
    "BadValue",
    "ValueKind",
    "display_text",
    "hint_warning",
    "infer_kind",
    "kind_of",
    "parse_value",
    "require_value",
    "split_list",
]
