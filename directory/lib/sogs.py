"""A SOGS room object, as servers send it and old snapshots kept it: validated, then turned
into the Room fields a crawl or an import stores. Pure: no Django, no network.

The room object is what pysogs' `get_room_info` (`sogs/routes/rooms.py`) returns to an anonymous
caller; bunsogs sends the same keys, with nulls where pysogs leaves a key out. It is kept twice:
as sent (`sogs_room`, served as the listing's `room`) and as cleaned columns for the website and
search. Also the words for how a server proved its key.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from directory.lib.activity import weekly_active_users
from directory.lib.roomtext import clean_text

TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
SESSION_ID = re.compile(r"^[0-9a-fA-F]{66}\Z")
MAX_STAFF = 1000  # admins or moderators listed per room
# Ingestion caps: a room over one is refused, never cut (its object is served as sent).
MAX_NAME_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 4000
MAX_OBJECT_LENGTH = 200_000  # the whole object as compact JSON, in characters
MAX_DEPTH = 8  # pysogs nests three deep: the room, `pinned_messages`, one pin
_MAX_BIGINT = 2**63 - 1  # the database's BigIntegerField
# PostgreSQL stores no NUL in text or JSON, and an unpaired surrogate is no text UTF-8 carries.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_MAX_NUMBER_TEXT = 1000  # a number sent as a string longer than this is refused unread
_WHOLE = re.compile(r"\.0*\s*$")  # "7.0" is the integer 7, "7.5" is not


class InvalidRoom(ValueError):
    """A room object that cannot be stored: `field` says where ("" for the whole object, e.g.
    "admins[3]" for one entry), `reason` why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


class ProofKind(StrEnum):
    """How a server proved it holds the key its join links name."""

    V4 = "v4"  # it answered a v4 onion request encrypted to the key
    PAGE = "page"  # its own room page shows the key (a server without the v4 endpoint)
    V3 = "v3"  # it answered a legacy v3 onion request encrypted to the key

    @property
    def label(self) -> str:
        return _PROOF_LABELS[self]


_PROOF_LABELS = {
    ProofKind.V4: "onion request",
    ProofKind.PAGE: "room page",
    ProofKind.V3: "legacy onion request",
}


# --- One value each ------------------------------------------------------------------------------
# Numbers and flags are read as leniently as they always were (Django REST framework's fields
# read them for the snapshot import): "7" and 7.0 are the integer 7, "yes" is true.


def _string(value: object, pattern: re.Pattern[str]) -> str:
    """A short identifier (token, Session ID): numbers are taken as their text, spaces trimmed."""
    if value == "" or str(value).strip() == "":
        raise InvalidRoom("", "This field may not be blank.")
    mismatch = InvalidRoom("", "This value does not match the required pattern.")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise mismatch
    text = str(value).strip()
    if "\x00" in text:
        raise InvalidRoom("", "Null characters are not allowed.")
    for char in text:
        if 0xD800 <= ord(char) <= 0xDFFF:
            raise InvalidRoom("", f"Surrogate characters are not allowed: U+{ord(char):X}.")
    if not pattern.search(text):
        raise mismatch
    return text


def _text(max_length: int, *, multiline: bool = False) -> Callable[[object], str]:
    """Text from a server, cleaned for the website (control and bidi characters removed), since
    hostile names are data to store safely, not an error. Text over `max_length` characters as
    sent is refused: the object is served as sent, so nothing may be cut."""

    def check(value: object) -> str:
        if not isinstance(value, str):
            raise InvalidRoom("", "Expected a string.")
        if len(value) > max_length:
            raise InvalidRoom("", f"over {max_length} characters ({len(value)}).")
        return clean_text(value, max_length, multiline=multiline)

    return check


def _in_range(number: float, low: int, high: int | None) -> None:
    if high is not None and number > high:
        raise InvalidRoom("", f"Ensure this value is less than or equal to {high}.")
    if number < low:
        raise InvalidRoom("", f"Ensure this value is greater than or equal to {low}.")


def _integer(low: int = 0, high: int | None = None) -> Callable[[object], int]:
    def check(value: object) -> int:
        if isinstance(value, str) and len(value) > _MAX_NUMBER_TEXT:
            raise InvalidRoom("", "String value too large.")
        try:
            number = int(_WHOLE.sub("", str(value)))
        except (ValueError, TypeError):
            raise InvalidRoom("", "A valid integer is required.") from None
        _in_range(number, low, high)
        return number

    return check


def _number(low: int, high: int) -> Callable[[object], float]:
    def check(value: object) -> float:
        if isinstance(value, str) and len(value) > _MAX_NUMBER_TEXT:
            raise InvalidRoom("", "String value too large.")
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InvalidRoom("", "A valid number is required.") from None
        except OverflowError:
            raise InvalidRoom("", "Integer value too large to convert to float") from None
        if not math.isfinite(number):
            raise InvalidRoom("", "A valid number is required.")
        _in_range(number, low, high)
        return number

    return check


# 1 also stands for True and 1.0, 0 for False and 0.0 (equal values hash alike).
_TRUE = {"t", "y", "yes", "true", "on", "1", 1}
_FALSE = {"f", "n", "no", "false", "off", "0", 0}
_UNSET = {"null", ""}


