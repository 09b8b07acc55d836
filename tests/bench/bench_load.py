"""`make bench-load`: the whole site under load while a crawl runs.

    .venv/bin/python tests/bench/bench_load.py [--rooms 2000] [--clients 50] [--seconds 30]

A throw-away directory with 2,000 rooms (SQLite in a temporary VAR_DIR, or BENCH_DATABASE_URL /
BENCH_REDIS_URL) is served by granian, as docker-compose runs it. Meanwhile a simulated network
of SOGS servers on loopback (the one `make bench-crawl` uses: live, slow, dead and hostile
servers) is crawled again and again with `manage.py crawl --source`, so the database is written
and the caches change under the load. wrk then drives the home page, a room page and `GET
/listing/all` (the JSON body of 2,000 rooms, gzip as clients ask for it) one after the other,
each with 50 keep-alive connections for 30 s, and the script prints requests/s, p50/p99 latency
and errors for each, and how many crawls ran. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.bench_api import (  # noqa: E402 - after the path
    bench_environment,
    fetch,
    prepare_database,
    start_server,
)
from tests.bench.bench_crawl import _network  # noqa: E402
from tests.bench.wrk import ensure_wrk, run_wrk  # noqa: E402
from tests.support.processes import free_port  # noqa: E402


class CrawlLoop:
    """`manage.py crawl --source` in a loop, in its own process, until stopped."""

    def __init__(self, env: dict[str, str], source_url: str) -> None:
        self.env, self.source_url = env, source_url
        self.runs, self.failures = 0, 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            done = subprocess.run(
                [sys.executable, "manage.py", "crawl", "--source", self.source_url, "-v0"],
                env=self.env,
                cwd=REPO,
                capture_output=True,
                check=False,
            )
            self.runs += 1
            self.failures += done.returncode != 0

    def __enter__(self) -> CrawlLoop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--servers", type=int, default=100, help="simulated SOGS crawled")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--threads", type=int, default=1, help="per worker")
    args = parser.parse_args()

    ensure_wrk()
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    network = context.Process(target=_network, args=(args.servers, 1, theirs), daemon=True)
    network.start()
    source_url, _ = ours.recv()

    var_dir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    env = bench_environment(var_dir)
    env.update(
        CRAWLER_ALLOW_PRIVATE_ADDRESSES="true",
        CRAWLER_PROBE_DEADLINES="1,1,1",
        CRAWLER_DEADLINE="5",
        MEDIA_ROOT=str(var_dir / "media"),
    )
    server = None
    try:
        prepare_database(env, args.rooms)
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            env=env,
            cwd=REPO,
            check=True,
        )
        port = free_port()
        server = start_server(env, port, args.workers, args.threads)
        base = f"http://127.0.0.1:{port}"
        room_path = _a_room_page(base)
        pages = [
            ("home page /", "/", {}),
            (f"room page {room_path[:30]}...", room_path, {}),
            ("GET /listing/all (gzip)", "/listing/all", {"Accept-Encoding": "gzip"}),
        ]
        for _, path, _headers in pages:  # warm the caches, as a running site's are
            fetch("127.0.0.1", port, "GET", path)
        print(
            f"{args.rooms} rooms; granian {args.workers} workers x {args.threads} thread(s); "
            f"{args.clients} connections x {args.seconds:g} s per page; a crawl of "
            f"{args.servers} simulated servers runs in a loop; {os.cpu_count()} CPUs for all",
            flush=True,
        )
        with CrawlLoop(env, source_url) as crawls:
            time.sleep(2)  # the first crawl is under way
            for name, path, headers in pages:
                result = run_wrk(
                    name,
                    base + path,
                    connections=args.clients,
                    seconds=args.seconds,
                    headers=headers,
                )
                print(result.line(), flush=True)
        print(f"crawls during the load: {crawls.runs} ({crawls.failures} failed)")
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        ours.send("stop")
        network.join(timeout=10)
        shutil.rmtree(var_dir, ignore_errors=True)


def _a_room_page(base: str) -> str:
    """The page of the most active room, as a visitor would open it from the home page."""
    import re

    status, body = fetch(base.split("//")[1].split(":")[0], int(base.rsplit(":", 1)[1]), "GET", "/")
    match = re.search(rb'href="(/community/[0-9a-f]{64}/[^"/]+/)"', body)
    if status != 200 or match is None:
        raise SystemExit("no room link on the home page")
    return match.group(1).decode()


if __name__ == "__main__":
    main()
