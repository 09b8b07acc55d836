"""`manage.py crawl --source http://127.0.0.1:PORT/page` as an operator runs it (environment
variables, its own database), directly and through CRAWLER_PROXY: the same rooms."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.support import processes
from tests.support.proxy import LoopbackProxy
from tests.support.sogs import room


def manage(*args: str, var: Path, **env: str) -> subprocess.CompletedProcess:
    """`manage.py` on the SQLite file and the folder `var` alone (no Redis), as an operator."""
    return processes.manage(
        processes.django_env(f"sqlite:///{var / 'db.sqlite3'}", var, **env), *args
    )


def migrated_database(path: Path) -> None:
    """A migrated SQLite file for the command: a copy of the test database's schema when that
    is SQLite (migrating afresh takes many seconds), else a real `migrate`."""
    from django.db import connection

    if connection.vendor == "sqlite":
        connection.ensure_connection()
        target = sqlite3.connect(path)
        try:
            connection.connection.backup(target)
        finally:
            target.close()
    else:
        assert manage("migrate", "--noinput", var=path.parent).returncode == 0


def rooms_in(var: Path) -> set[tuple[str, str, str]]:
    with sqlite3.connect(var / "db.sqlite3") as db:
        rows = db.execute(
            "SELECT s.pubkey, r.token, r.name FROM directory_room r"
            " JOIN directory_server s ON s.id = r.server_id"
        )
        return set(rows)


@pytest.mark.django_db(transaction=True)  # no open transaction: the schema can be copied
def test_crawl_command_direct_and_through_a_proxy_finds_the_same_rooms(
    tmp_path, sogs, legacy_sogs, page
):
    modern = sogs([room("lobby"), room("dev")])
    legacy = legacy_sogs()
    url = page(f"{modern.join_link('lobby')} {legacy.join_link('main')}", "text/plain")
    direct, proxied = tmp_path / "direct", tmp_path / "proxied"
    direct.mkdir()
    migrated_database(direct / "db.sqlite3")
    shutil.copytree(direct, proxied, dirs_exist_ok=True)

    crawled = manage("crawl", "--source", url, var=direct)
    assert crawled.returncode == 0, crawled.stderr[-2000:]
    assert "2 servers ok" in crawled.stdout
    with LoopbackProxy() as proxy:
        through = manage("crawl", "--source", url, var=proxied, CRAWLER_PROXY=proxy.url)
    assert through.returncode == 0, through.stderr[-2000:]
    assert proxy.requests  # the traffic went through the proxy

    found = rooms_in(direct)
    assert len(found) == 3
    assert rooms_in(proxied) == found


def test_crawl_command_exits_non_zero_when_it_cannot_run(tmp_path):
    result = manage("crawl", var=tmp_path, CRAWLER_PROXY="socks5://127.0.0.1:1")
    assert result.returncode != 0
    assert "misconfigured" in result.stderr
