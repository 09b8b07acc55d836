"""`make bench-crawl`: crawl a simulated network of 300 SOGS on loopback and print the figures.

The network runs in a child process (so its threads and memory are not the crawler's): about 80%
live servers (modern, some legacy, some with icons, some flaky: their first two requests never
get an answer) and 20% misbehaving ones (dead, blackhole, slow drip, malformed JSON, oversized
room list, key mismatch, not a SOGS), each request delayed by a per-server latency of 20-400 ms.
The crawl reads one source page listing every server.

It is crawled twice, on a fresh network each time: with short probe deadlines (2.5 times the
highest latency) and with the settings' default ones (`CRAWLER_PROBE_DEADLINES`). Printed for
each: wall time, the theoretical minimum (the slowest live server's requests times its latency),
their ratio, the bound the hedged probes must meet (1.2 x (2 x the attempt deadline + that
minimum): blackholes end after two deadlines, flaky hosts answer within them), requests made,
peak memory of the crawling process, rooms found/expected, failed servers by kind.
Not collected by pytest.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MISBEHAVIOURS = ("dead", "blackhole", "drip", "malformed", "oversized", "mismatch", "not_sogs")


@dataclass
class SimServer:
    """What the bench knows about one simulated server."""

    kind: str  # "modern", "legacy" or a misbehaviour
    link: str
    latency: float
    live_rooms: list[str]  # lower-case tokens a complete crawl must find
    needed_requests: int  # the fewest requests a crawler needs for this server


def _plan(count: int, seed: int) -> list[tuple[str, float, int, int]]:
    """(kind, latency, rooms, icons) for each server: 20% misbehaving; 10% legacy and 10%
    flaky (modern servers that hang their first two requests)."""
    rng = random.Random(seed)
    plan = []
    for index in range(count):
        latency = rng.uniform(0.02, 0.4)
        if index % 5 == 4:
            kind = MISBEHAVIOURS[(index // 5) % len(MISBEHAVIOURS)]
        else:
            kind = {3: "legacy", 7: "flaky"}.get(index % 10, "modern")
        plan.append((kind, latency, rng.randint(1, 6), rng.randint(0, 2)))
    return plan


def _network(count: int, seed: int, connection) -> None:
    """The child process: start the simulated servers, report them, serve until told to stop."""
    sys.path.insert(0, str(REPO))
    from tests.support.loopback import (
        LoopbackServer,
        blackhole,
        flaky,
        json_reply,
        reply,
        slow_drip,
        stream,
    )
    from tests.support.sogs import FakeLegacySogs, FakeSogs, room

    servers, described = [], []
    for index, (kind, latency, room_count, icons) in enumerate(_plan(count, seed)):
        tokens = [f"room{index}x{number}" for number in range(room_count)]
        if kind == "legacy":
            sim = FakeLegacySogs(
                [{"id": token, "name": token} for token in tokens],
                latency=latency,
                member_counts={token: 3 for token in tokens},
                poll_interval=0.5,
            )
            needed = 2 + 3 * room_count  # capabilities (404), rooms, auth flow per room
        else:
            rooms = [
                room(token, image_id=number + 1 if number < icons else None)
                for number, token in enumerate(tokens)
            ]
            sim = FakeSogs(rooms, latency=latency, poll_interval=0.5)
            needed = 3 + min(icons, room_count)  # capabilities, rooms, v4 proof, icons
        if kind == "flaky":
            caps = json_reply({"capabilities": ["blind", "reactions", "sogs"]})
            sim.server.route("/capabilities", flaky(caps, failures=2))
        _misbehave(sim, kind, blackhole, slow_drip, reply, stream)
        link = sim.join_link(tokens[0])
        if kind == "mismatch":
            link = link.replace(sim.pubkey, f"{index:064x}")
        if kind != "dead":
            servers.append(sim.start())
        live = kind in ("modern", "legacy", "flaky")
        described.append(SimServer(kind, link, latency, tokens if live else [], needed))
    page = LoopbackServer(poll_interval=0.5)
    body = "".join(f"<li><a href='{server.link}'>room</a></li>" for server in described)
    page.route("/list", reply(f"<html><body><ul>{body}</ul></body></html>".encode()))
    page.start()
    connection.send((page.url("/list"), described))
    connection.recv()  # until the bench is done
    for server in servers:
        server.stop()
    page.stop()


def _misbehave(sim, kind, blackhole, slow_drip, reply, stream) -> None:
    routes = sim.server
    if kind == "blackhole":
        routes.route("/capabilities", blackhole())
    elif kind == "drip":
        routes.route("/capabilities", slow_drip(b'{"capabilities": ["sogs"]}', interval=1.0))
    elif kind == "malformed":
        routes.route(
            "/capabilities",
            reply(b'{"capabilities": ["so', headers={"Content-Type": "application/json"}),
        )
        routes.route("/loki/v3/lsrpc", reply(b"<html>bad gateway</html>", 502))
    elif kind == "oversized":
        routes.route("/capabilities", stream(50_000_000, declare_length=False))
        routes.route("/loki/v3/lsrpc", stream(50_000_000, declare_length=False))
    elif kind == "not_sogs":
        routes.route(
            "/capabilities", reply(b"<html>It works!</html>", headers={"Content-Type": "text/html"})
        )
        routes.route("/loki/v3/lsrpc", reply(b"<html>404</html>", 404))


def _setup_django(workdir: Path) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="directory.settings",
        DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}",
        VAR_DIR=str(workdir),
        MEDIA_ROOT=str(workdir / "media"),
        READ_DOT_ENV_FILE="false",
        LOG_LEVEL="ERROR",
    )
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from directory.models import Server, Source

    Source.objects.all().delete()  # the seeded sources and servers are on the real internet
    Server.objects.all().delete()


class CrawlFigures(logging.Filter):
    """Keeps the figures of the "crawl finished" event (requests made are logged, not stored),
    and lets through to the console only what LOG_LEVEL=ERROR would."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() == "crawl finished":
            self.requests = record.requests
        return record.levelno >= logging.ERROR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=0, help="default: one per server")
    parser.add_argument("--only", choices=("short", "default"), help="run one scenario only")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir:
        _setup_django(Path(workdir))
        from crawler.conf import CrawlConfig

        scenarios = {"short": None, "default": CrawlConfig.from_settings().probe_deadlines}
        for name, deadlines in scenarios.items():
            if args.only in (None, name):
                _bench(args, Path(workdir), f"{name} deadline", deadlines)


