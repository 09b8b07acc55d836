"""Redis killed under a running site (granian, a Celery worker with beat, a private redis-server
really stopped and started): the website and the JSON API answer from the database, within a
bound and with the same content; a submission is saved and waits for its check; once Redis is
back, beat queues the check again, the worker runs it and the cache fills again."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from celery import current_app
from django.urls import reverse
from kombu.exceptions import OperationalError

from directory.lib.onion import x25519_pubkey
from listings_api.caching import CACHE_PREFIX
from tests.api.onion_client import OnionClient
from tests.conftest import SNAPSHOT
from tests.faults.conftest import SharedDatabase
from tests.support.processes import (
    Processes,
    django_env,
    free_port,
    manage,
    wait_for,
    web_server,
)
from tests.support.proxy import LoopbackProxy
from tests.support.redis_server import RedisServer
from tests.support.sogs import room

pytestmark = pytest.mark.timeout(150)

# Seconds any answer may take while Redis is down or stuck.
BOUND = 3.0
PROVIDER_PRIVKEY = bytes.fromhex("5e" * 32)
COMMUNITY_LINK = re.compile(r'href="(/community/[0-9a-f]{64}/[^/"]+/)"')
TITLE = re.compile(r"<title>(.*?)</title>|<h1[^>]*>(.*?)</h1>", re.S)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


class Site:
    """The site under granian, asked over HTTP; every answer's time is recorded by label."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.http = requests.Session()
        self.http.trust_env = False  # never a proxy from the environment for loopback
        self.times: dict[str, dict[str, float]] = {}

    def request(self, phase: str, label: str, method: str, path: str, **kwargs):
        start = time.monotonic()
        response = self.http.request(method, self.base + path, timeout=30, **kwargs)
        self.times.setdefault(label, {})[phase] = time.monotonic() - start
        return response

    def get(self, phase: str, path: str, label: str | None = None):
        return self.request(phase, label or path, "GET", path, allow_redirects=False)

    def onion(self, phase: str, endpoint: str) -> tuple[int, bytes]:
        client = OnionClient(x25519_pubkey(PROVIDER_PRIVKEY).hex(), enc_type="xchacha20")
        response = self.request(
            phase,
            f"onion {endpoint}",
            "POST",
            "/oxen/v4/lsrpc",
            data=client.request("GET", endpoint),
            headers={"Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 200, response.text[:500]
        code, _, body = client.read_reply(response.content)
        return code, body

    def submit(self, phase: str, join_url: str) -> requests.Response:
        form = self.get(phase, "/submit/", "GET /submit/")
        assert form.status_code == 200
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        data = {"csrfmiddlewaretoken": token, "join_url": join_url, "tags": "", "language": ""}
        return self.request(
            phase, "POST /submit/", "POST", "/submit/", data=data, allow_redirects=False
        )

    def report(self) -> str:
        phases = ("up", "stuck", "reload", "down", "back")
        lines = [f"{'request':<28}{'Redis up':>10}" + "".join(f"{p:>10}" for p in phases[1:])]
        for label, times in self.times.items():
            cells = [times.get(phase) for phase in phases]
            shown = "".join(f"{'-' if s is None else f'{s * 1000:.0f} ms':>10}" for s in cells)
            lines.append(f"{label:<28}{shown}")
        return "\n".join(lines)


def _pages(site: Site, phase: str, room_path: str) -> dict[str, requests.Response]:
    paths = ["/", room_path, "/listings", "/listing/all", "/listing/all?sort=name"]
    answers = {
        path: site.get(phase, path, path if path != room_path else "room page") for path in paths
    }
    for path, response in answers.items():
        assert response.status_code == 200, (phase, path, response.text[:1000])
    return answers


def _same_content(before: dict, after: dict, room_path: str) -> None:
    """Identical JSON bodies; the same rooms linked from HTML pages (whose CSRF tokens and
    relative times may differ)."""
    for path in ["/listings", "/listing/all", "/listing/all?sort=name"]:
        assert after[path].content == before[path].content, path
    for path in ["/", room_path]:
        for pattern in (TITLE, COMMUNITY_LINK):
            assert pattern.findall(after[path].text) == pattern.findall(before[path].text), path
    assert COMMUNITY_LINK.findall(after["/"].text)
    assert "room_extra" in after["/listing/all"].text


def _check_state(db: SharedDatabase, join_url: str) -> tuple[str, str]:
    rows = db.rows(
        "SELECT status, check_state FROM directory_submission WHERE join_url = %s", join_url
    )
    return rows[0] if rows else ("", "")


def _cache_keys(server: RedisServer, pattern: str) -> list[bytes]:
    return server.client().keys(f"directory:*{pattern}*")


def _environment(db: SharedDatabase, redis_server: RedisServer, proxy: str, var: Path) -> dict:
    """Web and worker on the shared database and the private Redis; the provider key known."""
    var.mkdir()
    key_file = var / "lp_key_x25519"
    key_file.write_bytes(PROVIDER_PRIVKEY)
    key_file.chmod(0o600)
    return django_env(
        db.url,
        var,
        REDIS_URL=redis_server.url(0),
        LP_KEY_FILE=key_file,
        CRAWLER_PROXY=proxy,  # names the simulated server's host, which no DNS knows
        CRAWLER_RECHECK_MINUTES=0.05,  # beat looks for waiting submissions every 3 seconds
    )


def _worker_with_beat(schedule: Path) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "directory", "worker", "--beat",
        "--schedule", str(schedule), "--loglevel", "INFO", "--pool", "solo",
        "--hostname", "redis-down@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip


def test_the_site_answers_from_the_database_while_redis_is_down(
    shared_database: SharedDatabase, redis_server: RedisServer, sogs, network, tmp_path: Path
):
    db = shared_database
    community = sogs([room("lobby"), room("dev")])
    proxy = network(LoopbackProxy(hosts={"sogs.example": "127.0.0.1"}))
    env = _environment(db, redis_server, proxy.url, tmp_path / "var")
    imported = manage(env, "import_snapshot", str(SNAPSHOT))
    assert imported.returncode == 0, imported.stderr[-3000:]
    site = Site(free_port())
    with Processes(tmp_path) as processes:
        processes.start("web", web_server(site.port, threads=4), env)
        processes.start("worker", _worker_with_beat(tmp_path / "var" / "beat-schedule"), env)
        wait_for(lambda: _answers(site), 60, "the web server to answer")

        # Redis up: the answers to compare with, and the cache in use.
        room_path = COMMUNITY_LINK.search(site.get("warm", "/").text).group(1)
        before = _pages(site, "up", room_path)
        onion_before = site.onion("up", "/listings")
        assert onion_before == (200, before["/listings"].content)
        assert _cache_keys(redis_server, "web:home:") and _cache_keys(redis_server, CACHE_PREFIX)
        processes.wait_for_output("worker", r"ready\.", timeout=60)

        # Redis stuck (stopped, its connections open): every wait is a socket timeout.
        os.kill(redis_server.process.pid, signal.SIGSTOP)
        try:
            for path in ["/listings", "/?sort=newest"]:
                assert site.get("stuck", path).status_code == 200
        finally:
            os.kill(redis_server.process.pid, signal.SIGCONT)

        # Redis down, and the web worker replaced (HUP), so nothing is in any process's
        # memory: everything answers from the database, in time, with the same content.
        redis_server.kill()
        _reload_workers(processes)
        # A new worker's first request loads the URLs, views and templates: not timed here.
        assert site.get("reload", "/about/", "/about/ (new worker)").status_code == 200
        _same_content(before, _pages(site, "down", room_path), room_path)
        assert site.onion("down", "/listings") == onion_before
        join_url = community.join_link("lobby", host="sogs.example")
        submitted = site.submit("down", join_url)
        assert submitted.status_code == 302, submitted.text[:2000]
        status_path = submitted.headers["Location"]
        status_page = site.get("down", status_path, "submission status")
        assert "Waiting for the check" in status_page.text
        assert "this page reloads itself" in status_page.text
        assert _check_state(db, join_url)[:2] == ("pending", "waiting")
        assert "could not queue the check of submission" in processes.output("web")
        assert "Exception ignored" in processes.output("web")  # django-redis logs each one

        # Redis back (empty, same port): beat queues the check again, the worker runs it.
        redis_server.start()
        back_at = time.monotonic()
        wait_for(lambda: _check_state(db, join_url)[1] == "passed", 60, "the check to run")
        checked_after = time.monotonic() - back_at
        assert "key proven" in site.get("back", status_path, "submission status").text
        assert "crawler.requeue_unchecked_submissions" in processes.output("worker")
        # The cache fills again, rate limits count again, the website queues by itself again.
        _same_content(before, _pages(site, "back", room_path), room_path)
        assert site.get("back", "/?sort=messages").status_code == 200
        assert _cache_keys(redis_server, "web:home:")
        assert _cache_keys(redis_server, "throttle_listings_")
        second_url = community.join_link("dev", host="sogs.example")
        assert site.submit("back", second_url).status_code == 302
        assert _cache_keys(redis_server, "web:rate:submit:")
        wait_for(lambda: _check_state(db, second_url)[1] == "passed", 30, "the second check")
        assert processes.output("web").count("could not queue the check") == 1

    print(f"\n{site.report()}\nchecked {checked_after:.1f} s after Redis came back")
    slow = {
        label: times[phase]
        for label, times in site.times.items()
        for phase in ("stuck", "down")
        if times.get(phase, 0) > BOUND
    }
    assert not slow, f"over {BOUND} s with Redis stuck or down: {slow}"


def _reload_workers(processes: Processes) -> None:
    """granian's HUP: a new worker (empty memory) replaces the old one."""
    spawned = re.compile(r"Spawning worker-1 with PID: (\d+)")
    os.kill(processes.started["web"].pid, signal.SIGHUP)
    wait_for(
        lambda: (
            len(spawned.findall(processes.output("web"))) == 2
            and "Stopped old worker-1" in processes.output("web")
        ),
        30,
        "the new web worker",
    )


def _answers(site: Site) -> bool:
    try:
        return site.http.get(site.base + "/healthz", timeout=10).status_code == 200
    except requests.RequestException:
        return False


# --- The pieces, in process ---------------------------------------------------------------------


def _broker_down(*args: object, **kwargs: object) -> None:
    raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "action"), [("server", "poll_now"), ("source", "fetch_now")])
