"""A legacy SOGS (v3 onion only): detected, its rooms listed, its member counts read; left out
of the listing API's default view, since current Session clients cannot join it."""

from __future__ import annotations

import pytest

from crawler.pipeline import run_crawl
from directory.models import Server
from tests.directory.web.conftest import _private_cache  # noqa: F401  (autouse: a cache of its own)
from tests.support.sogs import room

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
    main = server.rooms.get(token="main")
    assert main.legacy_member_count == 42  # through the auth-token flow
    assert main.active_users is None  # everyone who ever held a token is not SOGS' active users
    assert main.sogs_room == {"token": "main", "name": "Main room"}  # all the legacy API tells
    assert legacy.claimed  # the crawler claimed a token with its own key


def test_legacy_server_under_another_key_is_not_listed(config, legacy_sogs, page):
    legacy = legacy_sogs()
    claimed = "ab" * 32
    link = legacy.join_link("main").replace(legacy.pubkey, claimed)
    run_crawl(config, source_urls=[page(link)])
    server = Server.objects.get(pubkey=claimed)
    assert server.key_state == Server.KeyState.FAILED
    assert not server.rooms.exists()


def test_legacy_rooms_are_listed_only_when_asked_for(config, legacy_sogs, sogs, page, client):
    """Session Desktop fetches `/capabilities` before it joins and gives up without it
    (session-desktop `ts/session/apis/open_group_api/sogsv3/sogsV3RoomInfos.ts`); a legacy
    server has none (pysogs `sogs/routes/legacy.py`: `rooms` gives `id` and `name`,
    `member_count` counts token holders), so its rooms need `include=legacy`."""
    legacy = legacy_sogs([{"id": "main", "name": "Main room"}], member_counts={"main": 42})
    modern = sogs([room("lobby")])
    run_crawl(
        config, source_urls=[page(legacy.join_link("main") + " " + modern.join_link("lobby"))]
    )

    default = client.get("/listing/all").json()["rooms"]
    assert [entry["room"]["token"] for entry in default] == ["lobby"]
    everything = client.get("/listing/all?include=legacy").json()["rooms"]
    by_token = {entry["room"]["token"]: entry for entry in everything}
    assert set(by_token) == {"lobby", "main"}
    assert by_token["main"]["room"] == {"token": "main", "name": "Main room"}
    assert by_token["main"]["room_extra"]["server_api"] == "legacy"
    assert by_token["main"]["room_extra"]["legacy_member_count"] == 42
    assert by_token["lobby"]["room_extra"]["server_api"] == "sogs"
    assert by_token["lobby"]["room"]["active_users"] == 7  # the modern server's own figure