def _bench(args, workdir: Path, scenario: str, deadlines: tuple[float, ...] | None) -> None:
    """One crawl of a fresh network; `deadlines` None: 2.5 x the highest latency, three times."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=_network, args=(args.servers, args.seed, theirs), daemon=True)
    child.start()
    source_url, described = ours.recv()

    from crawler.conf import CrawlConfig
    from crawler.pipeline import run_crawl
    from directory.lib.http import HttpConfig
    from directory.models import Room, Server

    Server.objects.all().delete()  # the previous scenario's
    max_latency = max(server.latency for server in described)
    config = CrawlConfig.from_settings().with_changes(
        http=HttpConfig(connect_timeout=2.0, deadline=5.0, allow_private_addresses=True),
        concurrency=args.concurrency or args.servers,
        deadline=5.0,
        # Loopback latencies are at most 0.4 s: 2.5 times that per short attempt.
        probe_deadlines=deadlines or (2.5 * max_latency,) * 3,
        key_file=workdir / "key",
    )
    figures = CrawlFigures()
    logging.getLogger("crawler.pipeline").setLevel(logging.INFO)
    logging.getLogger("crawler.pipeline").addFilter(figures)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    run = run_crawl(config, source_urls=[source_url])
    wall = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    found = set(Room.objects.values_list("token_key", flat=True))
    logging.getLogger("crawler.pipeline").removeFilter(figures)

    ours.send("stop")
    child.join(timeout=10)
    print(f"--- {scenario} ---")
    _report(described, run, figures.requests, wall, found, peak, baseline, config)


def _report(described, run, requests, wall, found, peak, baseline, config) -> None:
    from crawler.failures import summary

    live = [server for server in described if server.live_rooms]
    expected = {token for server in live for token in server.live_rooms}
    minimum = max(server.needed_requests * server.latency for server in live)
    kinds: dict[str, int] = {}
    for server in described:
        kinds[server.kind] = kinds.get(server.kind, 0) + 1
    mix = ", ".join(f"{kind} {number}" for kind, number in sorted(kinds.items()))
    deadline = max(config.probe_deadlines)
    deadlines = ", ".join(f"{seconds:.2f}" for seconds in config.probe_deadlines)
    recall = 100 * len(found & expected) / len(expected)
    bound = 1.2 * (2 * deadline + minimum)
    verdict = "within" if wall <= bound else "OVER"
    lines = [
        ("servers", f"{len(described)} ({mix})"),
        ("concurrency", f"{config.concurrency}; probe deadlines {deadlines} s (hedged)"),
        ("wall time", f"{wall:.2f} s"),
        ("theoretical min", f"{minimum:.2f} s (slowest live server: requests x latency)"),
        ("ratio", f"{wall / minimum:.2f} (target <= 1.5 with the short deadline)"),
        ("bound", f"{bound:.2f} s = 1.2 x (2 x {deadline:.2f} s + {minimum:.2f} s): {verdict}"),
        ("requests made", str(requests)),
        ("peak memory", f"{peak / 1024:.0f} MB (crawler process; {baseline / 1024:.0f} MB before)"),
        ("rooms found", f"{len(found & expected)} / {len(expected)} expected ({recall:.1f}%)"),
        ("servers ok/failed", f"{run.servers_ok} / {run.servers_failed}"),
        ("failed, by kind", summary(run.failures) or "none"),
        ("unexpected rooms", str(len(found - expected))),
    ]
    for name, value in lines:
        print(f"{name + ':':<20}{value}")


if __name__ == "__main__":
    main()