def _flag(value: object) -> bool | None:
    key = value.lower() if isinstance(value, str) else value
    try:
        if key in _TRUE:
            return True
        if key in _FALSE:
            return False
        if key in _UNSET:
            return None
    except TypeError:  # a list or an object: not hashable, not a flag
        pass
    raise InvalidRoom("", "Must be a valid boolean.")


def _session_ids(value: object) -> list[str]:
    if isinstance(value, str | dict) or not hasattr(value, "__iter__"):
        raise InvalidRoom("", f'Expected a list of items but got type "{type(value).__name__}".')
    ids = []
    for index, item in enumerate(value):
        if item is None:
            raise InvalidRoom(f"[{index}]", "This field may not be null.")
        try:
            ids.append(_string(item, SESSION_ID))
        except InvalidRoom as error:
            raise InvalidRoom(f"[{index}]", error.reason) from None
    if len(ids) > MAX_STAFF:
        raise InvalidRoom("", f"Ensure this field has no more than {MAX_STAFF} elements.")
    return ids


# In this order: the first bad field is the one reported.
_FIELDS: dict[str, Callable[[object], Any]] = {
    "token": lambda value: _string(value, TOKEN),
    "name": _text(MAX_NAME_LENGTH),
    "description": _text(MAX_DESCRIPTION_LENGTH, multiline=True),
    "active_users": _integer(0, 10**9),
    "active_users_cutoff": _integer(0, 10**9),
    "created": _number(0, 32503680000),  # seconds since 1970, up to the year 3000
    "info_updates": _integer(0, _MAX_BIGINT),
    "message_sequence": _integer(0, _MAX_BIGINT),
    "image_id": _integer(0, _MAX_BIGINT),
    "read": _flag,
    "write": _flag,
    "upload": _flag,
    "admins": _session_ids,
    "moderators": _session_ids,
}
_DEFAULTS: dict[str, Callable[[], Any]] = {
    "name": str,
    "description": str,
    "admins": list,
    "moderators": list,
}


# --- The room object -----------------------------------------------------------------------------


def validate_room(data: object) -> dict[str, Any]:
    """The room object's known fields, checked and cleaned for the website (control and bidi
    characters removed); a missing name, description or staff list is empty. Under `sogs_room`,
    the whole object as sent (`reported_object`). Raises InvalidRoom for a room that cannot be
    stored (no valid token, wrong types, a value over an ingestion cap)."""
    if not isinstance(data, dict):
        raise InvalidRoom("", f"not a room object ({type(data).__name__})")
    given = {key: value for key, value in data.items() if value is not None}  # null: absent
    room: dict[str, Any] = {}
    for name, check in _FIELDS.items():
        if name not in given:
            if name == "token":
                raise InvalidRoom(name, "This field is required.")
            if name in _DEFAULTS:
                room[name] = _DEFAULTS[name]()
            continue
        try:
            room[name] = check(given[name])
        except InvalidRoom as error:
            raise InvalidRoom(name + error.field, error.reason) from None
    room["sogs_room"] = reported_object(data)
    return room


def reported_object(data: dict[str, Any]) -> dict[str, Any]:
    """The room object exactly as the server sent it (keys, order, JSON types, nulls), with only
    what cannot be stored taken out: NUL characters and unpaired surrogates in any string or
    key. Raises InvalidRoom for a number that is not finite, nesting deeper than MAX_DEPTH or
    an object over MAX_OBJECT_LENGTH."""
    stored = _storable(data, MAX_DEPTH)
    length = len(json.dumps(stored, ensure_ascii=False, separators=(",", ":")))
    if length > MAX_OBJECT_LENGTH:
        raise InvalidRoom("", f"room object over {MAX_OBJECT_LENGTH} characters ({length}).")
    return stored


def _storable(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return _UNSTORABLE.sub("", value)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidRoom("", "A number that is not finite.")
    if isinstance(value, dict | list) and depth == 0:
        raise InvalidRoom("", f"room object nested deeper than {MAX_DEPTH} levels.")
    if isinstance(value, dict):
        return {_UNSTORABLE.sub("", key): _storable(item, depth - 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item, depth - 1) for item in value]
    return value  # int, bool, None


def room_values(data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The crawled Room fields of one validated room object, as seen at `now`."""
    active, cutoff = data.get("active_users"), data.get("active_users_cutoff")
    created = data.get("created")
    return {
        "token": data["token"],
        "name": data.get("name") or "",
        "description": data.get("description") or "",
        "active_users": active,
        "active_users_cutoff": cutoff,
        "active_users_weekly": weekly_active_users(active, cutoff),
        "created": datetime.fromtimestamp(created, tz=UTC) if created is not None else None,
        "info_updates": data.get("info_updates"),
        "message_sequence": data.get("message_sequence"),
        "image_id": data.get("image_id"),
        "read": data.get("read"),
        "write": data.get("write"),
        "upload": data.get("upload"),
        # As reported, not lower-cased: they stand in for `room` until an object is stored.
        "admins": list(data.get("admins") or []),
        "moderators": list(data.get("moderators") or []),
        "sogs_room": data.get("sogs_room") or {},
        "last_seen": now,
        "listed_by_server": True,
    }
