"""GET /listings and GET /listing/<id>: shapes, what never appears, filters and sorting."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from directory.models import AgeRating, Listing, Room, RoomActivity, Server, Tag
from listings_api.data import SOGS_ROOM_FIELDS

ROOM_EXTRA_FIELDS = {
    "join_url", "server_url", "server_pubkey", "server_name", "server_icon_url", "language",
    "language_flag", "tags", "age_rating", "rating_verified_at", "included_at", "pinned",
    "online", "last_seen", "key_proven", "key_checked_at", "messages_per_day", "icon_url",
    "room_page_url", "maintainer_description", "server_api", "legacy_member_count",
}  # fmt: skip


def rooms_of(client, url: str = "/listing/all") -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return response.json()["rooms"]


def tokens(client, url: str = "/listing/all") -> list[str]:
    return [entry["room"]["token"] for entry in rooms_of(client, url)]


def test_listings_enumerates_every_listing_with_its_room_count(client, imported):
    Listing.objects.create(slug="empty", name="Nothing yet")
    body = client.get("/listings").json()
    by_id = {listing["id"]: listing for listing in body["listings"]}
    assert set(by_id) == {"all", "empty"}
    assert by_id["all"]["rooms"] == Room.objects.public().count() > 0
    assert by_id["empty"]["rooms"] == 0
    assert set(by_id["all"]) == {
        "id",
        "name",
        "description",
        "rating",
        "rooms",
        "created",
        "updated",
    }


def test_listing_wraps_each_room_in_room_and_room_extra(client, imported):
    entries = rooms_of(client)
    assert len(entries) == Room.objects.public().count()
    for entry in entries:
        assert set(entry) == {"room", "room_extra"}
        assert set(entry["room"]) <= set(SOGS_ROOM_FIELDS)
        assert set(entry["room_extra"]) == ROOM_EXTRA_FIELDS
        assert not set(entry["room"]) & set(entry["room_extra"])


def test_room_carries_sogs_fields_with_sogs_names_and_types(client, imported):
    room = Room.objects.select_related("server").get(token="ai")
    entry = next(e for e in rooms_of(client) if e["room"]["token"] == "ai")
    sogs = entry["room"]
    assert sogs["name"] == room.name
    assert sogs["active_users"] == room.active_users
    assert sogs["created"] == pytest.approx(room.created.timestamp())
    assert isinstance(sogs["created"], float)
    assert sogs["moderators"] == room.moderators and sogs["admins"] == room.admins
    assert entry["room_extra"]["join_url"] == room.join_url
    assert entry["room_extra"]["server_pubkey"] == room.server.pubkey
    assert entry["room_extra"]["room_page_url"] == "http://testserver" + room.get_absolute_url()


def test_unreported_sogs_fields_are_left_out_not_null(client, imported):
    # A room stored before its object was (no `sogs_room` yet): its columns stand in.
    Room.objects.filter(token="ai").update(image_id=None, active_users=None, sogs_room={})
    sogs = next(e["room"] for e in rooms_of(client) if e["room"]["token"] == "ai")
    assert "image_id" not in sogs and "active_users" not in sogs
    assert sogs["token"] == "ai"


def test_unknown_listing_is_a_json_404(client, imported):
    response = client.get("/listing/nope")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "nope" in response.json()["detail"]


def _hide_room(room: Room) -> None:
    room.hidden = True
    room.save()  # as the admin does: through save(), into the history


def _hide_server(room: Room) -> None:
    room.server.hidden = True
    room.server.save()


def _fail_key_proof(room: Room) -> None:
    # As a crawl records it: the state and when it was checked.
    Server.objects.filter(pk=room.server_id).update(
        key_state=Server.KeyState.FAILED, key_checked_at=timezone.now()
    )


def _pass_offline_grace(room: Room) -> None:
    # Time passing writes nothing; the room's last sighting just falls behind the grace period.
    Room.objects.filter(pk=room.pk).update(last_seen=timezone.now() - timedelta(days=30))


@pytest.mark.parametrize(
    "hide",
    [_hide_room, _hide_server, _fail_key_proof, _pass_offline_grace],
    ids=["hidden-room", "hidden-server", "key-proof-failed", "offline-past-grace"],
)
def test_rooms_the_public_may_not_see_never_appear(client, imported, hide):
    room = Room.objects.select_related("server").get(token="ai")
    assert "ai" in tokens(client)
    hide(room)
    assert "ai" not in tokens(client)
    assert client.get("/listings").json()["listings"][0]["rooms"] == Room.objects.public().count()


def test_key_proven_follows_the_servers_key_state(client, imported):
    room = Room.objects.select_related("server").get(token="ai")
    extra = next(e["room_extra"] for e in rooms_of(client) if e["room"]["token"] == "ai")
    assert extra["key_proven"] is False and extra["key_checked_at"] is None
    checked = timezone.now()
    Server.objects.filter(pk=room.server_id).update(
        key_state=Server.KeyState.PROVEN, key_checked_at=checked
    )
    extra = next(e["room_extra"] for e in rooms_of(client) if e["room"]["token"] == "ai")
    assert extra["key_proven"] is True and extra["key_checked_at"].startswith(str(checked.date()))


def test_message_rate_is_per_day_over_the_last_week(client, imported):
    room = Room.objects.get(token="ai")
    now = timezone.now()
    RoomActivity.objects.create(room=room, at=now - timedelta(days=20), message_sequence=0)
    RoomActivity.objects.create(room=room, at=now - timedelta(days=2), message_sequence=1000)
    RoomActivity.objects.create(room=room, at=now, message_sequence=1300)
    extra = next(e["room_extra"] for e in rooms_of(client) if e["room"]["token"] == "ai")
    assert extra["messages_per_day"] == pytest.approx(150, rel=0.01)


def test_curated_fields_appear_in_room_extra(client, imported):
    tag = Tag.objects.create(slug="robots", label="Robots", kind=Tag.Kind.MAINTAINER)
    room = Room.objects.get(token="ai")
    room.tags.add(tag, through_defaults={"origin": Tag.Kind.MAINTAINER})
    Room.objects.filter(pk=room.pk).update(
        language="de", age_rating=AgeRating.SFW, maintainer_description="All about AI."
    )
    extra = next(e["room_extra"] for e in rooms_of(client) if e["room"]["token"] == "ai")
    assert extra["language"] == {"code": "de", "flag": "🇩🇪"} and extra["language_flag"] == "🇩🇪"
    assert {"text": "Robots", "type": "maintainer"} in extra["tags"]
    assert extra["age_rating"] == "sfw"
    assert extra["maintainer_description"] == "All about AI."


def test_filters_by_language_tag_and_text(client, imported):
    Room.objects.filter(token="ai").update(language="eo")
    assert tokens(client, "/listing/all?language=EO") == ["ai"]
    tag = Tag.objects.create(slug="unique-tag", label="Unique Tag")
    Room.objects.get(token="ai").tags.add(tag, through_defaults={"origin": Tag.Kind.MAINTAINER})
    assert tokens(client, "/listing/all?tag=unique tag") == ["ai"]
    assert tokens(client, "/listing/all?tag=unique-tag") == ["ai"]
    found = tokens(client, "/listing/all?q=artificial")
    assert "ai" in found and len(found) < Room.objects.public().count()
    assert tokens(client, "/listing/all?q=zzzz-nothing") == []


def test_sorts_by_name_created_and_active_users(client, imported):
    by_name = [e["room"]["name"].lower() for e in rooms_of(client, "/listing/all?sort=name")]
    assert by_name == sorted(by_name)
    created = [e["room"].get("created", 0) for e in rooms_of(client, "/listing/all?sort=created")]
    assert created == sorted(created, reverse=True)
    active = rooms_of(client, "/listing/all?sort=active_users")
    assert active == rooms_of(client, "/listing/all")
    weekly = {
        (pubkey, token): users
        for pubkey, token, users in Room.objects.values_list(
            "server__pubkey", "token", "active_users_weekly"
        )
    }
    counts = [weekly[e["room_extra"]["server_pubkey"], e["room"]["token"]] or 0 for e in active]
    assert counts == sorted(counts, reverse=True)


@pytest.mark.parametrize(
    "query",
    ["sort=popular", "q=" + "x" * 101, "language=" + "x" * 20, "q=%00", "include=everything"],
)
def test_bad_query_parameters_are_a_json_400(client, imported, query):
    response = client.get(f"/listing/all?{query}")
    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid query parameters."


def test_listing_of_chosen_rooms_and_rating(client, imported):
    listing = Listing.objects.create(slug="picked", name="Picked", rating_filter="sfw")
    ai, other = Room.objects.public()[:2]
    listing.rooms.add(ai, other)
    Room.objects.filter(pk=ai.pk).update(age_rating=AgeRating.SFW)
    assert tokens(client, "/listing/picked") == [ai.token]
    assert client.get("/listing/picked").json()["rating"] == "sfw"


# --- `room` is the server's object; legacy servers ------------------------------------------------

# What the sessioncommunities crawler (`php/servers/servers-rooms.php`, `CommunityRoom`) adds to
# the room objects of its servers.json: its own keys, a null for each key the server left out,
# "" for a description the server did not send (pysogs never sends an empty one).
CRAWLER_KEYS = {"tags", "string_tags", "language_flag"}


def test_every_room_is_the_snapshots_room_object_field_for_field(client, imported, snapshot_data):
    """pysogs `get_room_info` (`sogs/routes/rooms.py`): `created` is a float, `image_id` and
    `description` are left out when unset, staff ids come as stored. On the demo data each
    `room` is the snapshot's object less what its crawler added, with every digit of `created`."""
    served = {
        (entry["room_extra"]["server_pubkey"], entry["room"]["token"]): entry["room"]
        for entry in rooms_of(client)
    }
    expected = {
        (server["pubkey"], data["token"]): {
            key: value
            for key, value in data.items()
            if key not in CRAWLER_KEYS and value is not None and (key, value) != ("description", "")
        }
        for server in snapshot_data
        for data in server["rooms"]
    }
    assert served == expected
    assert all(isinstance(room["created"], float) for room in served.values())


