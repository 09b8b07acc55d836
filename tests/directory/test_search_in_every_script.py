"""Search in every script (issue 12): a query matches whatever its case and accents, in Cyrillic,
Greek, Persian and Latin with diacritics, on the site (`/?q=`) and in the API (`/listing/all?q=`).

SQLite's LIKE folds only ASCII case; the folded `Room.search_text` makes both databases answer
alike. CI runs this file on SQLite and on PostgreSQL (`.ci/run`); by hand, with
`DATABASE_URL=postgres://postgres@127.0.0.1/NAME` set and unset.
"""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.urls import reverse

from directory.lib.searchtext import fold
from directory.models import AgeRating, Room, RoomTag, Tag, _search_texts
from directory.servers import attach_address, replace_room_tags, upsert_rooms
from tests.directory.test_room_queries import (  # noqa: F401  (own_caches: autouse, a cache of its own)
    api_paths,
    own_caches,
    paths,
    site_rooms,
)
from tests.support.admin import admin_action, room_change_form

VINYL = "https://sogs.dead.pictures"  # "Vinil": "Про виниловые пласты. Коллекция и все прочее."


def found(client, q: str) -> set[str]:
    """The room pages a search finds, the same on the site and in /listing/all (asserted)."""
    on_site = set(site_rooms(client, q=q))
    assert set(api_paths(client, f"?q={q}")) == on_site
    return on_site


def room_at(base_url: str, token: str) -> Room:
    return Room.objects.get(server__addresses__host=base_url.split("://")[1], token=token)


@pytest.fixture
def vinyl(imported) -> Room:
    return room_at(VINYL, "vinil")


@pytest.mark.parametrize("q", ["ВИНИЛОВЫЕ", "виниловые", "Виниловые ПЛАСТЫ", "коллекция"])
def test_upper_and_lower_case_cyrillic_find_the_vinyl_room(client, vinyl, q):
    assert found(client, q) == {vinyl.get_absolute_url()}
    assert paths(Room.objects.search(q)) == {vinyl.get_absolute_url()}


def test_sao_paulo_finds_sao_paulo_as_a_crawl_writes_it(client, vinyl):
    # A crawl renames the room: upsert_rooms, as crawls and the snapshot import write rooms.
    upsert_rooms(vinyl.server, [{"token": "vinil", "name": "Vinil São Paulo"}])
    expected = {vinyl.get_absolute_url()}
    assert found(client, "sao paulo") == expected
    assert found(client, "SÃO PAULO") == expected
    assert found(client, "Sa\u0303o") == expected  # the accent as a combining mark
    assert found(client, "são rio") == set()  # every word still has to match


def test_greek_in_any_case_and_accent_through_the_admin_form(client, moderator, vinyl):
    client.force_login(moderator)
    form = room_change_form(
        vinyl,
        age_rating=AgeRating.UNRATED,
        language="el",
        maintainer_description="Ελληνική κοινότητα δίσκων βινυλίου",
    )
    response = client.post(reverse("admin:directory_room_change", args=[vinyl.pk]), form)
    assert response.status_code == 302, response.content[:2000]
    expected = {vinyl.get_absolute_url()}
    for q in ("ΕΛΛΗΝΙΚΗ", "ελληνικη", "Ελληνική ΚΟΙΝΌΤΗΤΑ", "ΔΙΣΚΩΝ"):
        assert found(client, q) == expected, q
    assert found(client, "ελληνικη ιταλικη") == set()


def test_persian_letters_written_either_way_find_the_farsi_room(client, imported):
    farsi = room_at("https://open.getsession.org", "session-farsi")  # "راهنمای Session"
    expected = {farsi.get_absolute_url()}
    assert found(client, "راهنمای") == expected  # Persian yeh, as the room writes it
    assert found(client, "راهنماي") == expected  # Arabic yeh, as an Arabic keyboard types it
    assert found(client, "راهنمـــای session") == expected  # with tatweel


def test_a_persian_tag_from_the_admin_is_found_with_arabic_letters(client, moderator, vinyl):
    tag = Tag.objects.create(slug="کتاب", label="کتاب")  # keheh
    client.force_login(moderator)
    admin_action(client, "room", "add_tag", [vinyl.pk], tag=tag.pk)
    assert found(client, "كتاب") == {vinyl.get_absolute_url()}  # kaf
    admin_action(client, "room", "remove_tag", [vinyl.pk], tag=tag.pk)
    assert found(client, "كتاب") == set()


def test_tags_a_crawl_replaces_are_searched(client, vinyl):
    replace_room_tags(vinyl, [("Пластинки", Tag.Kind.HASHTAG)], [Tag.Kind.HASHTAG])
    assert found(client, "ПЛАСТИНКИ") == {vinyl.get_absolute_url()}
    replace_room_tags(vinyl, [], [Tag.Kind.HASHTAG])
    assert found(client, "ПЛАСТИНКИ") == set()


def test_renamed_tags_and_servers_are_searched_by_their_new_names(client, vinyl):
    tag = Tag.objects.create(slug="records", label="records")
    RoomTag.objects.create(room=vinyl, tag=tag, origin=Tag.Kind.MAINTAINER)
    tag.label = "Δίσκοι"
    tag.save()
    assert found(client, "δισκοι") == {vinyl.get_absolute_url()}

    server = vinyl.server
    server.name = "Сервер Ёлки"
    server.save()
    rooms = {room.get_absolute_url() for room in server.rooms.public()}
    assert vinyl.get_absolute_url() in rooms
    assert found(client, "ёлки") == found(client, "ЁЛКИ") == rooms
    server.name = ""
    server.save()
    assert found(client, "ёлки") == set()


def test_a_new_address_of_the_server_is_searched(client, vinyl):
    assert found(client, "vinyl-records.example") == set()
    attach_address(vinyl.server, "https", "vinyl-records.example", None)
    assert vinyl.get_absolute_url() in found(client, "VINYL-RECORDS.example")


def test_query_updates_keep_the_search_text(client, vinyl):
    Room.objects.filter(pk=vinyl.pk).update(description="Ψηφιακή μουσική")
    assert found(client, "ΨΗΦΙΑΚΗ") == {vinyl.get_absolute_url()}
    assert found(client, "виниловые") == set()


def test_like_wildcards_in_a_query_are_plain_characters(imported):
    assert not Room.objects.search("%").exists()
    assert not Room.objects.search("_ %%").exists()
    assert Room.objects.search("\u200b \u0301").count() == Room.objects.count()  # nothing left


def test_the_migration_fills_the_search_text_as_the_model_writes_it(vinyl):
    tag = Tag.objects.create(slug="винил", label="Винил")
    RoomTag.objects.create(room=vinyl, tag=tag, origin=Tag.Kind.MAINTAINER)
    vinyl.server.name = "Ёлки"
    vinyl.server.save()
    rooms = list(Room.objects.order_by("pk"))
    written = {room.pk: room.search_text for room in rooms}
    assert written == dict(zip(written, _search_texts(rooms), strict=True))
    Room.objects.update(search_text="")

    migration = importlib.import_module("directory.migrations.0011_search_text_and_crawl_failures")
    migration.fill_search_text(apps, None)

    filled = dict(Room.objects.values_list("pk", "search_text"))
    assert filled == written
    assert {fold("Винил"), fold("Ёлки")} <= set(filled[vinyl.pk].split())
