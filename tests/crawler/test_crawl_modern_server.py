"""A healthy modern SOGS named by a source: its rooms are stored, its key proven by v4."""

from __future__ import annotations

import pytest

from crawler.pipeline import run_crawl
from directory.models import Room, RoomActivity, Server
from tests.support.sogs import room

pytestmark = pytest.mark.django_db


def test_rooms_of_a_linked_server_are_stored(config, sogs, page):
    server = sogs(
        [room("lobby", "The Lobby"), room("dev", active_users=70, active_users_cutoff=86400)]
    )
    run = run_crawl(config, source_urls=[page(f"<a href='{server.join_link('lobby')}'>x</a>")])
    stored = Server.objects.get(pubkey=server.pubkey)
    assert stored.key_state == Server.KeyState.PROVEN
    assert stored.api_kind == Server.ApiKind.MODERN
    assert stored.last_poll_status == Server.PollStatus.OK
    assert stored.base_url == server.base_url
    assert sorted(stored.rooms.values_list("token", flat=True)) == ["dev", "lobby"]
    assert run.servers_ok == 1 and run.rooms_new == 2


def test_active_users_are_scaled_to_a_week(config, sogs, page):
    server = sogs([room("dev", active_users=10, active_users_cutoff=86400)])
    run_crawl(config, source_urls=[page(server.join_link("dev"))])
    dev = Room.objects.get(token="dev")
    assert (dev.active_users, dev.active_users_cutoff, dev.active_users_weekly) == (10, 86400, 70)


def test_each_successful_poll_adds_one_activity_row_per_room(config, sogs, page):
    server = sogs([room("lobby"), room("dev")])
    url = page(server.join_link("lobby"))
    run_crawl(config, source_urls=[url])
    run_crawl(config, source_urls=[url])
    assert RoomActivity.objects.count() == 4
