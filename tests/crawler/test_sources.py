"""Sources: HTML, Markdown and JSON feeds; their tags and NSFW flags; failures fall back."""

from __future__ import annotations

import json

import pytest

from crawler.pipeline import run_crawl
from crawler.sources import fetch_enabled_sources
from directory.models import AgeRating, Room, RoomTag, Source, Tag
from tests.conftest import REPO
from tests.support.loopback import LoopbackServer, reply
from tests.support.sogs import room

pytestmark = pytest.mark.django_db

SNAPSHOT_SOURCES = REPO / "fixtures" / "snapshot" / "sources"


def _source_tags(token: str) -> set[str]:
    tags = RoomTag.objects.filter(room__token=token, origin=Tag.Kind.SOURCE)
    return set(tags.values_list("tag__slug", flat=True))


def test_a_json_feed_gives_source_tags_and_a_suggested_rating(config, sogs, page):
    server = sogs([room("lobby"), room("adult")])
    feed = [
        {"url": server.join_link("lobby"), "tags": "chat,friends", "nsfw": "0"},
        {"url": server.join_link("adult"), "tags": "late night", "nsfw": "1"},
    ]
    run_crawl(config, source_urls=[page(json.dumps(feed).replace("/", "\\/"), "application/json")])
    assert _source_tags("lobby") == {"chat", "friends"}
    assert Room.objects.get(token="adult").suggested_age_rating == AgeRating.NSFW
    assert Room.objects.get(token="adult").age_rating == AgeRating.UNRATED


def test_a_markdown_list_gives_the_hashtag_lines_as_tags(config, sogs, page):
    server = sogs([room("lobby")])
    shouted = server.join_link("lobby").upper().replace("HTTP://", "http://")
    markdown = f"## Lobby\n{shouted}\nTags: #chat, #games\n"
    run_crawl(config, source_urls=[page(markdown, "text/plain")])
    assert _source_tags("lobby") == {"chat", "games"}


def test_the_source_rating_survives_a_later_server_poll(config, sogs, page):
    server = sogs([room("adult")])
    feed = json.dumps([{"url": server.join_link("adult"), "nsfw": "1"}])
    run_crawl(config, source_urls=[page(feed, "application/json")])
    run_crawl(config, server_urls=[server.join_link("adult")])
    assert Room.objects.get().suggested_age_rating == AgeRating.NSFW


def test_a_failing_source_uses_its_last_good_body_and_records_the_failure(config, network, sogs):
    server = sogs([room("lobby")])
    host = network(LoopbackServer())
    url = host.route("/list", reply(f"<p>{server.join_link('lobby')}</p>".encode()))
    Source.objects.create(name="list", url=url, kind="html")
    run_crawl(config)
    host.route("/list", reply(b"gone", 500))
    run = run_crawl(config)
    source = Source.objects.get()
    assert source.last_status == Source.Status.FAILED and "500" in source.last_error
    assert source.links_found == 1 and run.links_found == 1


def test_the_real_snapshot_sources_are_read(config, network):
    host = network(LoopbackServer())
    for path in sorted(SNAPSHOT_SOURCES.iterdir()):
        url = host.route(f"/{path.name}", reply(path.read_bytes()))
        kind = "json" if "JSON" in path.name else "markdown" if path.name == "ASGL" else "html"
        Source.objects.create(name=path.name, url=url, kind=kind)
    fetches = fetch_enabled_sources(config.client(), config)  # no polling: those are real servers
    found = {source.name: source.links_found for source in Source.objects.all()}
    assert all(count > 0 for count in found.values()), found
    assert all(not fetch.error for fetch in fetches)
    assert sum(found.values()) > 50


def test_a_link_without_a_scheme_on_a_source_page_is_crawled_over_http(config, sogs, page):
    """Session Desktop joins `host/token?public_key=...` over http (`prefixify`,
    `ts/session/apis/open_group_api/utils/OpenGroupUtils.ts`), as Android does
    (`OpenGroupUrlParser.parseUrl`); so does the crawler, for a link on a source page."""
    server = sogs([room("lobby")])
    bare = server.join_link("lobby").removeprefix("http://")
    run_crawl(config, source_urls=[page(f"<p>Join us: {bare}</p>")])
    stored = Room.objects.select_related("server__preferred_address").get(token="lobby")
    assert stored.server.pubkey == server.pubkey
    assert stored.join_url == server.join_link("lobby")