def test_admin_actions_say_the_queue_is_down_instead_of_failing(
    client, moderator, admin_user, monkeypatch, model, action
):
    from directory.models import Server, Source

    monkeypatch.setattr(current_app, "send_task", _broker_down)
    if model == "server":
        pk = Server.objects.create(pubkey="ab" * 32).pk
    else:
        pk = Source.objects.create(name="list", url="https://example.org/list", kind="html").pk
    client.force_login(moderator if model == "server" else admin_user)  # sources: operators'
    url = reverse(f"admin:directory_{model}_changelist")
    response = client.post(
        url, {"action": action, "_selected_action": [pk], "index": 0}, follow=True
    )
    assert response.status_code == 200
    assert "The task queue (Redis) is not reachable" in response.content.decode()


@pytest.mark.django_db
def test_beat_requeues_only_pending_submissions_still_waiting(monkeypatch):
    from django.utils import timezone

    from crawler.tasks import requeue_unchecked_submissions
    from directory.models import Submission

    def submission(minutes_ago: int, **fields: object) -> int:
        created_at = timezone.now() - timedelta(minutes=minutes_ago)
        return Submission.objects.create(
            join_url=f"https://example.org/r?public_key={'ab' * 32}",
            server_url="https://example.org",
            pubkey="ab" * 32,
            token="r",
            created_at=created_at,
            **fields,
        ).pk

    waiting = submission(10)
    submission(1)  # just submitted: its own check is on its way
    submission(10, check_state=Submission.CheckState.FAILED)
    submission(10, status=Submission.Status.REJECTED)
    sent: list = []
    monkeypatch.setattr(
        requeue_unchecked_submissions.app,
        "send_task",
        lambda name, args=(), **options: sent.append((name, list(args))),
    )
    assert requeue_unchecked_submissions.apply(kwargs={"older_than": 300}).get() == 1
    assert sent == [("crawler.check_submission", [waiting])]
