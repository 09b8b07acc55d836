"""Real processes for fault tests: a private PostgreSQL cluster, `manage.py` commands, the web
server, Celery workers and beats. Each process leads its own process group, so a kill reaches
its children too.

    cluster = PostgresCluster.create(postgres_bin())   # initdb + start: temp folder, free port
    cluster.restart()                                  # pg_ctl restart -m fast: sessions die
    with Processes(tmp_path) as processes:             # all ended on leaving, whatever happened
        processes.start("one", celery_worker("one"), django_env(url, tmp_path / "var"))
        processes.wait_for_output("one", r"ready")
        processes.kill("one")                          # SIGKILL to the whole group
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Self

from tests.conftest import REPO

# --- PostgreSQL -------------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries installed (Debian layout), or None."""
    found = []
    for folder in Path("/usr/lib/postgresql").glob("*/bin"):
        version = folder.parent.name
        if version.isdigit() and (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            found.append((int(version), folder))
    return max(found)[1] if found else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresCluster:
    """A throwaway cluster of our own: data, unix socket and log in a temp folder, TCP on
    127.0.0.1 at a free port, trust authentication for the `postgres` role. initdb refuses to
    run as root, so as root every server tool runs as the `postgres` OS user."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self._owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self._owner is not None:
            os.chown(self.root, self._owner.pw_uid, self._owner.pw_gid)

    @classmethod
    def create(cls, bin_dir: Path) -> PostgresCluster:
        cluster = cls(bin_dir)
        try:
            cluster._tool(
                "initdb", "-D", cluster.data, "-U", "postgres", "-A", "trust", "--no-sync",
                "-E", "UTF8", "--locale=C",
            )  # fmt: skip
            cluster.start()
        except BaseException:
            cluster.destroy()
            raise
        return cluster

    def _tool(self, name: str, *args: object) -> str:
        """Run a server tool as the cluster's owner."""
        argv = [str(self.bin_dir / name), *map(str, args)]
        if self._owner is not None:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{name} failed: {done.stdout}{done.stderr}{self.log_tail()}")
        return done.stdout

    def _pg_ctl(self, action: str, *args: object) -> None:
        self._tool("pg_ctl", action, "-D", self.data, "-w", "-t", "30", *args)

    def _options(self) -> str:
        # Durability is not what these tests are about: no fsync keeps them fast.
        return (
            f"-p {self.port} -h 127.0.0.1 -k {self.root} "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )

    def start(self) -> None:
        self._pg_ctl("start", "-l", self.log, "-o", self._options())

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session (open transactions are rolled back); `immediate` does not
        even shut down cleanly, as a crash would."""
        self._pg_ctl("stop", "-m", mode)

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every session ends, the server is back when this returns."""
        self._pg_ctl("restart", "-m", "fast", "-l", self.log, "-o", self._options())

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres", *, autocommit: bool = True):
        import psycopg

        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database,
            autocommit=autocommit, connect_timeout=10,
        )  # fmt: skip

    def create_database(self, name: str, template: str | None = None) -> None:
        from psycopg import sql

        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with self.connect() as connection:
            connection.execute(query)

    def log_tail(self, size: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.stop("immediate")  # fails when never started, or already down
        shutil.rmtree(self.root, ignore_errors=True)


# --- Django and Celery processes --------------------------------------------------------------


def django_env(database_url: str, var_dir: Path, **settings: object) -> dict[str, str]:
    """The environment of a directory process on `database_url`, keeping its files (embedded
    broker queues, cache, keys, beat schedule) in `var_dir`; `settings` are more env vars.
    The crawler may reach loopback (where the simulated servers live)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="directory.settings",
        DATABASE_URL=database_url,
        VAR_DIR=str(var_dir),
        READ_DOT_ENV_FILE="false",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="INFO",
        CRAWLER_ALLOW_PRIVATE_ADDRESSES="true",
        CRAWLER_PROBE_DEADLINES="1,1,1.5",
    )
    env.update({name: str(value) for name, value in settings.items()})
    return env


def production_env(var_dir: Path, **settings: object) -> dict[str, str]:
    """`django_env` on a SQLite file in `var_dir`, configured as docker-compose runs the web
    server: DEBUG off, a real secret key, behind a TLS proxy with the HTTPS redirect on."""
    return django_env(
        f"sqlite:///{var_dir / 'db.sqlite3'}",
        var_dir,
        DEBUG="false",
        SECRET_KEY="a-real-secret-key-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1",
        BEHIND_TLS_PROXY="true",
        SECURE_SSL_REDIRECT="true",
        **settings,
    )


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `manage.py` to the end; the caller checks the outcome."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def web_server(port: int, *, workers: int = 1, threads: int = 1) -> list[str]:
    """The web server as docker-compose runs it (granian, WSGI) on a loopback port."""
    return [
        sys.executable, "-m", "granian", "--interface", "wsgi", "directory.wsgi:application",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--blocking-threads", str(threads), "--no-access-log",
    ]  # fmt: skip


def celery_worker(name: str, *, concurrency: int = 1) -> list[str]:
    """A worker as the Procfile starts one (prefork), quieter: no gossip, mingle or heartbeat."""
    return [
        sys.executable, "-m", "celery", "-A", "directory", "worker", "--loglevel", "INFO",
        "--pool", "prefork", "--concurrency", str(concurrency), "--hostname", f"{name}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip


def celery_beat(schedule_file: Path) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "directory", "beat", "--loglevel", "INFO",
        "--schedule", str(schedule_file), "--max-interval", "1",
    ]  # fmt: skip


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    """Poll `condition` until it returns something true; fail with `what` after `timeout`."""
    limit = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > limit:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


class Processes:
    """Processes started for a test, each its own process group with its output in a file;
    leaving the block ends every one still running (SIGTERM, then SIGKILL)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: dict[str, subprocess.Popen] = {}
        self._ended: set[str] = set()  # groups already killed: their ids are not signalled again

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        with open(self.log_dir / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                argv,
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a kill reaches its children
            )
        self.started[name] = process
        return process

    def output(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def wait_for_output(self, name: str, pattern: str, timeout: float = 30) -> None:
        process = self.started[name]

        def seen() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"{name} exited early:\n{self.output(name)[-3000:]}")
            return re.search(pattern, self.output(name)) is not None

        wait_for(seen, timeout, f"{pattern!r} from {name}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the process's whole group and wait for the leader to end."""
        process = self.started[name]
        _signal_group(process, sig)
        process.wait(timeout=30)
        if sig == signal.SIGKILL:
            self._ended.add(name)

    def stop(self, names: Iterable[str] | None = None, timeout: float = 10) -> None:
        wanted = self.started if names is None else names
        names = [name for name in wanted if name not in self._ended]
        for name in names:
            _signal_group(self.started[name], signal.SIGTERM)
        limit = time.monotonic() + timeout
        for name in names:
            process = self.started[name]
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, limit - time.monotonic()))
            _signal_group(process, signal.SIGKILL)  # stragglers, and children left behind
            process.wait(timeout=10)
            self._ended.add(name)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
        os.killpg(process.pid, sig)  # the group we created: its id is the leader's pid
