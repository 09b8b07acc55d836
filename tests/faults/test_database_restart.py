"""PostgreSQL restarted in the middle of a crawl (a private cluster, really restarted): the crawl
reconnects, reports the servers it could not store while the database was down, stores the ones
that answer after it is back, leaves no server half-written and loses no curated field; the next
crawl completes."""

from __future__ import annotations

import sys

import pytest

from tests.faults.conftest import (
    SharedDatabase,
    crawl,
    curate,
    curated_fields,
    duplicate_rooms,
    hold,
    server_state,
    waiting_on_a_lock,
)
from tests.support.processes import Processes, django_env, wait_for
from tests.support.sogs import FakeSogs, room

pytestmark = pytest.mark.timeout(150)


def _renamed(db: SharedDatabase, server: FakeSogs) -> bool:
    return bool(
        db.rows(
            "SELECT 1 FROM directory_room r JOIN directory_server s ON s.id = r.server_id"
            " WHERE s.pubkey = %s AND r.token_key = 'lobby' AND r.name = 'Renamed'",
            server.pubkey,
        )
    )


def _lock_room(db: SharedDatabase, server: FakeSogs, token_key: str):
    """A moderator's transaction holding one room row: the crawl's store of that server stops
    inside its transaction, where the restart finds it."""
    connection = db.connect()
    connection.execute("BEGIN")
    connection.execute(
        "SELECT r.id FROM directory_room r JOIN directory_server s ON s.id = r.server_id"
        " WHERE s.pubkey = %s AND r.token_key = %s FOR UPDATE OF r",
        (server.pubkey, token_key),
    )
    return connection


def _servers(network, db: SharedDatabase, env: dict[str, str], **groups: int) -> dict:
    """Servers of two rooms each, in named groups, crawled once and curated; then each gets a
    renamed room and a new one, for the crawl under test to write."""
    servers = {
        name: [network(FakeSogs([room("lobby"), room("dev")])) for _ in range(size)]
        for name, size in groups.items()
    }
    everyone = [server for group in servers.values() for server in group]
    crawl(env, *[server.join_link("lobby") for server in everyone])
    curate(db)
    for server in everyone:
        server.rooms[0]["name"] = "Renamed"
        server.rooms.append(room("new"))
        server.add_room_routes(server.rooms[-1])
    return servers


def _last_run(db: SharedDatabase) -> tuple:
    return db.rows(
        "SELECT status, servers_ok, servers_failed, errors FROM directory_crawlrun"
        " ORDER BY id DESC LIMIT 1"
    )[0]


def _all_kept(db: SharedDatabase, curated: list[tuple], servers: int) -> None:
    """Every curated field as it was, one row per room, no claim left, all rooms written."""
    assert [row for row in curated_fields(db) if row[3] != "new"] == curated
    assert duplicate_rooms(db) == []
    assert not db.value(
        "SELECT COUNT(*) FROM directory_server WHERE polling_started_at IS NOT NULL"
    )
    assert db.value("SELECT COUNT(*) FROM directory_room WHERE token_key = 'new'") == servers


def test_a_restart_while_servers_are_polled_costs_no_server(
    private_postgres, postgres_cluster, network, tmp_path
):
    db = private_postgres
    env = django_env(db.url, tmp_path / "var", CRAWLER_DEADLINE=30)
    servers = _servers(network, db, env, first=1, held=2)
    curated = curated_fields(db)
    held = [hold(server) for server in servers["held"]]
    try:
        with Processes(tmp_path) as processes:
            processes.start("crawl", [sys.executable, "manage.py", "crawl"], env)
            wait_for(lambda: _renamed(db, servers["first"][0]), 30, "the first store")
            postgres_cluster.restart()  # the crawl's connection dies with the old server
            for opened in held:
                opened.set()
            assert processes.started["crawl"].wait(60) == 0, processes.output("crawl")[-3000:]
    finally:
        for opened in held:
            opened.set()
    assert _last_run(db)[:3] == ("finished", 3, 0)
    assert all(_renamed(db, server) for server in servers["held"])
    _all_kept(db, curated, servers=3)


def test_servers_polled_while_the_database_is_down_are_reported_and_kept_whole(
    private_postgres, postgres_cluster, network, tmp_path
):
    """Servers by when their poll completes: before the database goes down ("before"), being
    stored when it does ("mid", held inside its transaction by a moderator's row lock), while it
    is down ("down"), after it is back ("after")."""
    db = private_postgres
    env = django_env(db.url, tmp_path / "var", CRAWLER_DEADLINE=30)
    groups = _servers(network, db, env, before=2, mid=1, down=2, after=2)
    everyone = [server for servers in groups.values() for server in servers]
    curated = curated_fields(db)
    assert len(curated) == 14
    before = {server.pubkey: server_state(db, server.pubkey) for server in everyone}
    late = groups["mid"] + groups["down"] + groups["after"]
    held = {server.pubkey: hold(server) for server in late}
    proofs = {server.pubkey: server.server.hits["/oxen/v4/lsrpc"] for server in everyone}
    (mid,) = groups["mid"]
    failing = [server.pubkey[:8] for server in [mid, *groups["down"]]]
    lock = _lock_room(db, mid, "dev")
    try:
        with Processes(tmp_path) as processes:
            processes.start("crawl", [sys.executable, "manage.py", "crawl"], env)
            wait_for(lambda: all(_renamed(db, s) for s in groups["before"]), 30, "first stores")
            held[mid.pubkey].set()
            wait_for(lambda: waiting_on_a_lock(db), 30, "a store waiting on the locked room")
            for server in groups["down"]:
                held[server.pubkey].set()
            wait_for(
                lambda: all(
                    s.server.hits["/oxen/v4/lsrpc"] > proofs[s.pubkey] for s in groups["down"]
                ),
                30,
                "the polls finishing while the database is busy",
            )
            postgres_cluster.stop("fast")  # every session ends; the store in progress too
            wait_for(
                lambda: all(key in processes.output("crawl") for key in failing),
                30,
                "the crawl to give up storing the servers polled while the database was down",
            )
            postgres_cluster.start()
            for server in groups["after"]:
                held[server.pubkey].set()
            assert processes.started["crawl"].wait(60) == 0, processes.output("crawl")[-3000:]
    finally:
        for opened in held.values():
            opened.set()
        lock.close()

    status, ok, failed, errors = _last_run(db)
    assert (status, ok, failed) == ("finished", 4, 3)
    assert all(any(key in error for error in errors) for key in failing)
    for server in [mid, *groups["down"]]:  # not a row of what that poll found was kept
        assert server_state(db, server.pubkey) == before[server.pubkey]
    assert all(_renamed(db, server) for server in groups["before"] + groups["after"])

    crawl(env)
    assert _last_run(db)[:3] == ("finished", 7, 0)
    assert all(_renamed(db, server) for server in everyone)
    _all_kept(db, curated, servers=7)
