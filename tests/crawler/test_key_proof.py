"""A key from a join link is a claim: proven by a v4 onion request, else by the room page."""

from __future__ import annotations

import pytest

from crawler.pipeline import run_crawl
from directory.models import Room, Server
from tests.support.sogs import room

pytestmark = pytest.mark.django_db


def test_key_mismatch_server_is_not_listed_under_the_claimed_key(config, sogs, page):
    server = sogs([room("lobby")])
    claimed = "cd" * 32
    run_crawl(config, source_urls=[page(server.join_link("lobby", pubkey=claimed))])
    impostor = Server.objects.get(pubkey=claimed)
    assert impostor.key_state == Server.KeyState.FAILED
    assert "did not prove" in impostor.key_conflict  # shown to moderators
    assert not Room.objects.exists()
    assert not Server.objects.visible().exists()


def test_a_false_claim_does_not_unlist_a_proven_server(config, sogs, page):
    real = sogs([room("lobby")])
    impostor = sogs([room("lobby")])
    links = f"{real.join_link('lobby')}\n{impostor.join_link('lobby', pubkey=real.pubkey)}"
    run_crawl(config, source_urls=[page(links, "text/plain")])
    server = Server.objects.get(pubkey=real.pubkey)
    assert server.key_state == Server.KeyState.PROVEN
    assert impostor.base_url in server.key_conflict
    assert [address.base_url for address in server.addresses.all()] == [real.base_url]


def test_without_a_v4_endpoint_the_room_page_proves_the_key(config, sogs, page):
    server = sogs([room("lobby")], v4=False)
    run_crawl(config, source_urls=[page(server.join_link("lobby"))])
    stored = Server.objects.get(pubkey=server.pubkey)
    assert stored.key_state == Server.KeyState.PROVEN
    assert server.server.hits["/r/lobby/"] == 1
    assert stored.rooms.count() == 1


def test_a_room_page_showing_another_key_refutes_the_claim(config, sogs, page):
    server = sogs([room("lobby")], v4=False)
    claimed = "ef" * 32
    run_crawl(config, source_urls=[page(server.join_link("lobby", pubkey=claimed))])
    assert Server.objects.get(pubkey=claimed).key_state == Server.KeyState.FAILED
    assert not Room.objects.exists()
