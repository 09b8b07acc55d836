"""A server that answered nothing is recorded with the failure that explains it (the most
informative one, `crawler/failures.py`), and every crawl counts its failed servers by kind: in
the CrawlRun, `manage.py crawl`'s summary and the admin's crawl report."""

from __future__ import annotations

import io
import logging
import random

import pytest
from django.core.management import call_command
from django.urls import reverse

from crawler import failures
from crawler.pipeline import run_crawl
from directory.lib.http import HttpConfig
from directory.models import CrawlRun, Server
from tests.support.loopback import blackhole, reply, stream
from tests.support.processes import free_port
from tests.support.proxy import LoopbackProxy
from tests.support.sogs import room

pytestmark = pytest.mark.django_db

Kind = Server.PollStatus


def test_a_dead_host_behind_a_proxy_is_unreachable_not_a_key_mismatch(config, legacy_sogs):
    """The proxy answers 502 at once for a host it cannot reach, to `/capabilities` and to the
    legacy `/loki/v3/lsrpc` alike; pysogs answers a request it cannot decrypt with a 400, never
    a 502 (`sogs/routes/onion_request.py`), so the key is not in question."""
    legacy = legacy_sogs()
    run_crawl(config, server_urls=[legacy.join_link("main")])
    legacy.stop()
    with LoopbackProxy() as proxy:
        http = HttpConfig(proxy=proxy.url, allow_private_addresses=True, connect_timeout=2)
        run = run_crawl(config.with_changes(http=http), server_urls=[legacy.join_link("main")])
        assert f"POST {legacy.server.url('/loki/v3/lsrpc')}" in proxy.requests
    stored = Server.objects.get(pubkey=legacy.pubkey)
    assert stored.last_poll_status == Kind.UNREACHABLE
    assert "HTTP 502" in stored.last_poll_error
    assert "decrypt" not in stored.last_poll_error
    assert stored.key_state == Server.KeyState.PROVEN and not stored.key_conflict
    assert run.failures == {"unreachable": 1}


def _misbehaving(sogs, legacy_sogs) -> dict[Kind, str]:
    """One known server per failure kind: its join link, by the kind it must be recorded as."""
    links = {}

    def known(server, kind: Kind, link: str | None = None) -> None:
        Server.objects.create(pubkey=server.pubkey)
        links[kind] = link or server.join_link("lobby")

    refuted = sogs([room("lobby")])
    links[Kind.KEY_MISMATCH] = refuted.join_link("lobby", pubkey="ab" * 32)
    large = sogs([room("lobby")])
    large.server.route("/capabilities", stream(1_000_000, declare_length=False))
    known(large, Kind.TOO_LARGE)
    garbage = sogs([room("lobby")])
    json = {"Content-Type": "application/json"}
    garbage.server.route("/capabilities", reply(b'{"capabilities": ["so', headers=json))
    garbage.server.route("/loki/v3/lsrpc", reply(b"<html>bad gateway</html>", 502))
    known(garbage, Kind.BAD_RESPONSE)
    web = sogs([room("lobby")])
    page = {"Content-Type": "text/html"}
    web.server.route("/capabilities", reply(b"<html>It works!</html>", headers=page))
    web.server.route("/loki/v3/lsrpc", reply(b"<html>not found</html>", 404))
    known(web, Kind.NOT_SOGS)
    walled = sogs([room("lobby")])
    walled.server.route("/capabilities", reply(b"Forbidden", 403))
    walled.server.route("/loki/v3/lsrpc", reply(b"Forbidden", 403))
    known(walled, Kind.HTTP_ERROR)
    hole = sogs([room("lobby")])
    hole.server.route("/capabilities", blackhole())
    known(hole, Kind.TIMEOUT)
    dead_key = "cd" * 32
    Server.objects.create(pubkey=dead_key)
    links[Kind.UNREACHABLE] = f"http://127.0.0.1:{free_port()}/lobby?public_key={dead_key}"
    return links


def test_each_failure_is_recorded_as_its_kind_and_counted(loopback_settings, sogs, legacy_sogs):
    links = _misbehaving(sogs, legacy_sogs)
    out = io.StringIO()
    call_command("crawl", *[f"--server={link}" for link in links.values()], stdout=out)

    for kind, link in links.items():
        pubkey = link.rsplit("public_key=", 1)[1]
        stored = Server.objects.get(pubkey=pubkey)
        assert (stored.last_poll_status, link) == (kind, link)
        assert stored.last_poll_error
    run = CrawlRun.objects.get()
    assert run.failures == {str(kind): 1 for kind in links}
    summary = out.getvalue().splitlines()[0]
    assert summary.endswith(
        "Failed, by kind: Key mismatch 1, Reply too large 1, Bad response 1, Not a SOGS 1, "
        "HTTP error 1, Timed out 1, Unreachable 1."
    )


def test_the_crawl_report_counts_the_last_crawl_failures_by_kind(config, sogs, client, moderator):
    dead = [f"http://127.0.0.1:{free_port()}/lobby?public_key={n:064x}" for n in (1, 2)]
    hole = sogs([room("lobby")])
    hole.server.route("/capabilities", blackhole())
    run_crawl(
        config.with_changes(probe_deadlines=(0.3,)), server_urls=[*dead, hole.join_link("lobby")]
    )
    client.force_login(moderator)
    page = client.get(reverse("admin:directory_crawlrun_report"))
    assert "Failing servers by kind: Unreachable 2, Timed out 1." in page.text


def test_the_most_informative_failure_wins_whatever_the_order():
    """Ranked as `crawler/failures.py` documents: key refuted, too large, malformed, not a
    SOGS, an HTTP error page, timed out, unreachable."""
    errors = [
        failures.ServerUnreachable("refused"),
        failures.ServerTimedOut("silent"),
        failures.HttpErrorReply("HTTP 403"),
        failures.NotASogsServer("a web page"),
        failures.BadSogsResponse("bad JSON"),
        failures.ReplyTooLarge("over the cap"),
        failures.KeyMismatch("HTTP 400"),
    ]
    expected = [error.status for error in errors][::-1]
    for count in range(len(errors), 0, -1):
        shuffled = random.Random(count).sample(errors[:count], count)
        assert failures.most_informative(shuffled).status == expected[len(errors) - count]
    assert failures.most_informative([None]) is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [(502, Kind.UNREACHABLE), (503, Kind.UNREACHABLE), (504, Kind.TIMEOUT), (429, Kind.HTTP_ERROR)],
)
def test_a_gateway_status_says_what_became_of_the_server(status, kind):
    assert failures.from_status("http://sogs.example/capabilities", status).status == kind


def test_the_celery_crawl_logs_and_returns_the_failures_by_kind(loopback_settings, sogs, caplog):
    from crawler import tasks

    server = sogs([room("lobby")])
    call_command("crawl", f"--server={server.join_link('lobby')}", stdout=io.StringIO())
    server.stop()  # dead: connection refused
    caplog.set_level(logging.INFO, logger="crawler")
    caplog.clear()

    result = tasks.crawl_sources()  # what beat runs; Celery logs the result it returns

    assert result["failures"] == {"unreachable": 1} and result["servers_failed"] == 1
    finished = [r for r in caplog.records if r.getMessage() == "crawl finished"]
    assert finished[-1].failures == {"unreachable": 1}
