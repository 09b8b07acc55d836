"""The admin's crawl report: failing servers and why, key-proof changes, sudden drops."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from directory.crawl_report import build_report
from directory.models import CrawlRun, Room, Server
from tests.support.crawl_runs import finished_crawl

OK, DOWN = Server.PollStatus.OK, Server.PollStatus.UNREACHABLE
PROVEN, FAILED = Server.KeyState.PROVEN, Server.KeyState.FAILED


def _run(hours_ago: float, rooms_found: int, states: dict) -> CrawlRun:
    return finished_crawl(
        timedelta(hours=hours_ago),
        took=timedelta(minutes=2),
        rooms_found=rooms_found,
        server_states=states,
    )


@pytest.fixture
def servers(imported):
    """Three real servers from the snapshot: one that breaks, one whose key proof fails, one
    that loses most of its rooms."""
    chosen = list(Server.objects.order_by("pubkey")[:3])
    breaking, rekeyed, shrinking = chosen
    Server.objects.filter(pk=breaking.pk).update(
        last_poll_status=DOWN, consecutive_failures=3, last_poll_error="connection refused"
    )
    Server.objects.filter(pk=rekeyed.pk).update(
        key_state=FAILED, key_conflict="answered with key 00ff…, not the listed one"
    )
    return breaking, rekeyed, shrinking


def test_report_names_what_changed_between_the_last_two_crawls(servers):
    breaking, rekeyed, shrinking = servers
    _run(8, 100, {
        breaking.pubkey: {"status": OK, "key": PROVEN, "rooms": 4},
        rekeyed.pubkey: {"status": OK, "key": PROVEN, "rooms": 3},
        shrinking.pubkey: {"status": OK, "key": PROVEN, "rooms": 20},
    })  # fmt: skip
    _run(2, 58, {
        breaking.pubkey: {"status": DOWN, "key": PROVEN, "rooms": 0},
        rekeyed.pubkey: {"status": OK, "key": FAILED, "rooms": 3},
        shrinking.pubkey: {"status": OK, "key": PROVEN, "rooms": 8},
    })  # fmt: skip

    report = build_report()

    assert [change.pubkey for change in report.went_down] == [breaking.pubkey]
    assert [(c.pubkey, c.before, c.after) for c in report.key_changes] == [
        (rekeyed.pubkey, PROVEN, FAILED)
    ]
    assert [(drop.before, drop.after, drop.percent) for drop in report.drops] == [
        (100, 58, 42),  # all servers first
        (20, 8, 60),  # the shrinking server; the broken one is reported as down instead
    ]
    assert breaking in report.failing and shrinking not in report.failing
    assert not report.stale and not report.healthy


def test_small_changes_and_recoveries_are_not_alarms(servers):
    breaking, _, shrinking = servers
    _run(8, 100, {breaking.pubkey: {"status": DOWN, "key": PROVEN, "rooms": 0},
                  shrinking.pubkey: {"status": OK, "key": PROVEN, "rooms": 4}})  # fmt: skip
    _run(2, 80, {breaking.pubkey: {"status": OK, "key": PROVEN, "rooms": 2},
                 shrinking.pubkey: {"status": OK, "key": PROVEN, "rooms": 1}})  # fmt: skip

    report = build_report()

    assert [change.pubkey for change in report.came_back] == [breaking.pubkey]
    # 20% overall is under the threshold; 4 -> 1 is under the minimum room count.
    assert report.drops == [] and report.went_down == [] and report.key_changes == []


def test_no_crawl_or_an_old_one_is_stale(db, settings):
    assert build_report().stale
    _run(hours_ago=settings.CRAWL_REPORT_STALE_MINUTES / 60 + 1, rooms_found=1, states={})
    assert build_report().stale
    _run(hours_ago=0.1, rooms_found=1, states={})
    assert not build_report().stale


def test_record_server_states_counts_the_rooms_each_server_showed(imported):
    run = CrawlRun.objects.create(started_at=timezone.now())
    server = Server.objects.order_by("pubkey").first()
    polled = list(server.rooms.order_by("token_key")[:2])
    Room.objects.filter(pk__in=[room.pk for room in polled]).update(last_seen=timezone.now())
    Server.objects.filter(pk=server.pk).update(last_poll_at=timezone.now(), last_poll_status=OK)

    run.record_server_states()

    assert run.rooms_found == 2
    assert run.server_states == {server.pubkey: {"status": OK, "key": server.key_state, "rooms": 2}}


def test_moderators_read_the_report_in_the_admin(client, moderator, servers):
    breaking, rekeyed, _ = servers
    _run(8, 100, {rekeyed.pubkey: {"status": OK, "key": PROVEN, "rooms": 3}})
    _run(2, 50, {rekeyed.pubkey: {"status": OK, "key": FAILED, "rooms": 3}})
    client.force_login(moderator)

    listing = client.get(reverse("admin:directory_crawlrun_changelist"))
    page = client.get(reverse("admin:directory_crawlrun_report"))

    assert reverse("admin:directory_crawlrun_report") in listing.text
    assert page.status_code == 200
    assert "Rooms found fell by 50%" in page.text
    assert "answered with key 00ff…, not the listed one" in page.text
    assert "connection refused" in page.text and str(breaking) in page.text


def test_the_report_needs_staff_permission(client, visitor):
    client.force_login(visitor)
    response = client.get(reverse("admin:directory_crawlrun_report"))
    assert response.status_code == 302  # to the admin login


def test_a_real_crawl_records_what_it_saw(db):
    from crawler.pipeline import run_crawl
    from tests.crawler.conftest import loopback_config
    from tests.support.sogs import FakeSogs, room

    with FakeSogs(rooms=[room("lobby"), room("dev"), room("art")]) as server:
        run = run_crawl(loopback_config(), server_urls=[server.join_link("lobby")])

    assert run.rooms_found == 3
    assert list(run.server_states.values()) == [{"status": OK, "key": PROVEN, "rooms": 3}]
