"""/healthz and /readyz: liveness without the database; readiness that follows the database,
the cache, the broker and the age of the last crawl, and recovers with them."""

from __future__ import annotations

import selectors
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections
from django.utils import timezone

from directory.celery import app as celery_app
from directory.models import CrawlRun
from tests.support.crawl_runs import finished_crawl


def ready(client, **extra) -> tuple[int, dict[str, dict]]:
    response = client.get("/readyz", **extra)
    assert response["Content-Type"] == "application/json"
    body = response.json()
    checks = {check["name"]: check for check in body["checks"]}
    assert body["status"] == ("ok" if response.status_code == 200 else "unavailable")
    return response.status_code, checks


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Liveness ---------------------------------------------------------------------------------


def test_healthz_answers_without_the_database(client):
    response = client.get("/healthz")  # no db fixture: any query would raise
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


def test_probes_answer_any_host_header(client, transactional_db):
    """Load balancers probe by IP address, a host ALLOWED_HOSTS does not list."""
    assert client.get("/robots.txt", HTTP_HOST="10.20.30.40:8000").status_code == 400
    assert client.get("/healthz", HTTP_HOST="10.20.30.40:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.20.30.40:8000").status_code == 200


def test_probes_are_never_cached_and_need_no_session_or_csrf(client, transactional_db):
    for _ in range(3):
        response = client.get("/readyz")
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        assert not response.cookies
    # A POST is refused as a method, not as a missing CSRF token.
    assert client.post("/readyz").status_code == 405


# --- Readiness --------------------------------------------------------------------------------


def test_a_new_install_without_crawls_is_ready(client, transactional_db):
    status, checks = ready(client)
    assert status == 200
    assert list(checks) == ["database", "cache", "broker", "crawl"]
    assert all(check["status"] == "ok" for check in checks.values())
    assert checks["crawl"]["reason"] == "no crawl yet (new install)"
    assert "broker answered" in checks["broker"]["reason"]


def test_readyz_fails_while_the_last_crawl_is_stale(client, transactional_db, settings):
    settings.READY_MAX_CRAWL_AGE_MINUTES = 60
    finished_crawl(timedelta(minutes=90))
    CrawlRun.objects.create(status=CrawlRun.Status.RUNNING)  # a crawl running now changes nothing
    status, checks = ready(client)
    assert status == 503
    assert checks["crawl"]["status"] == "fail"
    assert checks["crawl"]["reason"] == "last crawl finished 90 min ago (limit 60)"
    assert checks["database"]["status"] == "ok"

    finished_crawl(timedelta(minutes=1))
    status, checks = ready(client)
    assert status == 200
    assert checks["crawl"]["reason"] == "last crawl finished 1 min ago"


def test_the_default_limit_is_two_source_crawl_intervals(client, transactional_db):
    assert django_settings.READY_MAX_CRAWL_AGE_MINUTES == (
        django_settings.CRAWLER_SOURCES_INTERVAL_HOURS * 2 * 60
    )
    finished_crawl(timedelta(minutes=django_settings.READY_MAX_CRAWL_AGE_MINUTES - 5))
    assert ready(client)[0] == 200


def test_a_first_crawl_that_never_finishes_fails_after_the_limit(
    client, transactional_db, settings, clock
):
    settings.READY_MAX_CRAWL_AGE_MINUTES = 60
    CrawlRun.objects.create(started_at=timezone.now() - timedelta(minutes=10))
    status, checks = ready(client)
    assert status == 200
    assert checks["crawl"]["reason"] == "first crawl began 10 min ago, none finished yet"

    clock.shift(timedelta(minutes=51))
    status, checks = ready(client)
    assert status == 503
    assert checks["crawl"]["reason"] == "no crawl finished in 61 min since the first began"


def test_readyz_fails_when_the_broker_is_unreachable(client, transactional_db, monkeypatch):
    monkeypatch.setitem(celery_app.conf, "broker_url", f"redis://127.0.0.1:{closed_port()}/0")
    monkeypatch.setitem(celery_app.conf, "broker_write_url", None)
    status, checks = ready(client)
    assert status == 503
    assert checks["broker"] == {
        **checks["broker"],
        "status": "fail",
        "reason": "broker unreachable (OperationalError)",
    }
    assert checks["database"]["status"] == checks["crawl"]["status"] == "ok"


def test_the_filesystem_broker_fails_when_its_folder_is_gone(
    client, transactional_db, monkeypatch, tmp_path
):
    missing = str(tmp_path / "gone")
    monkeypatch.setitem(celery_app.conf, "broker_url", "filesystem://")
    monkeypatch.setitem(celery_app.conf, "broker_write_url", None)
    monkeypatch.setitem(
        celery_app.conf,
        "broker_transport_options",
        {"data_folder_in": missing, "data_folder_out": missing},
    )
    status, checks = ready(client)
    assert status == 503
    assert checks["broker"]["reason"] == "broker unreachable (FileNotFoundError)"


