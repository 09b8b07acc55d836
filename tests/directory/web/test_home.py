"""The home page: every filter, search and sort as GET parameters, counts, paging, caching."""

from __future__ import annotations

import html
import re

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from directory import moderation
from directory.browse import RoomQuery, filter_rooms
from directory.models import AgeRating, Room, RoomTag, Server, Tag
from tests.directory.web.conftest import add_history

REFERENCE_BYTES_PER_ROOM = 146 * 1024 / 97  # sessioncommunities.info: 146 KB for 97 rooms


def names(response) -> list[str]:
    found = re.findall(r'<h2><a href="[^"]+"><bdi>([^<]+)</bdi></a>', response.content.decode())
    return [html.unescape(name) for name in found]


def get(client, **params):
    response = client.get(reverse("home"), params)
    assert response.status_code == 200
    return response


@pytest.fixture
def many_per_page(settings):
    settings.WEB_ROOMS_PER_PAGE = 500


def test_home_lists_safe_rooms_by_default(client, imported, many_per_page):
    page = get(client)
    shown = names(page)
    safe = Room.objects.public().exclude(age_rating=AgeRating.NSFW)
    safe = safe.exclude(age_rating=AgeRating.UNRATED, suggested_age_rating=AgeRating.NSFW)
    assert len(shown) == safe.count() > 50
    assert "Porn Chat" not in shown


def test_adult_rooms_appear_only_with_the_toggle_and_a_warning(client, imported, many_per_page):
    Room.objects.filter(token="ai").update(age_rating=AgeRating.NSFW)
    assert "Artificial Intelligence" not in names(get(client))
    page = get(client, nsfw="1")
    assert "Artificial Intelligence" in names(page)
    assert "Porn Chat" in names(page)
    assert b"Adult (18+) communities are shown" in page.content
    assert b'class="room adult"' in page.content


def test_rated_safe_room_with_nsfw_signal_is_shown(client, imported, many_per_page):
    room = Room.objects.filter(suggested_age_rating=AgeRating.NSFW).first()
    assert room.name not in names(get(client))
    moderation.set_age_rating(Room.objects.filter(pk=room.pk), AgeRating.SFW)
    assert room.name in names(get(client))


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("artificial", "Artificial Intelligence"),  # name
        ("ARTIFICIAL intelligence", "Artificial Intelligence"),  # words, any case
        ("open.getsession.org", "Session Updates"),  # server
    ],
)
def test_search_narrows_by_name_and_server(client, imported, q, expected):
    shown = names(get(client, q=q))
    assert expected in shown
    assert len(shown) < 20


def test_search_matches_descriptions_and_tags(client, imported):
    room = Room.objects.get(token="ai")
    Room.objects.filter(pk=room.pk).update(description="We talk about zxqvmodels here")
    assert names(get(client, q="zxqvmodels")) == ["Artificial Intelligence"]
    tag = Tag.objects.create(slug="qwertytag", label="qwertytag")
    RoomTag.objects.create(room=room, tag=tag, origin=Tag.Kind.MAINTAINER)
    assert names(get(client, q="qwertytag")) == ["Artificial Intelligence"]
    assert names(get(client, tag="qwertytag")) == ["Artificial Intelligence"]


def test_search_without_match_says_so(client, imported):
    page = get(client, q="no-such-community-anywhere")
    assert names(page) == []
    assert b"No communities match" in page.content


def test_language_filter(client, imported, many_per_page):
    Room.objects.filter(token="ai").update(language="eo")
    page = get(client, lang="eo")
    assert names(page) == ["Artificial Intelligence"]
    assert '<option value="eo" selected>' in page.content.decode()


def test_online_filter_keeps_rooms_of_servers_that_answer(client, imported):
    assert names(get(client, online="1")) == []
    room = Room.objects.get(token="ai")
    Server.objects.filter(pk=room.server_id).update(  # what a successful poll writes
        last_poll_status=Server.PollStatus.OK, last_poll_at=timezone.now()
    )
    shown = names(get(client, online="1"))
    assert "Artificial Intelligence" in shown
    assert set(shown) <= set(
        Room.objects.filter(server=room.server_id).values_list("name", flat=True)
    )


def test_sort_by_name(client, imported, many_per_page):
    shown = names(get(client, sort="name"))
    assert shown == [room.name for room in filter_rooms(RoomQuery(sort="name"))]
    assert shown != [room.name for room in filter_rooms(RoomQuery())]


def test_sort_by_active_users_puts_the_busiest_first(client, imported, many_per_page):
    busiest = Room.objects.public().exclude(suggested_age_rating=AgeRating.NSFW)
    busiest = busiest.exclude(active_users_weekly=None).order_by("-active_users_weekly").first()
    Room.objects.update(pinned=False)
    assert names(get(client))[0] == busiest.name


def test_sort_by_newest(client, imported):
    Room.objects.filter(token="ai").update(included_at=timezone.now() + timezone.timedelta(days=1))
    assert names(get(client, sort="newest"))[0] == "Artificial Intelligence"


def test_sort_by_most_messages(client, imported):
    add_history(Room.objects.get(token="ai"), per_day=500)
    assert names(get(client, sort="messages"))[0] == "Artificial Intelligence"


