"""The one vocabulary of room queries (RoomQuerySet / Room): the website, the API and the admin
give the same answer to the same search, online, rating or sort question."""

from __future__ import annotations

import html
import itertools
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from directory.models import (
    MIN_RATE_SPAN,
    ROOM_SORTS,
    AgeRating,
    Listing,
    Room,
    RoomActivity,
    Server,
    Tag,
)


@pytest.fixture(autouse=True)
def own_caches(settings, private_cache):
    """A private cache and key prefix per test, so no page or listing built by another test (or
    before this test changed the data) is served; every room on one page."""
    settings.WEB_ROOMS_PER_PAGE = 500


def site_rooms(client, **params) -> list[str]:
    """Paths of the room pages the home page lists, in order (adult rooms included)."""
    response = client.get(reverse("home"), {"nsfw": "1", **params})
    assert response.status_code == 200
    found = re.findall(r'<h2><a href="([^"]+)">', response.content.decode())
    return [html.unescape(path) for path in found]


def api_rooms(client, query: str = "", listing: str = "all") -> list[dict]:
    response = client.get(f"/listing/{listing}{query}")
    assert response.status_code == 200, response.content
    return response.json()["rooms"]


def api_paths(client, query: str = "", listing: str = "all") -> list[str]:
    """Paths of the room pages the API's rooms link to, in order."""
    return [
        entry["room_extra"]["room_page_url"].removeprefix("http://testserver")
        for entry in api_rooms(client, query, listing)
    ]


def paths(rooms) -> set[str]:
    return {room.get_absolute_url() for room in rooms.select_related("server")}


def set_poll_status(server: Server, status: str) -> None:
    server.last_poll_status = status
    server.last_poll_at = timezone.now()
    server.save()


# -- search ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "q",
    [
        "artificial",  # a name
        "ARTIFICIAL intelligence",  # every word, any case
        "open.getsession.org",  # a server address
        "zxqvmodels",  # a description
        "curatedwords",  # the maintainers' description
        "qwertytag",  # a tag
        "session",
        "no-such-community-anywhere",
    ],
)
def test_site_and_api_search_find_the_same_rooms(client, imported, q):
    room = Room.objects.get(token="ai")
    room.description = "We talk about zxqvmodels here"
    room.maintainer_description = "Some curatedwords from the maintainers."
    room.save()
    tag = Tag.objects.create(slug="qwertytag", label="qwertytag")
    room.tags.add(tag, through_defaults={"origin": Tag.Kind.MAINTAINER})

    expected = paths(Room.objects.public().search(q))
    assert set(site_rooms(client, q=q)) == expected
    assert set(api_paths(client, f"?q={q}")) == expected
    if q != "no-such-community-anywhere":
        assert 0 < len(expected) < Room.objects.public().count()


def test_search_words_all_have_to_match(imported):
    public = Room.objects.public()
    both = public.search("artificial intelligence")
    assert both.exists()
    assert not public.search("artificial no-such-word").exists()
    assert public.search("   ").count() == public.count()


# -- online and offline ----------------------------------------------------------------------


@pytest.fixture
def three_states(imported):
    """One room online, one offline (its server's last poll failed), one never polled; and one
    online server's room that the server no longer lists."""
    public = Room.objects.public()
    up, down, never, unlisting = Server.objects.filter(rooms__in=public).distinct()[:4]
    set_poll_status(up, Server.PollStatus.OK)
    set_poll_status(down, Server.PollStatus.TIMEOUT)
    set_poll_status(unlisting, Server.PollStatus.OK)
    unlisted = public.filter(server=unlisting).first()
    unlisted.listed_by_server = False
    unlisted.save()
    rooms = public.select_related("server")
    states = {
        name: rooms.filter(server=server).first()
        for name, server in {"online": up, "offline": down, "never": never}.items()
    }
    return {**states, "unlisted": rooms.get(pk=unlisted.pk)}


def test_room_properties_mean_what_the_queryset_methods_mean(three_states):
    rooms = Room.objects.select_related("server")
    online = set(Room.objects.online().values_list("pk", flat=True))
    offline = set(Room.objects.offline().values_list("pk", flat=True))
    for room in rooms:
        assert room.is_online == (room.pk in online), room
        assert room.is_offline == (room.pk in offline), room
    assert three_states["online"].is_online and not three_states["online"].is_offline
    assert three_states["offline"].is_offline and not three_states["offline"].is_online
    assert three_states["unlisted"].is_offline and not three_states["unlisted"].is_online
    never = three_states["never"]
    assert never.server.last_poll_status == Server.PollStatus.NEVER
    assert not never.is_online and not never.is_offline  # never polled is neither


def test_site_and_api_agree_on_which_rooms_are_online(client, three_states):
    expected = paths(Room.objects.public().online())
    assert expected
    assert set(site_rooms(client, online="1")) == expected
    api = {
        entry["room_extra"]["room_page_url"].removeprefix("http://testserver")
        for entry in api_rooms(client)
        if entry["room_extra"]["online"]
    }
    assert api == expected


def test_site_badges_keep_their_three_states(client, three_states):
    badges = {
        "online": b'<span class="badge on">online</span>',
        "offline": b'<span class="badge off">offline</span>',
        "unlisted": b'<span class="badge off">offline</span>',
        "never": b'<span class="badge new">not polled yet</span>',
    }
    for name, badge in badges.items():
        page = client.get(three_states[name].get_absolute_url())
        assert badge in page.content, name
    listed = client.get(reverse("home"), {"nsfw": "1"}).content.decode()
    rows = {path: row for path, row in re.findall(r'<h2><a href="([^"]+)">(.*?)</h2>', listed)}
    for name in badges:
        row = rows[three_states[name].get_absolute_url()]
        assert ("badge off" in row) == (name in ("offline", "unlisted")), name


