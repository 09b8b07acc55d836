"""`manage.py crawl --source http://127.0.0.1:PORT/page` as an operator runs it (environment
variables, its own database), directly and through CRAWLER_PROXY: the same rooms."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
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


def on_a_terminal(*args: str, var: Path, **env: str) -> tuple[int, str]:
    """Run `manage.py` with its standard output on a pseudo-terminal (its logs to a file):
    the exit code and everything the terminal showed."""
    environment = processes.django_env(f"sqlite:///{var / 'db.sqlite3'}", var, **env)
    master, slave = os.openpty()
    with open(var / "stderr.log", "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=processes.REPO,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=stderr,
        )
    os.close(slave)
    shown = bytearray()
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the command closed the terminal
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(master)
    return process.wait(timeout=120), shown.decode()


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def three_servers(sogs, legacy_sogs, page) -> str:
    """A source with a modern, a legacy and a dead server: one of three fails."""
    dead = f"http://127.0.0.1:{_closed_port()}/gone?public_key={'cd' * 32}"
    links = f"{sogs([room('lobby')]).join_link('lobby')} {legacy_sogs().join_link('main')} {dead}"
    return page(links, "text/plain")


@pytest.mark.django_db(transaction=True)
def test_on_a_terminal_the_crawl_shows_its_progress_then_the_summary(tmp_path, three_servers):
    migrated_database(tmp_path / "db.sqlite3")
    code, shown = on_a_terminal("crawl", "--source", three_servers, var=tmp_path)
    assert code == 0, (tmp_path / "stderr.log").read_text()[-2000:]
    matches = list(re.finditer(r"\rPolling servers: (\d+)/(\d+), (\d+) failed", shown))
    states = [match.groups() for match in matches]
    assert states[-1] == ("3", "3", "1")
    assert [int(stored) for stored, _, _ in states] == sorted(int(s) for s, _, _ in states)
    progress_end = matches[-1].end()
    summary = shown.index("Crawl ")
    assert summary > progress_end  # the summary comes after the progress line ...
    assert shown[progress_end:summary].strip(" \r") == ""  # ... which was cleared first
    assert "2 servers ok, 1 failed" in shown


@pytest.mark.django_db(transaction=True)
def test_in_a_pipe_the_crawl_prints_only_the_summary(tmp_path, three_servers):
    migrated_database(tmp_path / "db.sqlite3")
    result = manage("crawl", "--source", three_servers, var=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "\r" not in result.stdout and "Polling servers" not in result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Crawl ") and "2 servers ok, 1 failed" in lines[0]
    assert all(line.startswith("  ") for line in lines[1:])  # then the errors, indented
    assert len(lines) >= 2
