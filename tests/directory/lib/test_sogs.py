"""SOGS room objects (directory.lib.sogs): what is a usable room, how it is cleaned, what it
stores. Pure: no Django, no network."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from directory.lib.sogs import InvalidRoom, ProofKind, room_values, validate_room
from tests.support.sogs import room

ADMIN = "05" + "A" * 64


def test_a_pysogs_room_object_is_accepted_as_sent():
    data = room("lobby", "The Lobby", description="Hello", admins=[ADMIN])
    assert validate_room(data) == data


def test_missing_text_and_staff_lists_are_empty_and_unknown_keys_dropped():
    assert validate_room({"token": "lobby", "pinned_messages": [1]}) == {
        "token": "lobby",
        "name": "",
        "description": "",
        "admins": [],
        "moderators": [],
    }


def test_bunsogs_nulls_mean_absent():
    nulls = {"token": "lobby", "name": None, "active_users": None, "read": None, "admins": None}
    assert validate_room(nulls) == validate_room({"token": "lobby"})


def test_hostile_text_is_cleaned_and_clamped_not_refused():
    valid = validate_room(
        {"token": "lobby", "name": "<b>x</b>\u202egnp.exe\x07" + "x" * 500, "description": "a\x00b"}
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
    assert values["admins"] == [ADMIN.lower()]
    assert (values["last_seen"], values["listed_by_server"]) == (now, True)
    assert room_values({"token": "x"}, now)["created"] is None


def test_proof_kinds_say_how_the_key_was_proven():
    assert [kind.value for kind in ProofKind] == ["v4", "page", "v3"]
    assert ProofKind("page").label == "room page"
