"""A crawled room's object is stored and served exactly as its server sent it; the website gets
the cleaned text; a room past an ingestion cap is refused with its reason, never cut."""

from __future__ import annotations

import pytest

from crawler.pipeline import run_crawl
from directory.models import Room, Tag
from tests.directory.web.conftest import _private_cache  # noqa: F401  (autouse: a cache of its own)
from tests.support.sogs import pinned_message, room

pytestmark = pytest.mark.django_db

ADMIN = "05" + "ee52125d1ae686a0a032fedb52b5af02502cdd6bcb7decf649fc13e12f89ac58"
MOD = "15" + "382d05146e2003c3b1a1585a3eebc7589d33061e6a9ba0b5f30e22084bf43e47"


def listed(client, url: str = "/listing/all") -> dict[str, dict]:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return {entry["room"]["token"]: entry for entry in response.json()["rooms"]}


def test_the_room_object_is_served_exactly_as_pysogs_sent_it(config, sogs, page, client):
    """pysogs `sogs/routes/rooms.py` `get_room_info` for an anonymous caller (the shape a real
    pysogs gave `GET /rooms`): `created` a float, `description` and `pinned_messages` only when
    set, a bidi override in the name as the admin typed it."""
    sent = room(
        "test-room",
        "Test \u202eroom",
        created=1796236893.4119835,
        admins=[ADMIN],
        moderators=[MOD],
        description="Line one\n\n  #tag",
        pinned_messages=[pinned_message(1, ADMIN, 1796236899.1769896)],
    )
    server = sogs([sent, room("bare", "Bare")])
    run_crawl(config, source_urls=[page(server.join_link("test-room"))])

    rooms = listed(client)
    assert rooms["test-room"]["room"] == sent
    assert rooms["bare"]["room"] == server.rooms[1]  # no description, image or pins: left out
    assert rooms["test-room"]["room_extra"]["server_api"] == "sogs"
    stored = Room.objects.get(token="test-room")
    assert stored.sogs_room == sent
    assert (stored.name, stored.description) == ("Test room", "Line one\n\n#tag")  # the site's
    assert (stored.admins, stored.moderators) == ([ADMIN], [MOD])
    assert list(
        stored.tags.filter(room_tags__origin=Tag.Kind.HASHTAG).values_list("slug", flat=True)
    ) == ["tag"]


def test_bunsogs_nulls_and_flags_are_served_as_it_sent_them(config, sogs, page, client):
    """bunsogs (`src/router/get-room.ts`, `getRoomDetails`) sends `description` and `image_id` as
    null, `pinned_messages` as [] and `moderator`/`admin` false where pysogs leaves keys out."""
    sent = {
        **room("lobby"),
        "description": None,
        "image_id": None,
        "pinned_messages": [],
        "moderator": False,
        "admin": False,
    }
    server = sogs([sent])
    run_crawl(config, source_urls=[page(server.join_link("lobby"))])
    assert listed(client)["lobby"]["room"] == sent
    assert Room.objects.get(token="lobby").description == ""


def test_a_room_over_a_cap_is_refused_with_its_reason_and_keeps_its_last_values(config, sogs, page):
    """pysogs (`update_room`, `sogs/routes/rooms.py`) stores descriptions of any length; ours
    are served whole, so one over the cap refuses the room: its row keeps what the last good
    crawl stored, still listed by its server, and the crawl says why."""
    good = room("lobby", description="Short and fine")
    server = sogs([good])
    url = page(server.join_link("lobby"))
    run_crawl(config, source_urls=[url])
    before = Room.objects.get(token="lobby")

    server.rooms[0] = {**good, "description": "x" * 4001, "active_users": 99}
    server.add_room_routes(server.rooms[0])
    run = run_crawl(config, source_urls=[url])

    after = Room.objects.get(token="lobby")
    assert after.sogs_room == good and after.description == "Short and fine"
    assert (after.active_users, after.last_seen) == (before.active_users, before.last_seen)
    assert after.listed_by_server
    assert (
        f"{server.base_url}: room 'lobby' refused: description: over 4000 characters (4001)."
        in run.errors
    )


def test_trailing_hashtags_are_read_from_the_whole_description(config, sogs, page):
    """A description at the cap, its `#tags` at the very end (where the sessioncommunities
    crawler, `php/servers/servers-rooms.php`, reads them too): none is lost to a cut."""
    tags = " #gaming #lang:de"
    description = "x" * (4000 - len(tags)) + tags
    server = sogs([room("lobby", description=description)])
    run_crawl(config, source_urls=[page(server.join_link("lobby"))])
    lobby = Room.objects.get(token="lobby")
    hashtags = lobby.room_tags.filter(origin=Tag.Kind.HASHTAG).values_list("tag__slug", flat=True)
    assert list(hashtags) == ["gaming"]
    assert lobby.language == "de"
    assert lobby.sogs_room["description"] == description
