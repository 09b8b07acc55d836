"""The Celery fan-out on a real worker (embedded filesystem broker, and Redis): one poll task
per server; never two polls of a server at once; an interrupted poll writes nothing."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker

import crawler.tasks  # noqa: F401  (registers the shared tasks on every app)
from crawler import pipeline, store
from crawler.claims import claim_servers
from crawler.pipeline import run_crawl
from directory.celery import broker_settings, make_broker_folders
from directory.models import Room, Server
from tests.crawler.conftest import loopback_config
from tests.directory.test_celery import _redis_url
from tests.support.sogs import room


def _fan_out(conf: dict, servers: list) -> None:
    app = Celery("fanout")
    app.conf.update(conf, accept_content=["json"], task_serializer="json")
    app.conf.update(broker_connection_retry_on_startup=True)
    make_broker_folders(app.conf)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert app.send_task("crawler.poll_all").get(timeout=30) == len(servers)
        # The fanned-out polls run after poll_all returns; wait (generously) for all of them.
        limit = time.monotonic() + 60
        while Server.objects.filter(last_poll_status=Server.PollStatus.OK).count() < len(servers):
            assert time.monotonic() < limit, "the fanned-out polls did not all run"
            time.sleep(0.1)


def _known_servers(config, sogs) -> list:
    servers = [sogs([room("lobby")]) for _ in range(3)]
    run_crawl(config, server_urls=[server.join_link("lobby") for server in servers])
    Server.objects.update(last_poll_status=Server.PollStatus.NEVER)
    return servers


@pytest.mark.django_db(transaction=True)
def test_fan_out_on_the_embedded_broker(loopback_settings, config, sogs, tmp_path: Path):
    servers = _known_servers(config, sogs)
    _fan_out(broker_settings(redis_url="", queue_dir=tmp_path), servers)
    assert all(server.server.hits["/rooms"] == 2 for server in servers)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_fan_out_on_redis(loopback_settings, config, sogs, tmp_path: Path):
    servers = _known_servers(config, sogs)
    _fan_out(broker_settings(redis_url=_redis_url(), queue_dir=tmp_path), servers)
    assert all(server.server.hits["/rooms"] == 2 for server in servers)


@pytest.mark.django_db
def test_a_claimed_server_is_not_polled_again(config, sogs):
    server = sogs([room("lobby")])
    run_crawl(config, server_urls=[server.join_link("lobby")])
    stored = Server.objects.get()
    claimed, _ = claim_servers([stored.pk], config)
    assert claimed == {stored.pk}
    assert claim_servers([stored.pk], config)[0] == set()  # a second worker gets nothing
    hits = sum(server.server.hits.values())
    assert pipeline.poll_server(stored.pk, config) == "busy"
    assert sum(server.server.hits.values()) == hits


@pytest.mark.django_db
def test_a_stale_claim_is_taken_over(config, sogs):
    server = sogs([room("lobby")])
    run_crawl(config, server_urls=[server.join_link("lobby")])
    stored = Server.objects.get()
    claim_servers([stored.pk], config)
    assert pipeline.poll_server(stored.pk, config.with_changes(claim_timeout=0)) == "ok"


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: not an Exception, so nothing on the way catches it."""


def _stored_rooms() -> list[tuple]:
    return list(Room.objects.order_by("token").values_list("token", "name", "last_seen"))


def _crawled_then_changed(config, sogs):
    """A server crawled once, then changed (a room added, one renamed), so that a second poll
    has work to write; the server and the rooms stored by the first poll."""
    server = sogs([room("lobby"), room("dev")])
    run_crawl(config, server_urls=[server.join_link("lobby")])
    before = _stored_rooms()
    server.rooms.append(room("new"))
    server.add_room_routes(room("new"))
    server.rooms[0]["name"] = "Renamed"
    return server, before


@pytest.mark.django_db
def test_a_poll_interrupted_mid_way_leaves_no_half_written_server(config, sogs, monkeypatch):
    server, before = _crawled_then_changed(config, sogs)

    def killed(*args, **kwargs):
        raise WorkerKilled  # after the rooms were upserted, before the transaction commits

    monkeypatch.setattr(store, "mark_rooms_gone", killed)
    with pytest.raises(WorkerKilled):
        run_crawl(loopback_config(), server_urls=[server.join_link("lobby")])
    assert _stored_rooms() == before
    assert Server.objects.get().last_poll_status == Server.PollStatus.OK


KILLED_WORKER = """
import os, signal, sys
import django
django.setup()
from crawler import store
from crawler.pipeline import run_crawl
from tests.crawler.conftest import loopback_config

def killed(*args, **kwargs):  # rooms upserted, transaction still open: SIGKILL, as OOM would
    os.kill(os.getpid(), signal.SIGKILL)

store.mark_rooms_gone = killed
run_crawl(loopback_config(), server_urls=[sys.argv[1]])
"""


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_poll_leaves_no_half_written_server(config, sogs):
    """A real SIGKILL in a separate process, mid-transaction (needs a shared database server)."""
    import subprocess
    import sys

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("another process cannot see the in-memory SQLite test database")
    server, before = _crawled_then_changed(config, sogs)
    db = connection.settings_dict
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{host}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "directory.settings"}
    worker = subprocess.run(
        [sys.executable, "-c", KILLED_WORKER, server.join_link("lobby")],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        timeout=60,
    )
    assert worker.returncode == -9, worker.stderr.decode()[-2000:]
    assert _stored_rooms() == before
    claimed = Server.objects.get().polling_started_at
    assert claimed is not None  # the dead worker's claim stays until it goes stale...
    assert (
        pipeline.poll_server(Server.objects.get().pk, config.with_changes(claim_timeout=0)) == "ok"
    )
    assert Room.objects.filter(token="new").exists()  # ...and the next poll completes the work
