"""SOGS room objects (directory.lib.sogs): what is a usable room, how it is cleaned, what it
stores. Pure: no Django, no network."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from directory.lib.sogs import (
    MAX_DESCRIPTION_LENGTH,
    MAX_NAME_LENGTH,
    InvalidRoom,
    ProofKind,
    room_values,
    validate_room,
)
from tests.support.sogs import room

ADMIN = "05" + "A" * 64


def columns(valid: dict) -> dict:
    """The cleaned fields, without the object as sent."""
    return {key: value for key, value in valid.items() if key != "sogs_room"}


def test_a_pysogs_room_object_is_accepted_as_sent():
    data = room("lobby", "The Lobby", description="Hello", admins=[ADMIN])
    assert columns(validate_room(data)) == data
    assert validate_room(data)["sogs_room"] == data


def test_missing_text_and_staff_lists_are_empty_and_unknown_keys_only_in_the_object():
    data = {"token": "lobby", "pinned_messages": [1]}
    assert columns(validate_room(data)) == {
        "token": "lobby",
        "name": "",
        "description": "",
        "admins": [],
        "moderators": [],
    }
    assert validate_room(data)["sogs_room"] == data


def test_bunsogs_nulls_mean_absent():
    nulls = {"token": "lobby", "name": None, "active_users": None, "read": None, "admins": None}
    assert columns(validate_room(nulls)) == columns(validate_room({"token": "lobby"}))
    assert validate_room(nulls)["sogs_room"] == nulls  # served as bunsogs sent them


def test_hostile_text_is_cleaned_not_refused():
    valid = validate_room(
        {"token": "lobby", "name": "<b>x</b>\u202egnp.exe\x07" + "x" * 150, "description": "a\x00b"}
    )
    assert valid["name"].startswith("<b>x</b>gnp.exe")
    assert len(valid["name"]) <= 200
    assert valid["description"] == "ab"


def test_numbers_and_flags_are_read_leniently():
    valid = validate_room(
        {"token": " 12 ", "active_users": "7", "info_updates": 3.0, "created": "5.5", "read": "yes"}
    )
    assert (valid["token"], valid["active_users"], valid["info_updates"]) == ("12", 7, 3)
    assert (valid["created"], valid["read"]) == (5.5, True)


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ("junk", "", "not a room object (str)"),
        ({"name": "no token"}, "token", "This field is required."),
        ({"token": "bad token!"}, "token", "This value does not match the required pattern."),
        ({"token": True}, "token", "This value does not match the required pattern."),
        ({"token": "  "}, "token", "This field may not be blank."),
        ({"token": "a", "name": 5}, "name", "Expected a string."),
        ({"token": "a", "active_users": -1}, "active_users", "greater than or equal to 0"),
        ({"token": "a", "active_users": 10**9 + 1}, "active_users", "less than or equal to"),
        ({"token": "a", "active_users": 7.5}, "active_users", "A valid integer is required."),
        ({"token": "a", "message_sequence": True}, "message_sequence", "A valid integer"),
        ({"token": "a", "created": "nan"}, "created", "A valid number is required."),
        ({"token": "a", "created": 10**400}, "created", "too large to convert"),
        ({"token": "a", "write": 2}, "write", "Must be a valid boolean."),
        ({"token": "a", "admins": ADMIN}, "admins", 'got type "str"'),
        ({"token": "a", "admins": [ADMIN, "05zz"]}, "admins[1]", "does not match"),
        ({"token": "a", "moderators": [None]}, "moderators[0]", "may not be null"),
        ({"token": "a", "admins": [ADMIN] * 1001}, "admins", "no more than 1000 elements"),
    ],
)
def test_unusable_room_objects_are_refused_with_where_and_why(data, field, reason):
    with pytest.raises(InvalidRoom) as refused:
        validate_room(data)
    assert refused.value.field == field
    assert reason in refused.value.reason
    assert isinstance(refused.value, ValueError)
    assert str(refused.value) == (f"{field}: {refused.value.reason}" if field else reason)


def test_the_first_bad_field_is_the_one_reported():
    with pytest.raises(InvalidRoom) as refused:
        validate_room({"moderators": "x", "active_users": "many", "token": "a"})
    assert refused.value.field == "active_users"


def test_room_values_are_the_crawled_room_fields():
    now = datetime(2025, 1, 1, tzinfo=UTC)
    data = validate_room(
        room("lobby", active_users=10, active_users_cutoff=86400, admins=[ADMIN], created=0)
    )
    values = room_values(data, now)
    assert values["active_users_weekly"] == 70  # a one-day figure scaled to a week
    assert values["created"] == datetime(1970, 1, 1, tzinfo=UTC)
    assert values["admins"] == [ADMIN]  # as reported, not lower-cased
    assert values["sogs_room"] == data["sogs_room"]
    assert (values["last_seen"], values["listed_by_server"]) == (now, True)
    assert room_values({"token": "x"}, now)["created"] is None


def test_proof_kinds_say_how_the_key_was_proven():
    assert [kind.value for kind in ProofKind] == ["v4", "page", "v3"]
    assert ProofKind("page").label == "room page"


# --- The object as sent --------------------------------------------------------------------------


def test_the_object_is_kept_exactly_as_pysogs_sent_it():
    """pysogs `sogs/routes/rooms.py` `get_room_info`: `created` is the database's float, the
    staff lists hold ids as stored, `description`, `image_id` and `pinned_messages` come only
    when set. All of it is kept: keys, order, values and JSON types."""
    pinned = {"id": 1, "pinned_at": 1796236899.1769896, "pinned_by": "05" + "Ab" * 32}
    data = room(
        "lobby",
        "Lobby \u202eevil",
        created=1673902815.71964,
        admins=[ADMIN],
        description="  Line one\n\n\n  #tag  ",
        image_id=24574,
        pinned_messages=[pinned],
    )
    kept = validate_room(data)["sogs_room"]
    assert kept == data
    assert list(kept) == list(data)
    assert kept["created"] == 1673902815.71964  # every digit, not a datetime's microseconds
    assert kept["name"] == "Lobby \u202eevil"  # the website's text is the cleaned column
    assert validate_room(data)["name"] == "Lobby evil"


def test_nul_and_unpaired_surrogates_are_all_that_is_removed():
    """pysogs keeps what its command line is given (`sogs/__main__.py` `--add-room` with
    `--description`), and JSON escapes can carry U+0000 and lone surrogates (\\ud800); but
    PostgreSQL stores no U+0000 in text or JSON and a lone surrogate is no UTF-8 text: both are
    removed from every string, keys and nested values too, and nothing else."""
    data = room(
        "lobby",
        "a\x00b",
        description="\ud800x\udfff",
        pinned_messages=[{"id": 1, "pinned_by": "05\x00ab", "note\x00": "\U0001f600"}],
    )
    kept = validate_room(data)["sogs_room"]
    assert (kept["name"], kept["description"]) == ("ab", "x")
    assert kept["pinned_messages"] == [{"id": 1, "pinned_by": "05ab", "note": "\U0001f600"}]


@pytest.mark.parametrize(
    ("field", "cap"), [("name", MAX_NAME_LENGTH), ("description", MAX_DESCRIPTION_LENGTH)]
)
def test_text_over_the_ingestion_caps_is_refused_not_cut(field, cap):
    """pysogs (`update_room`, `sogs/routes/rooms.py`) stores names and descriptions of any
    length: one over our cap is refused with its reason, since `room` must be served whole."""
    assert len(validate_room(room("lobby", **{field: "x" * cap}))[field]) == cap
    with pytest.raises(InvalidRoom) as refused:
        validate_room(room("lobby", **{field: "x" * (cap + 1)}))
    assert str(refused.value) == f"{field}: over {cap} characters ({cap + 1})."


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"pinned_messages": [{"id": 1, "pinned_at": float("inf")}]}, "not finite"),
        ({"pinned_messages": [[[[[[[[[]]]]]]]]]}, "nested deeper than 8 levels"),
        ({"junk": "x" * 200_000}, "room object over 200000 characters"),
    ],
)
def test_objects_that_cannot_be_served_whole_are_refused(extra, reason):
    """The shape pysogs sends (`get_room_info`: three levels at most, finite numbers, a few
    kilobytes) passes; anything that could not be stored and served as JSON is refused."""
    with pytest.raises(InvalidRoom, match=reason):
        validate_room(room("lobby", **extra))


def test_counters_past_the_database_integers_are_refused():
    with pytest.raises(InvalidRoom, match="message_sequence"):
        validate_room(room("lobby", message_sequence=2**63))
