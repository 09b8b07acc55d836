"""Redis killed under a running site (granian, a Celery worker with beat, a private redis-server
really stopped and started): the website and the JSON API answer from the database, within a
bound and with the same content; a submission is saved and waits for its check; once Redis is
back, beat queues the check again, the worker runs it and the cache fills again.

The outage is one story told in steps (Redis up, stuck, down, back), one test each; they share
the running site (module scope), and each step first runs the steps before it, once, so any
test also runs alone."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from celery import current_app
from django.urls import reverse
from kombu.exceptions import OperationalError

from directory.lib.onion import x25519_pubkey
from listings_api.caching import CACHE_PREFIX
from tests.conftest import SNAPSHOT
from tests.faults.conftest import SharedDatabase, new_shared_database
from tests.support.onion_client import OnionClient
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
from tests.support.sogs import FakeSogs, room

pytestmark = pytest.mark.timeout(150)

# Seconds any answer may take while Redis is down or stuck.
BOUND = 3.0
PROVIDER_PRIVKEY = bytes.fromhex("5e" * 32)
COMMUNITY_LINK = re.compile(r'href="(/community/[0-9a-f]{64}/[^/"]+/)"')
TITLE = re.compile(r"<title>(.*?)</title>|<h1[^>]*>(.*?)</h1>", re.S)
PAGE_LABELS = ("/", "room page", "/listings", "/listing/all", "/listing/all?sort=name")
SUBMISSION_LABELS = ("GET /submit/", "POST /submit/", "submission status")


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

    def over(self, bound: float, phase: str, labels: tuple[str, ...]) -> dict[str, float]:
        """The answers of `phase` among `labels` that took longer than `bound` seconds."""
        return {
            label: self.times[label][phase]
            for label in labels
            if self.times.get(label, {}).get(phase, 0) > bound
        }

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


# --- The outage, step by step -------------------------------------------------------------------


@dataclass
class Up:
    """Redis up: the answers to compare with, and the cache keys they left."""

    room_path: str
    pages: dict[str, requests.Response]
    onion_listings: tuple[int, bytes]
    home_keys: list[bytes]
    listing_keys: list[bytes]


@dataclass
class Down:
    """Redis down and the web worker replaced: what the site answered, and the submission."""

    new_worker_about: int
    pages: dict[str, requests.Response]
    onion_listings: tuple[int, bytes]
    join_url: str
    submitted: requests.Response
    status_path: str
    status_page: str
    check_state: tuple[str, str]
    web_output: str


@dataclass
class Back:
    """Redis back, empty, on the same port: the waiting check, run by the worker."""

    checked_after: float
    status_page: str
    worker_output: str


@dataclass
class Refilled:
    """After the check: the cache, rate limits and the site's own queueing, in use again."""

    pages: dict[str, requests.Response]
    messages_sort: int
    home_keys: list[bytes]
    throttle_keys: list[bytes]
    second_submitted: int
    rate_keys: list[bytes]
    web_output: str


@dataclass
class Outage:
    """The running site, the worker with beat, the private Redis and the simulated server. Each
    step runs the steps before it (once) and records what its test checks."""

    db: SharedDatabase
    redis_server: RedisServer
    community: FakeSogs
    site: Site
    processes: Processes
    done: dict[str, object] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)

    def _step(self, name: str, run: Callable[[], object]):
        if name not in self.done:
            assert name not in self.failed, f"the step {name!r} failed in an earlier test"
            try:
                self.done[name] = run()
            except BaseException:
                self.failed.add(name)
                raise
        return self.done[name]

    def up(self) -> Up:
        def run() -> Up:
            site = self.site
            room_path = COMMUNITY_LINK.search(site.get("warm", "/").text).group(1)
            pages = _pages(site, "up", room_path)
            onion = site.onion("up", "/listings")
            home_keys = _cache_keys(self.redis_server, "web:home:")
            listing_keys = _cache_keys(self.redis_server, CACHE_PREFIX)
            self.processes.wait_for_output("worker", r"ready\.", timeout=60)
            return Up(room_path, pages, onion, home_keys, listing_keys)

        return self._step("up", run)

    def stuck(self) -> dict[str, int]:
        """Redis stopped (SIGSTOP), its connections open: every wait is a socket timeout."""

        def run() -> dict[str, int]:
            self.up()
            pid = self.redis_server.process.pid
            os.kill(pid, signal.SIGSTOP)
            try:
                return {
                    path: self.site.get("stuck", path).status_code
                    for path in ["/listings", "/?sort=newest"]
                }
            finally:
                os.kill(pid, signal.SIGCONT)

        return self._step("stuck", run)

    def down(self) -> Down:
        """Redis killed, and the web worker replaced (HUP), so nothing is in any process's
        memory; then the pages, the onion endpoint and a submission."""

        def run() -> Down:
            up, site = self.up(), self.site
            self.stuck()
            self.redis_server.kill()
            _reload_workers(self.processes)
            # A new worker's first request loads the URLs, views and templates: not timed here.
            about = site.get("reload", "/about/", "/about/ (new worker)").status_code
            pages = _pages(site, "down", up.room_path)
            onion = site.onion("down", "/listings")
            join_url = self.community.join_link("lobby", host="sogs.example")
            submitted = site.submit("down", join_url)
            assert submitted.status_code == 302, submitted.text[:2000]
            status_path = submitted.headers["Location"]
            status_page = site.get("down", status_path, "submission status").text
            return Down(
                about,
                pages,
                onion,
                join_url,
                submitted,
                status_path,
                status_page,
                _check_state(self.db, join_url),
                self.processes.output("web"),
            )

        return self._step("down", run)

    def back(self) -> Back:
        def run() -> Back:
            down = self.down()
            self.redis_server.start()
            back_at = time.monotonic()
            wait_for(
                lambda: _check_state(self.db, down.join_url)[1] == "passed", 60, "the check to run"
            )
            checked_after = time.monotonic() - back_at
            status_page = self.site.get("back", down.status_path, "submission status").text
            return Back(checked_after, status_page, self.processes.output("worker"))

        return self._step("back", run)

    def refilled(self) -> Refilled:
        def run() -> Refilled:
            up, site, redis_server = self.up(), self.site, self.redis_server
            self.back()
            pages = _pages(site, "back", up.room_path)
            messages_sort = site.get("back", "/?sort=messages").status_code
            home_keys = _cache_keys(redis_server, "web:home:")
            throttle_keys = _cache_keys(redis_server, "throttle_listings_")
            second_url = self.community.join_link("dev", host="sogs.example")
            second_submitted = site.submit("back", second_url).status_code
            rate_keys = _cache_keys(redis_server, "web:rate:submit:")
            wait_for(
                lambda: _check_state(self.db, second_url)[1] == "passed", 30, "the second check"
            )
            return Refilled(
                pages,
                messages_sort,
                home_keys,
                throttle_keys,
                second_submitted,
                rate_keys,
                self.processes.output("web"),
            )

        return self._step("refilled", run)


