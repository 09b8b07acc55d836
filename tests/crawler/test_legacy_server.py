"""A legacy SOGS (v3 onion only): detected, its rooms listed, its member counts read."""

from __future__ import annotations

import pytest

from crawler.pipeline import run_crawl
from directory.models import Server

pytestmark = pytest.mark.django_db


def test_legacy_server_rooms_are_listed_through_v3_onion_requests(config, legacy_sogs, page):
    legacy = legacy_sogs(
        [{"id": "main", "name": "Main room"}, {"id": "memes", "name": "Memes"}],
        member_counts={"main": 42},
    )
    run_crawl(config, source_urls=[page(legacy.join_link("main"))])
    server = Server.objects.get(pubkey=legacy.pubkey)
    assert server.api_kind == Server.ApiKind.LEGACY
    assert server.key_state == Server.KeyState.PROVEN  # the v3 reply decrypted
    rooms = dict(server.rooms.values_list("token", "name"))
    assert rooms == {"main": "Main room", "memes": "Memes"}
    assert server.rooms.get(token="main").active_users == 42  # through the auth-token flow
    assert legacy.claimed  # the crawler claimed a token with its own key


def test_legacy_server_under_another_key_is_not_listed(config, legacy_sogs, page):
    legacy = legacy_sogs()
    claimed = "ab" * 32
    link = legacy.join_link("main").replace(legacy.pubkey, claimed)
    run_crawl(config, source_urls=[page(link)])
    server = Server.objects.get(pubkey=claimed)
    assert server.key_state == Server.KeyState.FAILED
    assert not server.rooms.exists()
