"""A second crawl after servers die keeps their rooms (marked offline) and curated fields."""

from __future__ import annotations

import pytest

from crawler.pipeline import run_crawl
from directory.models import AgeRating, Room, Server
from tests.support.loopback import reply
from tests.support.sogs import room

pytestmark = pytest.mark.django_db


def test_a_dead_server_keeps_its_rooms_and_curated_fields(config, sogs):
    server = sogs([room("lobby"), room("dev")])
    run_crawl(config, server_urls=[server.join_link("lobby")])
    Room.objects.filter(token="lobby").update(
        age_rating=AgeRating.SFW, language="de", pinned=True, maintainer_description="Nice"
    )
    Server.objects.filter(pubkey=server.pubkey).update(notes="ok", official=True)
    server.stop()  # dead: connection refused

    run = run_crawl(config)  # every known server

    stored = Server.objects.get(pubkey=server.pubkey)
    assert stored.last_poll_status == Server.PollStatus.UNREACHABLE
    assert stored.last_poll_error and stored.consecutive_failures == 1
    assert not stored.is_online
    assert run.servers_failed == 1
    lobby = stored.rooms.get(token="lobby")
    assert stored.rooms.count() == 2
    assert (lobby.age_rating, lobby.language, lobby.pinned) == (AgeRating.SFW, "de", True)
    assert lobby.maintainer_description == "Nice"
    assert (stored.notes, stored.official) == ("ok", True)
    assert not lobby.is_online
    assert Room.objects.public().count() == 2  # within the grace period


def test_a_room_the_server_stops_listing_is_marked_gone_not_deleted(config, sogs):
    server = sogs([room("lobby"), room("dev")])
    run_crawl(config, server_urls=[server.join_link("lobby")])
    server.rooms.pop()  # "dev" disappears from /rooms
    server.server.route("/room/dev", reply(b"not found", 404))
    run = run_crawl(config)
    dev = Room.objects.get(token="dev")
    assert run.rooms_gone == 1
    assert dev.listed_by_server is False


def test_a_server_answering_garbage_is_recorded_and_skipped(config, sogs):
    good, bad = sogs([room("lobby")]), sogs([room("lobby")])
    Server.objects.create(pubkey=bad.pubkey)
    run_crawl(config, server_urls=[good.join_link("lobby"), bad.join_link("lobby")])
    bad.server.route(
        "/capabilities", reply(b"{not json", headers={"Content-Type": "application/json"})
    )
    bad.server.route("/loki/v3/lsrpc", reply(b"<html>proxy page</html>", 502))
    run = run_crawl(config)
    assert run.servers_ok == 1 and run.servers_failed == 1
    stored = Server.objects.get(pubkey=bad.pubkey)
    assert stored.last_poll_status != Server.PollStatus.OK
    assert stored.rooms.count() == 1


def test_a_known_server_no_address_answered_for_is_unreachable_not_a_key_mismatch(
    config, legacy_sogs
):
    legacy = legacy_sogs()
    known = "ff" * 32  # sorted after the legacy server's key: its poll stops before trying it
    Server.objects.create(pubkey=known)
    link = legacy.join_link("main")
    run_crawl(config, server_urls=[link, link.replace(legacy.pubkey, known)])
    stored = Server.objects.get(pubkey=known)
    assert stored.last_poll_status == Server.PollStatus.UNREACHABLE
    assert "no address answered" in stored.last_poll_error
    assert stored.key_state == Server.KeyState.UNVERIFIED and not stored.key_conflict
    assert Server.objects.get(pubkey=legacy.pubkey).last_poll_status == Server.PollStatus.OK
