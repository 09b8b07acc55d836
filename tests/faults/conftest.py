"""Fixtures of the fault tests: databases that real processes share (a private PostgreSQL
cluster, or a SQLite file), simulated SOGS servers that can be held or timed, and the checks
every fault ends with (no duplicate rooms, no curated field lost)."""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from tests.crawler.conftest import (  # noqa: F401  (fixtures shared with the crawler tests)
    config,
    network,
    no_real_internet,
    sogs,
)
from tests.support.processes import REPO, PostgresCluster, django_env, manage, postgres_bin
from tests.support.sogs import FakeSogs

TEMPLATE = "faults_template"

# Seeded data is deleted: a crawl in a fault test must only ever see the simulated network.
MIGRATE = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from directory.models import Server, Source
Source.objects.all().delete()
Server.objects.all().delete()
"""


# --- Databases shared by processes ------------------------------------------------------------


@dataclass
class SharedDatabase:
    """A migrated database that subprocesses reach by `url` and the test reads with plain SQL
    (written with %s placeholders, whatever the vendor)."""

    url: str
    vendor: str  # "postgresql" or "sqlite"
    connect: Callable[[], object]

    def rows(self, query: str, *params: object) -> list[tuple]:
        connection = self.connect()
        try:
            if self.vendor == "sqlite":
                query = query.replace("%s", "?")
            cursor = connection.execute(query, params)
            rows = cursor.fetchall() if cursor.description else []
            connection.commit()
            return rows
        finally:
            connection.close()

    def value(self, query: str, *params: object) -> object:
        return self.rows(query, *params)[0][0]

    execute = rows


def _migrate(url: str, var_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", MIGRATE],
        cwd=REPO,
        env=django_env(url, var_dir),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="session")
def postgres_cluster(tmp_path_factory) -> Iterator[PostgresCluster]:
    """A private PostgreSQL cluster (ours to stop and restart), with a migrated template."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are not installed")
    cluster = PostgresCluster.create(bin_dir)
    try:
        cluster.create_database(TEMPLATE)
        _migrate(cluster.url(TEMPLATE), tmp_path_factory.mktemp("migrate-pg"))
        yield cluster
    finally:
        cluster.destroy()


_numbers = itertools.count(1)


def _postgres_database(cluster: PostgresCluster) -> SharedDatabase:
    name = f"faults_{next(_numbers)}"
    cluster.create_database(name, template=TEMPLATE)
    return SharedDatabase(cluster.url(name), "postgresql", lambda: cluster.connect(name))


@pytest.fixture
def private_postgres(postgres_cluster) -> SharedDatabase:
    """A fresh database on the private cluster (a copy of the migrated template)."""
    return _postgres_database(postgres_cluster)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.sqlite3"
    _migrate(f"sqlite:///{path}", folder)
    return path


def new_shared_database(request: pytest.FixtureRequest, folder: Path) -> SharedDatabase:
    """A database for processes to share, on the backend this test run is about: the private
    PostgreSQL cluster when the tests run on PostgreSQL, a SQLite file in `folder` otherwise.
    It asks only for session fixtures, so a module-scoped fixture may call it too."""
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return _postgres_database(request.getfixturevalue("postgres_cluster"))
    path = folder / "db.sqlite3"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    return SharedDatabase(f"sqlite:///{path}", "sqlite", lambda: sqlite3.connect(path, timeout=20))


@pytest.fixture
def shared_database(request, tmp_path) -> SharedDatabase:
    """A fresh shared database (see new_shared_database) for one test."""
    return new_shared_database(request, tmp_path)


# --- Simulated servers ------------------------------------------------------------------------


def hold(server: FakeSogs, path: str = "/rooms") -> threading.Event:
    """Requests to `path` wait until the returned event is set (a server slow at will)."""
    opened = threading.Event()
    handler = server.server.routes[path]

    def held(request) -> None:
        opened.wait(60)
        handler(request)

    server.server.routes[path] = held
    return opened


def record_spans(server: FakeSogs, delay: float) -> list[tuple[float, float]]:
    """Every request takes `delay` seconds more; the (start, end) of each is recorded."""
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()

    def timed(handler):
        def handle(request) -> None:
            start = time.monotonic()
            time.sleep(delay)
            handler(request)
            with lock:
                spans.append((start, time.monotonic()))

        return handle

    for path, handler in list(server.server.routes.items()):
        server.server.routes[path] = timed(handler)
    return spans


# --- Seeding and checks -----------------------------------------------------------------------


def crawl(env: dict[str, str], *links: str) -> str:
    """`manage.py crawl` (of `links`, or of everything known); its output."""
    args = [arg for link in links for arg in ("--server", link)]
    done = manage(env, "crawl", *args)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def curate(db: SharedDatabase) -> None:
    """What moderators decide, on every server and room: it must outlive any fault."""
    db.execute("UPDATE directory_server SET notes = 'curated ' || pubkey, official = %s", True)
    db.execute(
        "UPDATE directory_room SET age_rating = 'nsfw', pinned = %s, language = 'de', "
        "maintainer_description = 'curated ' || token",
        True,
    )


def curated_fields(db: SharedDatabase) -> list[tuple]:
    return db.rows(
        "SELECT s.pubkey, s.notes, s.official, r.token_key, r.age_rating, r.pinned, r.language,"
        " r.maintainer_description FROM directory_room r"
        " JOIN directory_server s ON s.id = r.server_id ORDER BY s.pubkey, r.token_key"
    )


def duplicate_rooms(db: SharedDatabase) -> list[tuple]:
    return db.rows(
        "SELECT server_id, token_key, COUNT(*) FROM directory_room"
        " GROUP BY server_id, token_key HAVING COUNT(*) > 1"
    )


def waiting_on_a_lock(db: SharedDatabase) -> bool:
    """Whether a session of this PostgreSQL database waits for a row another one locked."""
    return bool(
        db.value(
            "SELECT COUNT(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    )


def server_state(db: SharedDatabase, pubkey: str) -> tuple:
    """Everything a poll writes about one server: its row, addresses, rooms and activity."""
    server = db.rows(
        "SELECT id, last_seen, last_poll_at, last_poll_status, consecutive_failures, key_state"
        " FROM directory_server WHERE pubkey = %s",
        pubkey,
    )[0]
    addresses = db.rows(
        "SELECT host, port, last_success_at, last_failure_at, last_error"
        " FROM directory_serveraddress WHERE server_id = %s ORDER BY id",
        server[0],
    )
    rooms = db.rows(
        "SELECT token_key, name, last_seen, message_sequence, listed_by_server"
        " FROM directory_room WHERE server_id = %s ORDER BY token_key",
        server[0],
    )
    activity = db.value(
        "SELECT COUNT(*) FROM directory_roomactivity a JOIN directory_room r ON r.id = a.room_id"
        " WHERE r.server_id = %s",
        server[0],
    )
    return server, addresses, rooms, activity
