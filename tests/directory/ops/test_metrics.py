"""/metrics: who may read it, what the database gauges say, and the request and onion counters
(in one process and summed over several with PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.http import HttpRequest
from django.test import Client
from django.urls import path
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from directory import urls as site_urls
from directory.models import CrawlRun, Room, Server
from directory.ops import metrics
from listings_api import keys
from tests.conftest import REPO
from tests.support.crawl_runs import finished_crawl

ELSEWHERE = "203.0.113.9"  # a documentation address: not loopback


def boom(request: HttpRequest):
    raise RuntimeError("a view that fails")


# This module doubles as a URLconf (see `pytest.mark.urls` below): the site plus a failing view.
# The site's own list, not include(): Django refuses i18n_patterns in an included URLconf.
urlpatterns = [path("boom", boom, name="boom"), *site_urls.urlpatterns]


def scrape(client: Client | None = None, **extra) -> dict[str, float]:
    """`/metrics` as {'name{label="value",...}': value} (labels sorted)."""
    response = (client or Client()).get("/metrics", **extra)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- Who may read /metrics --------------------------------------------------------------------


def test_metrics_is_a_plain_404_from_elsewhere(client, db):
    response = client.get("/metrics", REMOTE_ADDR=ELSEWHERE)
    assert response.status_code == 404
    assert b"directory_" not in response.content
    other = client.get("/no-such-page", REMOTE_ADDR=ELSEWHERE)
    assert response.content.replace(b"/metrics", b"/no-such-page") == other.content


def test_metrics_with_the_bearer_token_from_anywhere(client, db, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    # Prometheus scrapes by IP address: the host check does not apply to an allowed scrape.
    scraper = {"REMOTE_ADDR": ELSEWHERE, "HTTP_HOST": "10.0.0.5:8000"}
    assert scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-scrape-token", **scraper)
    for wrong in ("Bearer s3cret", "Bearer ", "Basic s3cret-scrape-token", "s3cret-scrape-token"):
        response = client.get("/metrics", HTTP_AUTHORIZATION=wrong, REMOTE_ADDR=ELSEWHERE)
        assert response.status_code == 404, wrong


def test_no_token_is_accepted_while_metrics_token_is_empty(client, db, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR=ELSEWHERE, HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 404


def test_metrics_from_loopback_by_default(client, db):
    assert scrape(client, REMOTE_ADDR="127.0.0.1", HTTP_HOST="127.0.0.1:8000")
    assert scrape(client, REMOTE_ADDR="::1")
    assert scrape(client, REMOTE_ADDR="::ffff:127.0.0.1")  # a dual-stack socket's IPv4


def test_a_request_relayed_by_a_proxy_on_loopback_is_refused(client, db):
    """Behind nginx on the same host every visitor comes from 127.0.0.1."""
    for header in ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP"):
        response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **{header: ELSEWHERE})
        assert response.status_code == 404, header


def test_metrics_allowed_ips_takes_networks(client, db, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert scrape(client, REMOTE_ADDR="10.1.2.3")
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404


# --- Gauges from the database -----------------------------------------------------------------


def test_the_database_gauges_match_the_database(imported):
    finished_crawl(timedelta(hours=7), took=timedelta(minutes=5), servers_ok=10, servers_failed=1)
    last = finished_crawl(
        timedelta(minutes=2), took=timedelta(minutes=2, seconds=30), servers_ok=12, servers_failed=2
    )
    CrawlRun.objects.create(status=CrawlRun.Status.RUNNING)
    CrawlRun.objects.create(status=CrawlRun.Status.FAILED)
    servers = list(Server.objects.order_by("pk"))
    Server.objects.filter(pk=servers[0].pk).update(key_state=Server.KeyState.FAILED)
    Server.objects.filter(pk=servers[1].pk).update(last_poll_status=Server.PollStatus.NEVER)
    Server.objects.filter(pk=servers[2].pk).update(last_poll_status=Server.PollStatus.TIMEOUT)

    samples = scrape()

    assert samples["directory_database_up{}"] == 1
    assert samples['directory_crawl_runs{status="finished"}'] == 2
    assert samples['directory_crawl_runs{status="running"}'] == 1
    assert samples['directory_crawl_runs{status="failed"}'] == 1
    assert samples["directory_crawl_last_duration_seconds{}"] == 150
    assert samples['directory_crawl_last_servers{outcome="ok"}'] == 12
    assert samples['directory_crawl_last_servers{outcome="failed"}'] == 2
    assert samples["directory_crawl_last_finished_timestamp_seconds{}"] == pytest.approx(
        last.finished_at.timestamp()
    )
    ok = Server.objects.filter(last_poll_status=Server.PollStatus.OK).count()
    never = Server.objects.filter(last_poll_status=Server.PollStatus.NEVER).count()
    assert samples['directory_servers{state="up"}'] == ok
    assert samples['directory_servers{state="never_polled"}'] == never
    assert samples['directory_servers{state="down"}'] == Server.objects.count() - ok - never >= 1
    assert samples["directory_servers_key_proof_failed{}"] == 1
    listed = Room.objects.public()
    assert samples["directory_rooms_listed{}"] == listed.count() > 0
    assert samples["directory_rooms_listed_online{}"] == listed.online().count()


def test_before_any_crawl_the_last_crawl_gauges_are_absent(db):
    samples = scrape()
    assert samples['directory_crawl_runs{status="finished"}'] == 0
    assert not any(name.startswith("directory_crawl_last_") for name in samples)
    assert samples["directory_rooms_listed{}"] == 0


def test_a_database_failure_leaves_the_request_metrics(db, monkeypatch):
    def unreachable():
        raise DatabaseError("connection refused")

    monkeypatch.setattr(metrics, "server_metrics", unreachable)
    samples = scrape()
    assert samples["directory_database_up{}"] == 0
    assert not any(name.startswith("directory_servers") for name in samples)
    assert any(name.startswith("directory_http_requests_total") for name in samples)


# --- Counters ---------------------------------------------------------------------------------


def test_requests_are_counted_by_view_method_and_status(client, db):
    ok = {"view": "robots_txt", "method": "GET", "status": "200"}
    missing = {"view": "unresolved", "method": "GET", "status": "404"}
    before = counted("directory_http_requests_total", **ok)
    before_missing = counted("directory_http_requests_total", **missing)
    before_timed = counted(
        "directory_http_request_duration_seconds_count", view="robots_txt", method="GET"
    )

    client.get("/robots.txt")
    client.get("/robots.txt")
    client.get("/no-such-page")

    assert counted("directory_http_requests_total", **ok) == before + 2
    assert counted("directory_http_requests_total", **missing) == before_missing + 1
    assert (
        counted("directory_http_request_duration_seconds_count", view="robots_txt", method="GET")
        == before_timed + 2
    )
    samples = scrape()
    assert samples[
        'directory_http_requests_total{method="GET",status="200",view="robots_txt"}'
    ] == (before + 2)


def test_a_made_up_method_is_counted_as_other(client, db):
    labels = {"view": "robots_txt", "method": "other", "status": "405"}
    before = counted("directory_http_requests_total", **labels)
    client.generic("BREW", "/robots.txt")
    after = counted("directory_http_requests_total", **labels)
    assert after == before + 1


@pytest.mark.urls(__name__)
def test_server_errors_are_counted(db):
    client = Client(raise_request_exception=False)
    before = counted("directory_http_server_errors_total", view="boom")
    before_requests = counted(
        "directory_http_requests_total", view="boom", method="GET", status="500"
    )
    assert client.get("/boom").status_code == 500
    assert counted("directory_http_server_errors_total", view="boom") == before + 1
    assert (
        counted("directory_http_requests_total", view="boom", method="GET", status="500")
        == before_requests + 1
    )


def test_a_bad_onion_envelope_is_counted(client, db, settings, tmp_path):
    settings.LP_KEY_FILE = tmp_path / "lp_key_x25519"
    settings.LP_ONION_THROTTLE_RATE = None
    keys._privkey_for.cache_clear()
    before = counted("directory_onion_requests_total", outcome="bad_envelope")
    before_http = counted(
        "directory_http_requests_total", view="lp_onion", method="POST", status="400"
    )
    try:
        response = client.post(
            "/oxen/v4/lsrpc", data=b"\x00garbage", content_type="application/octet-stream"
        )
    finally:
        keys._privkey_for.cache_clear()
    assert response.status_code == 400
    assert counted("directory_onion_requests_total", outcome="bad_envelope") == before + 1
    assert (
        counted("directory_http_requests_total", view="lp_onion", method="POST", status="400")
        == before_http + 1
    )
    assert scrape()['directory_onion_requests_total{outcome="bad_envelope"}'] == before + 1


def test_scrapes_and_probes_do_not_need_a_session_or_cookies(client, db):
    response = client.get("/metrics")
    assert not response.cookies
    assert "no-store" in response["Cache-Control"]


# --- Several worker processes -----------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import sys
    import django
    django.setup()
    from django.test import Client
    for _ in range(int(sys.argv[1])):
        assert Client().get("/healthz").status_code == 200
    if sys.argv[2:] == ["scrape"]:
        response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer multi")
        sys.stdout.write(response.content.decode())
    """
)


def test_multiprocess_mode_adds_up_every_worker(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR, a scrape answered by one process counts all of them."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "directory.settings",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "VAR_DIR": str(tmp_path / "var"),
        "METRICS_TOKEN": "multi",
        "READ_DOT_ENV_FILE": "false",
        "LOG_LEVEL": "WARNING",
    }

    def worker(*args: str) -> str:
        command = [sys.executable, "-c", WORKER, *args]
        done = subprocess.run(
            command, env=env, cwd=REPO, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    worker("2")
    worker("3")
    exposition = worker("1", "scrape")

    healthz = 'directory_http_requests_total{method="GET",status="200",view="healthz"} 6.0'
    assert healthz in exposition.splitlines()
    assert len(list((tmp_path / "prometheus").glob("counter_*.db"))) == 3
