"""A Celery worker (a real process) SIGKILLed while it polls a slow server, and a `manage.py crawl`
killed the same way: nothing stays "in progress" for ever. The dead poller's claim holds until
CRAWLER_CLAIM_TIMEOUT, then the next poll takes it over and completes the work: no half-written
server, no duplicate room, no curated field lost."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from celery import Celery

from directory.celery import broker_settings, make_broker_folders
from tests.faults.conftest import (
    SharedDatabase,
    crawl,
    curate,
    curated_fields,
    duplicate_rooms,
    hold,
    server_state,
)
from tests.support.processes import Processes, celery_worker, django_env, wait_for
from tests.support.sogs import FakeSogs, room

pytestmark = pytest.mark.timeout(120)

# Seconds (production waits 600). A worker's must outlast a second worker's answer to "poll it
# now" (shown "busy"); a killed crawl's is only waited out.
CLAIM_TIMEOUT = 4
CRAWL_CLAIM_TIMEOUT = 2


def _client(var_dir: Path) -> Celery:
    """A Celery client of the workers' embedded broker (files under VAR_DIR/celery)."""
    app = Celery("faults-client")
    app.conf.update(broker_settings(redis_url="", queue_dir=var_dir / "celery"))
    app.conf.update(accept_content=["json"], task_serializer="json", result_serializer="json")
    make_broker_folders(app.conf)
    return app


def _changed_server(network, db: SharedDatabase, env: dict[str, str]) -> FakeSogs:
    """A known, curated server whose next poll has work to do: a renamed room and a new one."""
    server = network(FakeSogs([room("lobby"), room("dev")]))
    crawl(env, server.join_link("lobby"))
    curate(db)
    server.rooms[0]["name"] = "Renamed"
    server.rooms.append(room("new"))
    server.add_room_routes(server.rooms[-1])
    return server


def _completed(db: SharedDatabase, curated: list[tuple]) -> None:
    """The work of the killed poll, done once: every room, one row each, curation intact."""
    assert db.rows("SELECT last_poll_status, polling_started_at FROM directory_server") == [
        ("ok", None)
    ]
    assert db.rows("SELECT token_key, name FROM directory_room ORDER BY token_key") == [
        ("dev", "Dev"),
        ("lobby", "Renamed"),
        ("new", "New"),
    ]
    assert duplicate_rooms(db) == []
    assert [row for row in curated_fields(db) if row[3] != "new"] == curated


def test_a_worker_killed_mid_poll_leaves_no_server_in_progress(shared_database, network, tmp_path):
    db = shared_database
    var = tmp_path / "var"
    env = django_env(db.url, var, CRAWLER_CLAIM_TIMEOUT=CLAIM_TIMEOUT)
    server = _changed_server(network, db, env)
    curated = curated_fields(db)
    pubkey = server.pubkey
    before = server_state(db, pubkey)
    opened = hold(server)  # the poll stops at /rooms: the worker is mid-poll
    app = _client(var)
    pk = before[0][0]
    try:
        with Processes(tmp_path) as processes:
            for name in ("one", "two"):
                processes.start(name, celery_worker(name), env)
            for name in ("one", "two"):
                processes.wait_for_output(name, r"ready\.", timeout=60)
            asked_at = time.time()
            task = app.send_task("crawler.poll_server", args=[pk])
            wait_for(lambda: server.server.hits["/rooms"] > 1, 30, "the poll to reach /rooms")
            polling = next(name for name in ("one", "two") if task.id in processes.output(name))
            processes.kill(polling)  # SIGKILL to the worker and its pool
            opened.set()  # the server answers, to nobody
            assert server_state(db, pubkey) == before  # nothing of the poll was stored
            assert db.value("SELECT polling_started_at FROM directory_server") is not None

            # The survivor is asked again and again: "busy" while the claim is fresh, then it
            # takes the stale claim over and completes the poll.
            answers = []
            while not answers or answers[-1][1] == "busy":
                assert time.time() < asked_at + CLAIM_TIMEOUT + 30, answers
                answer = app.send_task("crawler.poll_server", args=[pk]).get(timeout=30)
                answers.append((time.time(), answer))
                time.sleep(0.3)
            processes.stop(timeout=1)  # no need to wait for a graceful shutdown
    finally:
        opened.set()
    assert answers[0][1] == "busy"
    assert answers[-1][1] == "ok"
    assert answers[-1][0] >= asked_at + CLAIM_TIMEOUT  # not before the claim went stale
    _completed(db, curated)


def test_a_crawl_killed_mid_way_is_closed_and_its_servers_taken_over(
    shared_database, network, tmp_path
):
    db = shared_database
    env = django_env(db.url, tmp_path / "var", CRAWLER_CLAIM_TIMEOUT=CRAWL_CLAIM_TIMEOUT)
    server = _changed_server(network, db, env)
    curated = curated_fields(db)
    before = server_state(db, server.pubkey)
    opened = hold(server)
    try:
        with Processes(tmp_path) as processes:
            processes.start("crawl", [sys.executable, "manage.py", "crawl"], env)
            wait_for(lambda: server.server.hits["/rooms"] > 1, 30, "the crawl to reach /rooms")
            killed_at = time.time()
            processes.kill("crawl")
    finally:
        opened.set()
    assert server_state(db, server.pubkey) == before
    assert db.rows("SELECT status FROM directory_crawlrun ORDER BY id") == [
        ("finished",),
        ("running",),  # for ever, unless someone closes it
    ]
    wait_for(lambda: time.time() > killed_at + CRAWL_CLAIM_TIMEOUT, 10, "the claim to go stale")
    crawl(env)
    runs = db.rows("SELECT status, servers_ok, errors FROM directory_crawlrun ORDER BY id")
    assert [run[:2] for run in runs] == [("finished", 1), ("failed", 0), ("finished", 1)]
    assert "abandoned" in str(runs[1][2])
    _completed(db, curated)
