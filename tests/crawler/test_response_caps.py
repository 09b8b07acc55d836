"""No response is read past its cap: oversized room lists and sources are cut off."""

from __future__ import annotations

import pytest

from crawler.pipeline import run_crawl
from directory.models import Server, Source
from tests.support.loopback import LoopbackServer, stream
from tests.support.sogs import room

pytestmark = pytest.mark.django_db


def test_an_oversized_room_list_is_not_read_past_its_cap(config, sogs, page):
    server = sogs([room("lobby")])
    server.server.route("/rooms", stream(50_000_000, declare_length=False))
    run_crawl(
        config.with_changes(max_rooms_bytes=100_000), source_urls=[page(server.join_link("lobby"))]
    )
    assert server.server.bytes_sent["/rooms"] < 10_000_000  # the client hung up early
    stored = Server.objects.get(pubkey=server.pubkey)
    # The linked room is still read, one by one.
    assert list(stored.rooms.values_list("token", flat=True)) == ["lobby"]


def test_a_declared_oversized_body_is_refused_before_reading(config, sogs, page):
    server = sogs([room("lobby")])
    server.server.route("/rooms", stream(50_000_000))
    run_crawl(
        config.with_changes(max_rooms_bytes=100_000), source_urls=[page(server.join_link("lobby"))]
    )
    assert server.server.bytes_sent["/rooms"] < 10_000_000


def test_an_oversized_source_fails_and_its_last_good_body_is_used(config, network, sogs):
    server = sogs([room("lobby")])
    host = network(LoopbackServer())
    url = host.route("/feed", stream(50_000_000, declare_length=False))
    Source.objects.create(
        name="big", url=url, kind="html", last_good_body=server.join_link("lobby")
    )
    run = run_crawl(config.with_changes(max_source_bytes=100_000))
    source = Source.objects.get(name="big")
    assert source.last_status == Source.Status.FAILED
    assert "over" in source.last_error
    assert host.bytes_sent["/feed"] < 10_000_000
    assert run.links_found == 1
    assert Server.objects.get(pubkey=server.pubkey).rooms.count() == 1
