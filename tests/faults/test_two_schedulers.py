"""Two workers and two beats started by mistake (real processes, a 2-second poll schedule): every
poll is sent twice, yet no server is ever polled by two pollers at once, and every server is
polled. The simulated servers record when each request began and ended."""

from __future__ import annotations

import itertools
import re

import pytest

from tests.faults.conftest import crawl, duplicate_rooms, record_spans
from tests.support.processes import Processes, celery_beat, celery_worker, django_env, wait_for
from tests.support.sogs import FakeSogs, room

pytestmark = pytest.mark.timeout(120)

SERVERS = 4
POLLS = 3  # polls of every server (each sent twice) before the processes are stopped


def _overlaps(spans: list[tuple[float, float]]) -> list[tuple]:
    """Pairs of requests to one server in flight at the same time: one poller sends one request
    at a time to a host, so any such pair is two pollers at once."""
    spans = sorted(spans)
    return [(a, b) for a, b in itertools.pairwise(spans) if b[0] < a[1]]


def test_two_workers_and_two_beats_never_poll_a_server_twice_at_once(
    shared_database, network, tmp_path
):
    db = shared_database
    var = tmp_path / "var"
    env = django_env(db.url, var, CRAWLER_POLL_INTERVAL_MINUTES=0.03)
    servers = [network(FakeSogs([room("lobby"), room("dev")])) for _ in range(SERVERS)]
    crawl(env, *[server.join_link("lobby") for server in servers])
    spans = {server.pubkey: record_spans(server, delay=0.2) for server in servers}
    seeded = {server.pubkey: server.server.hits["/rooms"] for server in servers}

    def polls(server: FakeSogs) -> int:
        return server.server.hits["/rooms"] - seeded[server.pubkey]

    with Processes(tmp_path) as processes:
        for name in ("one", "two"):
            processes.start(f"worker-{name}", celery_worker(name, concurrency=2), env)
            processes.start(f"beat-{name}", celery_beat(var / f"beat-{name}"), env)
        wait_for(lambda: all(polls(server) >= POLLS for server in servers), 60, f"{POLLS} polls")
        processes.stop(timeout=1)
        logs = [processes.output(f"worker-{name}") for name in ("one", "two")]

    assert {server.pubkey: _overlaps(spans[server.pubkey]) for server in servers} == {
        server.pubkey: [] for server in servers
    }
    sent = sum(len(re.findall(r"crawler\.poll_server\[[-0-9a-f]+\] received", log)) for log in logs)
    busy = sum(log.count("'busy'") for log in logs)
    done = sum(polls(server) for server in servers)
    print(f"{sent} poll tasks received, {busy} found the server busy, {done} polls done")
    assert busy > 0  # the duplicate polls really came, and the claims turned them away
    assert duplicate_rooms(db) == []
    assert not db.value("SELECT COUNT(*) FROM directory_server WHERE last_poll_status <> 'ok'")