def test_the_stored_object_is_served_as_the_server_sent_it(client, imported):
    """pysogs `get_room_info` for an anonymous caller, `pinned_messages` included (only when a
    message is pinned, `sogs/model/room.py` `pinned_messages`); nothing is lower-cased, cleaned
    or added, a key the server left out stays out."""
    pin = {"id": 7, "pinned_at": 1796236899.1769896, "pinned_by": "15" + "aB" * 32}
    sent = {
        "active_users": 3,
        "active_users_cutoff": 604800,
        "admins": ["05" + "Ab" * 32],
        "created": 1673902815.7196412,
        "info_updates": 4,
        "message_sequence": 1,
        "moderators": [],
        "name": "AI \u202eroom  ",
        "pinned_messages": [pin],
        "read": True,
        "token": "ai",
        "upload": True,
        "write": True,
    }
    Room.objects.filter(token="ai").update(sogs_room=sent, name="AI room")
    entry = next(e for e in rooms_of(client) if e["room"]["token"] == "ai")
    assert entry["room"] == sent
    assert "description" not in entry["room"] and "image_id" not in entry["room"]


def _make_legacy(room: Room) -> None:
    # As a crawl of a legacy server stores it (crawler/sogs.py `poll_legacy`): `/rooms` gives
    # each room's id and name, `member_count` comes from another endpoint.
    now = timezone.now()
    Server.objects.filter(pk=room.server_id).update(
        api_kind=Server.ApiKind.LEGACY, last_poll_at=now, last_seen=now
    )
    for legacy in Room.objects.filter(server=room.server_id):
        legacy.sogs_room = {"token": legacy.token, "name": legacy.name}
        legacy.active_users, legacy.legacy_member_count, legacy.last_seen = None, 42, now
        legacy.save()