def test_admin_online_filter_uses_the_same_definition(client, moderator, three_states):
    client.force_login(moderator)
    url = reverse("admin:directory_room_changelist")
    shown_online = client.get(url, {"online": "yes"}).context["cl"].queryset
    shown_not = client.get(url, {"online": "no"}).context["cl"].queryset
    assert set(shown_online) == set(Room.objects.online())
    assert set(shown_not) == set(Room.objects.all()) - set(Room.objects.online())
    assert three_states["never"] in shown_not and three_states["offline"] in shown_not
    servers = reverse("admin:directory_server_changelist")
    up = client.get(servers, {"online": "yes"}).context["cl"].queryset
    assert set(up) == {server for server in Server.objects.all() if server.is_online}
    assert set(up) == set(Server.objects.online())


# -- ratings ---------------------------------------------------------------------------------


def test_adult_is_everything_not_safe_for_every_rating(imported):
    room = Room.objects.public().first()
    for rating, suggested in itertools.product(AgeRating.values, repeat=2):
        Room.objects.filter(pk=room.pk).update(age_rating=rating, suggested_age_rating=suggested)
        loaded = Room.objects.get(pk=room.pk)
        in_safe = Room.objects.safe().filter(pk=room.pk).exists()
        in_adult = Room.objects.adult().filter(pk=room.pk).exists()
        assert in_safe != in_adult, (rating, suggested)
        assert loaded.is_adult == in_adult, (rating, suggested)


def test_site_default_view_and_safe_listing_hold_the_same_rooms(client, imported):
    Listing.objects.create(
        slug="safe", name="Safe", include_all=True, rating_filter=Listing.RatingFilter.SAFE
    )
    expected = paths(Room.objects.public().safe())
    assert expected and expected != paths(Room.objects.public())
    response = client.get(reverse("home"))
    found = re.findall(r'<h2><a href="([^"]+)">', response.content.decode())
    assert set(found) == expected
    assert set(api_paths(client, listing="safe")) == expected


# -- sorting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", list(ROOM_SORTS))
def test_site_and_api_sort_the_same_way(client, imported, sort):
    busy = Room.objects.get(token="ai")
    add_polls(busy, [(timedelta(days=3), 100), (timedelta(0), 700)])
    Room.objects.filter(pk=busy.pk).update(included_at=timezone.now() + timedelta(days=1))
    site = site_rooms(client, sort=sort)
    api = api_paths(client, f"?sort={sort}")
    assert site == api
    assert len(site) == Room.objects.public().count()


def test_old_site_sort_names_still_work(client, imported):
    assert site_rooms(client, sort="active") == site_rooms(client)
    assert site_rooms(client, sort="no-such-order") == site_rooms(client)
    assert client.get("/listing/all?sort=popular").status_code == 400


# -- message rates ---------------------------------------------------------------------------


def add_polls(room: Room, polls: list[tuple[timedelta, int | None]]) -> None:
    """Polls (how long ago, message_sequence) of one room."""
    now = timezone.now()
    RoomActivity.objects.bulk_create(
        RoomActivity(room=room, at=now - ago, message_sequence=seq) for ago, seq in polls
    )


def old_formula(polls: list[tuple[timedelta, int | None]]) -> float:
    """The rate as listings_api computed it in Python: growth over the span of the polls in
    the last week, per day."""
    week = [(ago, seq) for ago, seq in polls if ago <= timedelta(days=7) and seq is not None]
    span = max(ago for ago, _ in week) - min(ago for ago, _ in week)
    growth = max(seq for _, seq in week) - min(seq for _, seq in week)
    return growth / (span / timedelta(days=1))


def test_message_rates_are_computed_in_the_database(imported, django_assert_num_queries):
    rooms = list(Room.objects.public()[:4])
    polls = [
        [(timedelta(days=20), 0), (timedelta(days=2, hours=5), 1000), (timedelta(0), 1333)],
        [(timedelta(days=6), 7), (timedelta(days=1), None), (timedelta(hours=1), 29)],
        [(MIN_RATE_SPAN - timedelta(seconds=1), 50), (timedelta(0), 80)],
        [(MIN_RATE_SPAN, 50), (timedelta(0), 80)],
    ]
    for room, room_polls in zip(rooms, polls, strict=True):
        add_polls(room, room_polls)
    with django_assert_num_queries(1):
        rates = {
            room.pk: room.messages_per_day
            for room in Room.objects.filter(pk__in=[r.pk for r in rooms]).with_message_rates()
        }
    assert rates[rooms[0].pk] == old_formula(polls[0])
    assert rates[rooms[1].pk] == old_formula(polls[1])
    assert rates[rooms[2].pk] is None  # a span of polls under MIN_RATE_SPAN gives no rate
    assert rates[rooms[3].pk] == old_formula(polls[3]) == 30 * 24


def test_a_room_without_polls_has_no_rate_and_sorts_last(imported):
    busy, quiet = Room.objects.public()[:2]
    add_polls(busy, [(timedelta(days=1), 10), (timedelta(0), 20)])
    ordered = list(Room.objects.public().sorted_by("messages"))
    assert ordered[0] == busy
    assert ordered[-1].messages_per_day is None
    assert Room.objects.with_message_rates().get(pk=quiet.pk).messages_per_day is None


def test_api_rate_keeps_two_decimals(client, imported):
    room = Room.objects.get(token="ai")
    add_polls(room, [(timedelta(days=3), 0), (timedelta(0), 100)])
    extra = next(e["room_extra"] for e in api_rooms(client) if e["room"]["token"] == "ai")
    assert extra["messages_per_day"] == round(100 / 3, 2) == 33.33