def test_readyz_fails_when_the_cache_is_unreachable(client, transactional_db, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        }
    }
    status, checks = ready(client)
    assert status == 503
    assert checks["cache"]["status"] == "fail"


# --- The database going away and coming back ------------------------------------------------


class TcpProxy:
    """A loopback TCP forwarder to `target` that can be severed: open connections are closed
    and new ones are accepted and closed at once, as when the database host goes away."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.severed = threading.Event()
        self.closing = threading.Event()
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def sever(self) -> None:
        self.severed.set()
        with self.lock:
            for sock in self.open:
                sock.close()
            self.open.clear()

    def restore(self) -> None:
        self.severed.clear()

    def close(self) -> None:
        self.closing.set()
        self.sever()
        self.listener.close()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.severed.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.target, timeout=5)
            with self.lock:
                self.open |= {client, upstream}
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, one: socket.socket, other: socket.socket) -> None:
        peer = {one: other, other: one}
        with selectors.DefaultSelector() as selector:
            for sock in peer:
                selector.register(sock, selectors.EVENT_READ)
            while not self.closing.is_set():
                try:
                    events = selector.select(timeout=0.1)
                    for key, _ in events:
                        data = key.fileobj.recv(65536)
                        if not data:
                            return
                        peer[key.fileobj].sendall(data)
                except (OSError, ValueError):
                    return


class DatabaseSwitch:
    """Takes the database away from new connections and gives it back.

    PostgreSQL: every connection goes through a `TcpProxy` in front of the real server, which is
    severed. SQLite: the database's path is pointed into a folder that does not exist, so it
    cannot be opened (the test database is in memory, so this thread's open connection is kept).
    """

    def __init__(self, tmp_path) -> None:
        self.settings_dict = connection.settings_dict
        self.original = dict(self.settings_dict)
        self.proxy: TcpProxy | None = None
        if connection.vendor == "postgresql":
            host = self.original["HOST"] or "127.0.0.1"
            if host.startswith("/"):
                pytest.skip("PostgreSQL over a Unix socket: no TCP to cut")
            self.proxy = TcpProxy((host, int(self.original["PORT"] or 5432)))
            self._point(HOST="127.0.0.1", PORT=str(self.proxy.port))
            connection.close()  # this thread reconnects through the proxy too
        self.unopenable = str(tmp_path / "no-such-folder" / "db.sqlite3")

    def down(self) -> None:
        if self.proxy:
            self.proxy.sever()
        else:
            self._point(NAME=self.unopenable)

    def up(self) -> None:
        if self.proxy:
            self.proxy.restore()
        else:
            self._point(NAME=self.original["NAME"])

    def restore(self) -> None:
        self._point(**{key: self.original[key] for key in ("NAME", "HOST", "PORT")})
        if self.proxy:
            connection.close()
            self.proxy.close()

    def _point(self, **values: str) -> None:
        # Connections of other threads are built from the same settings dict.
        for settings_dict in {id(d): d for d in self._settings_dicts()}.values():
            settings_dict.update(values)

    def _settings_dicts(self) -> Iterator[dict]:
        yield self.settings_dict
        yield connections.settings["default"]
        yield django_settings.DATABASES["default"]


@pytest.fixture
def database(transactional_db, tmp_path) -> Iterator[DatabaseSwitch]:
    switch = DatabaseSwitch(tmp_path)
    try:
        yield switch
    finally:
        switch.restore()


def test_readyz_fails_while_the_database_is_down_and_recovers(client, database):
    finished_crawl(timedelta(minutes=5))
    assert ready(client)[0] == 200

    database.down()
    status, checks = ready(client)
    assert status == 503
    assert checks["database"]["status"] == "fail"
    assert checks["crawl"] == {
        **checks["crawl"],
        "status": "fail",
        "reason": "database unreachable",
    }
    assert checks["cache"]["status"] == checks["broker"]["status"] == "ok"
    assert client.get("/healthz").status_code == 200  # alive: a restart would not help

    database.up()
    status, checks = ready(client)
    assert status == 200, checks
    assert checks["crawl"]["reason"] == "last crawl finished 5 min ago"


def test_readyz_fails_while_the_crawl_is_stale_and_recovers_after_a_crawl(
    client, transactional_db, settings, clock
):
    """The other half of the acceptance test: staleness is by the clock, not by a failure."""
    settings.READY_MAX_CRAWL_AGE_MINUTES = 30
    finished_crawl(timedelta(minutes=29))
    assert ready(client)[0] == 200
    clock.shift(timedelta(minutes=2))
    assert ready(client)[0] == 503
    finished_crawl(timedelta(minutes=0))
    assert ready(client)[0] == 200