def test_unknown_parameters_fall_back_to_defaults(client, imported):
    assert get(client, sort="drop table", page="x", online="yes").status_code == 200


def test_pages_split_long_lists(client, imported, settings):
    settings.WEB_ROOMS_PER_PAGE = 10
    first, second = get(client), get(client, page="2")
    assert len(names(first)) == 10 and len(names(second)) == 10
    assert not set(names(first)) & set(names(second))
    assert b'rel="next" href="/?page=2"' in first.content
    assert b"Page 2 of" in second.content


def test_count_and_refresh_time_are_shown(client, imported):
    page = get(client, q="session").content.decode()
    shown = len(names(get(client, q="session")))
    assert re.search(rf'<strong id="count">{shown}</strong> of \d+ communities shown', page)
    assert "data refreshed" in page


def test_fragment_for_instant_filtering(client, imported):
    response = client.get(reverse("home"), {"q": "artificial"}, HTTP_X_REQUESTED_WITH="fetch")
    assert b"<html" not in response.content
    assert b"Artificial Intelligence" in response.content
    assert "X-Requested-With" in response["Vary"]


def test_cached_list_follows_moderator_edits_and_crawls(client, imported, many_per_page):
    room = Room.objects.get(token="ai")
    assert "Artificial Intelligence" in names(get(client))
    moderation.set_age_rating(Room.objects.filter(pk=room.pk), AgeRating.NSFW)  # moderator
    assert "Artificial Intelligence" not in names(get(client))
    Room.objects.filter(pk=room.pk).update(name="Renamed by a crawl", last_seen=timezone.now())
    assert "Renamed by a crawl" in names(get(client, nsfw="1"))


def test_sparkline_shows_the_trend_or_an_empty_state(client, imported):
    assert b"no trend yet" in get(client, q="artificial").content
    add_history(Room.objects.get(token="ai"))
    page = get(client, q="artificial").content
    assert b'<svg class="spark"' in page and b"from 10 to 39" in page


def test_with_adult_rooms_every_public_room_is_listed_with_its_join_link(
    client, imported, many_per_page
):
    page = get(client, nsfw="1")
    assert page.content.count(b"?public_key=") == Room.objects.public().count()


def test_html_per_room_is_smaller_than_the_reference_directory(client, imported, many_per_page):
    page = get(client, nsfw="1")
    rooms = len(names(page))
    assert rooms == Room.objects.public().count()
    assert len(page.content) / rooms < REFERENCE_BYTES_PER_ROOM


def test_the_shared_cache_keeps_one_list_per_query_not_one_per_version(client, imported):
    room = Room.objects.public().first()
    for name in ["first", "second", "third"]:  # three data versions, as during a crawl
        room.name = name
        room.save()
        client.get("/?sort=name")
        client.get("/?sort=newest")
    entries = [key for key in cache._cache if "web:home:" in key]
    assert len(entries) == 2


LEGACY_MARK = "legacy server: current Session apps cannot join"


def _make_legacy(room: Room) -> None:
    now = timezone.now()  # as a crawl writes it: the data version moves on
    Server.objects.filter(pk=room.server_id).update(
        api_kind=Server.ApiKind.LEGACY, last_poll_at=now, last_seen=now
    )


def test_legacy_rooms_are_left_out_by_default_like_adult_rooms(client, imported, many_per_page):
    """Session Desktop fetches `/capabilities` before joining a Community and gives up without
    them (session-desktop `ts/session/apis/open_group_api/sogsv3/sogsV3RoomInfos.ts`); a legacy
    server (pysogs emulates one in `sogs/routes/legacy.py`) has none."""
    room = Room.objects.get(token="ai")
    _make_legacy(room)
    page = get(client)
    assert "Artificial Intelligence" not in names(page)
    assert LEGACY_MARK not in page.content.decode()
    assert b'name="legacy" value="1"' in page.content  # the toggle, off
    shown = get(client, legacy="1")
    assert "Artificial Intelligence" in names(shown)
    assert b'name="legacy" value="1" aria-describedby="legacy-note" checked' in shown.content
    text = shown.content.decode()
    row = text[text.index(room.get_absolute_url()) :]
    assert row[: row.index("</h2>")].count(LEGACY_MARK) == 1
    assert text.count(LEGACY_MARK) == room.server.rooms.public().safe().count()
    query = RoomQuery.from_params({"legacy": "1"})
    assert query.params(page=2) == {"legacy": "1", "page": "2"}  # kept by links and pages
    assert query.cache_key() != RoomQuery().cache_key()


def test_room_names_are_isolated_from_the_page_around_them(client, imported, many_per_page):
    """A name is the stranger's text: in a `<bdi>`, right-to-left letters cannot pull the badges
    beside it (or anything after it) into their direction."""
    Room.objects.filter(token="ai").update(name="\u05e9\u05dc\u05d5\u05dd \u202eevil")
    page = get(client).content.decode()
    assert "<bdi>\u05e9\u05dc\u05d5\u05dd evil</bdi></a>" in page
    assert "\u202e" not in page
