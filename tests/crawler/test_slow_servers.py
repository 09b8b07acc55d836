"""Blackhole, slow-drip and flaky servers: retried with short deadlines, never holding up others."""

from __future__ import annotations

import pytest

from crawler.pipeline import run_crawl
from crawler.polling import poll_all
from directory.models import Server
from tests.support.loopback import blackhole, flaky, json_reply, slow_drip
from tests.support.sogs import lobby_targets, room

pytestmark = pytest.mark.django_db


def test_a_blackhole_server_gets_three_short_attempts(config, sogs):
    hole = sogs([room("lobby")])
    hole.server.route("/capabilities", blackhole())
    short = config.with_changes(probe_deadlines=(0.3, 0.3, 0.3))
    polls = poll_all(lobby_targets(hole), short, lambda pubkey, polls: None)
    assert hole.server.hits["/capabilities"] == 3
    assert polls[0].error.status == "timeout"


def test_blackhole_and_drip_servers_do_not_slow_the_others(config, sogs):
    hole, drip = sogs([room("lobby")]), sogs([room("lobby")])
    hole.server.route("/capabilities", blackhole())
    drip.server.route("/capabilities", slow_drip(b'{"capabilities": ["sogs"]}', interval=1.0))
    healthy = [sogs([room("lobby")]) for _ in range(5)]
    order = []
    poll_all(
        lobby_targets(hole, drip, *healthy), config, lambda pubkey, polls: order.append(pubkey)
    )
    # Every healthy server was done (and stored) while the bad ones were still being tried.
    assert set(order[:5]) == {server.pubkey for server in healthy}
    assert order[5:] and set(order[5:]) == {hole.pubkey, drip.pubkey}


def test_a_flaky_server_is_read_on_a_later_attempt(config, sogs, page):
    server = sogs([room("lobby")])
    server.server.route("/capabilities", flaky(json_reply({"capabilities": ["sogs"]}), failures=2))
    run_crawl(config, source_urls=[page(server.join_link("lobby"))])
    stored = Server.objects.get(pubkey=server.pubkey)
    assert stored.last_poll_status == Server.PollStatus.OK
    assert server.server.hits["/capabilities"] == 3
    assert stored.rooms.count() == 1


def test_a_dripping_server_is_recorded_as_timed_out(config, sogs):
    drip = sogs([room("lobby")])
    Server.objects.create(pubkey=drip.pubkey)
    drip.server.route("/capabilities", slow_drip(b'{"capabilities": ["sogs"]}', interval=1.0))
    short = config.with_changes(probe_deadlines=(0.3, 0.3, 0.3))
    poll = poll_all(lobby_targets(drip), short, lambda pubkey, polls: None)[0]
    assert poll.error.status == "timeout"