def _keys(entries: list[dict]) -> set[tuple[str, str]]:
    return {(e["room_extra"]["server_pubkey"], e["room"]["token"]) for e in entries}


def test_legacy_rooms_are_left_out_unless_asked_for(client, imported):
    """Session Desktop fetches `/capabilities` before joining and gives up without it
    (session-desktop `ts/session/apis/open_group_api/sogsv3/sogsV3RoomInfos.ts`); a legacy
    server (pysogs `sogs/routes/legacy.py` emulates one) has none, so its rooms are listed only
    with `include=legacy`, marked `server_api` `legacy`, their `member_count` apart."""
    room = Room.objects.select_related("server").get(token="ai")
    legacy = {
        (room.server.pubkey, token) for token in room.server.rooms.values_list("token", flat=True)
    }
    before = _keys(rooms_of(client))
    _make_legacy(room)
    shown = _keys(rooms_of(client))
    assert shown == before - legacy and legacy <= before
    assert client.get("/listings").json()["listings"][0]["rooms"] == len(shown)

    everything = rooms_of(client, "/listing/all?include=legacy")
    assert _keys(everything) == before
    marked = [e for e in everything if e["room_extra"]["server_api"] == "legacy"]
    assert _keys(marked) == legacy
    ai = next(e for e in marked if e["room"]["token"] == "ai")
    assert ai["room"] == {"token": "ai", "name": room.name}  # never `active_users`
    assert ai["room_extra"]["legacy_member_count"] == 42
    others = [e for e in everything if e["room_extra"]["server_api"] == "sogs"]
    assert len(others) == len(shown)
    assert {e["room_extra"]["legacy_member_count"] for e in others} == {None}