@pytest.fixture(scope="module")
def outage(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Outage]:
    tmp_path = tmp_path_factory.mktemp("redis-down")
    db = new_shared_database(request, tmp_path)
    with ExitStack() as stack:
        redis_server = stack.enter_context(RedisServer(tmp_path / "redis"))
        community = stack.enter_context(FakeSogs([room("lobby"), room("dev")]))
        proxy = stack.enter_context(LoopbackProxy(hosts={"sogs.example": "127.0.0.1"}))
        env = _environment(db, redis_server, proxy.url, tmp_path / "var")
        imported = manage(env, "import_snapshot", str(SNAPSHOT))
        assert imported.returncode == 0, imported.stderr[-3000:]
        site = Site(free_port())
        processes = stack.enter_context(Processes(tmp_path))
        processes.start("web", web_server(site.port, threads=4), env)
        processes.start("worker", _worker_with_beat(tmp_path / "var" / "beat-schedule"), env)
        wait_for(lambda: _answers(site), 60, "the web server to answer")
        story = Outage(db, redis_server, community, site, processes)
        yield story
        back = story.done.get("back")
        checked = f"checked {back.checked_after:.1f} s after Redis came back" if back else ""
        print(f"\n{site.report()}\n{checked}")


def test_with_redis_up_the_site_fills_the_cache(outage: Outage):
    up = outage.up()
    assert up.onion_listings == (200, up.pages["/listings"].content)
    assert up.home_keys and up.listing_keys


def test_a_stuck_redis_holds_no_answer_beyond_the_bound(outage: Outage):
    assert outage.stuck() == {"/listings": 200, "/?sort=newest": 200}
    slow = outage.site.over(BOUND, "stuck", ("/listings", "/?sort=newest"))
    assert not slow, f"over {BOUND} s with Redis stuck: {slow}"


def test_with_redis_down_a_new_web_worker_answers_the_same_from_the_database(outage: Outage):
    up, down = outage.up(), outage.down()
    assert down.new_worker_about == 200
    _same_content(up.pages, down.pages, up.room_path)
    assert down.onion_listings == up.onion_listings
    slow = outage.site.over(BOUND, "down", (*PAGE_LABELS, "onion /listings"))
    assert not slow, f"over {BOUND} s with Redis down: {slow}"


def test_a_submission_while_redis_is_down_is_saved_and_waits_for_its_check(outage: Outage):
    down = outage.down()
    assert down.submitted.status_code == 302
    assert "Waiting for the check" in down.status_page
    assert "this page reloads itself" in down.status_page
    assert down.check_state[:2] == ("pending", "waiting")
    assert "could not queue the check of submission" in down.web_output
    assert "Exception ignored" in down.web_output  # django-redis logs each one
    slow = outage.site.over(BOUND, "down", SUBMISSION_LABELS)
    assert not slow, f"over {BOUND} s with Redis down: {slow}"


def test_once_redis_is_back_beat_queues_the_check_and_the_worker_runs_it(outage: Outage):
    back = outage.back()
    assert "key proven" in back.status_page
    assert "crawler.requeue_unchecked_submissions" in back.worker_output


def test_once_redis_is_back_the_cache_rate_limits_and_queueing_work_again(outage: Outage):
    up, refilled = outage.up(), outage.refilled()
    _same_content(up.pages, refilled.pages, up.room_path)
    assert refilled.messages_sort == 200
    assert refilled.home_keys
    assert refilled.throttle_keys
    assert refilled.second_submitted == 302
    assert refilled.rate_keys
    assert refilled.web_output.count("could not queue the check") == 1


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
