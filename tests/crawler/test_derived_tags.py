"""Derived tags, recomputed each crawl: read-only, uploads off, new, moderated, official."""

from __future__ import annotations

import time

import pytest

from crawler.pipeline import run_crawl
from directory.models import RoomTag, Tag
from tests.support.sogs import room

pytestmark = pytest.mark.django_db


def _derived(token: str) -> set[str]:
    tags = RoomTag.objects.filter(room__token=token, origin=Tag.Kind.DERIVED)
    return set(tags.values_list("tag__slug", flat=True))


def test_derived_tags_follow_the_room(config, sogs, page):
    staff = ["05" + "b" * 64]
    server = sogs(
        [
            room("quiet", write=False, moderators=staff, active_users=5),
            room("noupload", upload=False, admins=[], active_users=500),
            room("fresh", created=time.time() - 86400, admins=[]),
        ]
    )
    run_crawl(
        config.with_changes(official_keys=frozenset({server.pubkey})),
        source_urls=[page(server.join_link("quiet"))],
    )
    assert _derived("quiet") == {"read-only", "moderated", "official"}
    assert _derived("noupload") == {"uploads-off", "official"}
    assert _derived("fresh") == {"new", "official"}


def test_derived_tags_are_replaced_but_maintainer_tags_kept(config, sogs, page):
    server = sogs([room("lobby", write=False)])
    url = page(server.join_link("lobby"))
    run_crawl(config, source_urls=[url])
    lobby = server.rooms[0]
    mine = Tag.objects.create(slug="curated", label="curated")
    RoomTag.objects.create(
        room_id=RoomTag.objects.first().room_id, tag=mine, origin=Tag.Kind.MAINTAINER
    )
    lobby["write"] = True
    run_crawl(config, source_urls=[url])
    assert "read-only" not in _derived("lobby")
    assert RoomTag.objects.filter(tag=mine, origin=Tag.Kind.MAINTAINER).exists()
