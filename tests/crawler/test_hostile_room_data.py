"""Hostile names and descriptions are stored as clean text; hashtags cannot claim reserved tags."""

from __future__ import annotations

import pytest

from crawler.pipeline import run_crawl
from directory.models import AgeRating, Room, Tag
from tests.support.sogs import room

pytestmark = pytest.mark.django_db


def test_xss_payloads_in_names_are_stored_as_plain_text(config, sogs, page):
    name = "<script>alert(1)</script>\u202egro.noisses\x07" + "x" * 150
    server = sogs([room("lobby", name, description="<img src=x onerror=alert(1)>\x00")])
    run_crawl(config, source_urls=[page(server.join_link("lobby"))])
    lobby = Room.objects.get(token="lobby")
    assert lobby.name.startswith("<script>alert(1)</script>gro.noisses")  # text, not markup
    assert "\u202e" not in lobby.name and "\x07" not in lobby.name
    assert len(lobby.name) <= 200
    assert "\x00" not in lobby.description


def test_invalid_room_objects_are_skipped(config, sogs, page):
    server = sogs([room("lobby"), {"token": "bad token!"}, {"name": "no token"}, "junk"])
    run_crawl(config, source_urls=[page(server.join_link("lobby"))])
    assert list(Room.objects.values_list("token", flat=True)) == ["lobby"]


def test_trailing_hashtags_become_tags_language_and_rating(config, sogs, page):
    description = "A place for chat.\n#gaming #Music #lang:de #nsfw #official #moderated"
    server = sogs([room("lobby", description=description)])
    run_crawl(config, source_urls=[page(server.join_link("lobby"))])
    lobby = Room.objects.get(token="lobby")
    hashtags = set(
        lobby.room_tags.filter(origin=Tag.Kind.HASHTAG).values_list("tag__slug", flat=True)
    )
    assert hashtags == {"gaming", "music"}  # reserved words cannot be claimed
    assert lobby.language == "de"
    assert lobby.suggested_age_rating == AgeRating.NSFW
    assert lobby.age_rating == AgeRating.UNRATED  # moderators decide


def test_unlisted_hashtag_hides_the_room(config, sogs, page):
    server = sogs([room("lobby", description="Private chat #unlisted"), room("open")])
    run_crawl(config, source_urls=[page(server.join_link("lobby"))])
    assert Room.objects.get(token="lobby").unlisted_by_operator
    assert list(Room.objects.public().values_list("token", flat=True)) == ["open"]
    assert not Tag.objects.filter(slug="unlisted").exists()


def test_a_moderators_language_is_not_overwritten_by_a_hashtag(config, sogs, page):
    server = sogs([room("lobby", description="Hallo #lang:de")])
    url = page(server.join_link("lobby"))
    run_crawl(config, source_urls=[url])
    Room.objects.update(language="fr")
    run_crawl(config, source_urls=[url])
    assert Room.objects.get().language == "fr"
