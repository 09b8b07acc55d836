"""`make bench-api`: the listing provider under granian with 2,000 rooms and 50 clients.

    .venv/bin/python tests/bench/bench_api.py [--rooms 2000] [--clients 50] [--seconds 10]

Builds a throw-away directory (SQLite and a file cache in a temporary VAR_DIR, or
BENCH_DATABASE_URL / BENCH_REDIS_URL), fills it with copies of the demo snapshot's rooms, starts
the web server (granian, as docker-compose runs it) on a loopback port and drives it with wrk
(keep-alive connections, see tests/bench/wrk.py). It prints requests per second and latency
(p50, p99) for `GET /listing/all` (cached), the same gzip-encoded, a 304 revalidation and the
same request through `POST /oxen/v4/lsrpc` (both schemes, requests built as a Session client
builds them), and the onion/direct cost ratios. Before the clock starts, one onion reply of each
kind is decrypted and compared byte for byte with the direct body. Throttling is off: this
measures serving, not the limiter. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.wrk import WrkResult, ensure_wrk, run_wrk  # noqa: E402 - after the path
from tests.support.processes import free_port, wait_for, web_server  # noqa: E402

SNAPSHOT = REPO / "fixtures" / "snapshot" / "servers.json"


# --- the server side ----------------------------------------------------------------------


def bench_environment(var_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "directory.settings",
            "READ_DOT_ENV_FILE": "false",
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback, no TLS proxy in front
            "SECRET_KEY": secrets.token_urlsafe(40),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "VAR_DIR": str(var_dir),
            "DATABASE_URL": os.environ.get(
                "BENCH_DATABASE_URL", f"sqlite:///{var_dir / 'db.sqlite3'}"
            ),
            "REDIS_URL": os.environ.get("BENCH_REDIS_URL", ""),
            "LP_THROTTLE_RATE": "",
            "LP_ONION_THROTTLE_RATE": "",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def prepare_database(env: dict[str, str], rooms: int) -> None:
    """Migrate and fill the throw-away database (in a child process: its own settings)."""
    code = f"from tests.bench.bench_api import seed; seed({rooms})"
    subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, check=True)


def seed(rooms: int) -> None:
    """Import the snapshot, then add servers whose rooms copy the real ones up to `rooms`."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from directory.formats.snapshot import import_snapshot
    from directory.models import Room, RoomTag, Server

    call_command("migrate", verbosity=0)
    import_snapshot(SNAPSHOT)
    templates = list(Room.objects.all())
    tags = list(RoomTag.objects.values_list("room_id", "tag_id", "origin"))
    tags_by_room: dict[int, list[tuple[int, str]]] = {}
    for room_id, tag_id, origin in tags:
        tags_by_room.setdefault(room_id, []).append((tag_id, origin))
    now = timezone.now()
    copies: list[tuple[Room, Room]] = []
    while len(templates) + len(copies) < rooms:
        server = Server.objects.create(pubkey=secrets.token_hex(32), last_seen=now)
        for number, template in enumerate(templates[: rooms - len(templates) - len(copies)]):
            room = Room(
                **{field: getattr(template, field) for field in Room.CRAWLED_FIELDS},
                server=server,
                language=template.language,
            )
            room.token = f"{template.token[:50]}-{number}"  # real tokens repeat across servers
            room.token_key = room.token.lower()
            copies.append((template, room))
    Room.objects.bulk_create([room for _, room in copies], batch_size=500)
    RoomTag.objects.bulk_create(
        [
            RoomTag(room=room, tag_id=tag_id, origin=origin)
            for template, room in copies
            for tag_id, origin in tags_by_room.get(template.pk, [])
        ],
        batch_size=1000,
    )
    _seed_activity(Room.objects.all(), now)
    print(f"seeded {Room.objects.public().count()} public rooms", flush=True)


def _seed_activity(rooms, now) -> None:
    from datetime import timedelta

    from directory.models import RoomActivity

    RoomActivity.objects.bulk_create(
        [
            RoomActivity(room=room, at=now - timedelta(days=days), message_sequence=seq)
            for room in rooms
            for days, seq in (
                (6, room.message_sequence or 0),
                (0, (room.message_sequence or 0) + 700),
            )
        ],
        batch_size=2000,
    )


def start_server(env: dict[str, str], port: int, workers: int, threads: int) -> subprocess.Popen:
    """The web server as docker-compose runs it (granian), answering on `port`."""
    server = subprocess.Popen(web_server(port, workers=workers, threads=threads), env=env, cwd=REPO)

    def answers() -> bool:
        try:
            return fetch("127.0.0.1", port, "GET", "/listings")[0] == 200
        except OSError:
            return False

    try:
        wait_for(answers, 30, "the web server to answer")
    except AssertionError as timed_out:
        server.terminate()
        raise SystemExit(str(timed_out)) from None
    return server


def fetch(host: str, port: int, method: str, path: str, body: bytes | None = None):
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# --- the client side ----------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str = "/listing/all"
    headers: tuple[tuple[str, str], ...] = ()
    onion: str = ""  # "", "aes-gcm" or "xchacha20"


def onion_bodies(pubkey: str, scenario: Scenario, count: int = 64) -> tuple[list[bytes], list]:
    """Envelopes as a Session client builds them, each with its own ephemeral key."""
    from directory.lib import onion

    bodies, sessions = [], []
    for _ in range(count):
        payload = onion.build_v4_request("GET", scenario.path, dict(scenario.headers))
        body, session = onion.build_request(pubkey, payload, onion.EncType(scenario.onion))
        bodies.append(body)
        sessions.append(session)
    return bodies, sessions


def check_onion(port: int, scenario: Scenario, bodies, sessions, direct: bytes) -> None:
    """The onion reply decrypts to the direct body, byte for byte."""
    from directory.lib import onion

    status, data = fetch("127.0.0.1", port, "POST", "/oxen/v4/lsrpc", bodies[0])
    reply = onion.parse_v4_response(sessions[0].decrypt_response(data))
    if status != 200 or reply.status != 200 or reply.body != direct:
        raise SystemExit(f"{scenario.name}: the onion reply differs from the direct GET")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--threads", type=int, default=1, help="per worker")
    args = parser.parse_args()

    ensure_wrk()
    var_dir = Path(tempfile.mkdtemp(prefix="bench-api-"))
    env = bench_environment(var_dir)
    server = None
    try:
        prepare_database(env, args.rooms)
        port = free_port()
        server = start_server(env, port, args.workers, args.threads)
        report(port, env, args)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        shutil.rmtree(var_dir, ignore_errors=True)


def report(port: int, env: dict[str, str], args) -> None:
    _, body = fetch("127.0.0.1", port, "GET", "/listing/all")  # builds the cache
    _, summary = fetch("127.0.0.1", port, "GET", "/listings")
    rooms = len(json.loads(body)["rooms"])
    pubkey = subprocess.run(
        [sys.executable, "manage.py", "lp_keys"], env=env, cwd=REPO, check=True,
        capture_output=True, text=True,
    ).stdout.split()[2]  # fmt: skip
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", "/listing/all")
    etag = connection.getresponse().getheader("ETag")
    connection.close()
    zipped = len(gzip.compress(body, compresslevel=6))
    print(
        f"GET /listing/all: {rooms} rooms, {len(body) / 1e6:.2f} MB ({zipped / 1e6:.2f} MB gzip);"
        f" granian {args.workers} workers x {args.threads} thread(s);"
        f" wrk, {args.seconds:g} s per line;"
        f" {os.cpu_count()} CPUs shared by server and load",
        flush=True,
    )
    gzip_header = (("Accept-Encoding", "gzip"),)
    direct = Scenario("GET /listing/all (cached)")
    scenarios = [
        direct,
        Scenario("GET /listing/all gzip", headers=gzip_header),
        Scenario("GET /listing/all -> 304", headers=(("If-None-Match", etag),)),
        Scenario("onion /listing/all aes-gcm", onion="aes-gcm"),
        Scenario("onion /listing/all xchacha20", onion="xchacha20"),
        Scenario("GET /listings", path="/listings"),
        Scenario("onion /listings aes-gcm", path="/listings", onion="aes-gcm"),
    ]
    prepared = {}
    for scenario in scenarios:
        if scenario.onion:
            bodies, sessions = onion_bodies(pubkey, scenario)
            expected = summary if scenario.path == "/listings" else body
            check_onion(port, scenario, bodies, sessions, expected)
            prepared[scenario.name] = bodies
    results: dict[tuple[str, int], WrkResult] = {}
    for clients in (1, args.clients):
        print(f"-- {clients} concurrent client(s)", flush=True)
        for scenario in scenarios:
            result = run_wrk(
                scenario.name,
                f"http://127.0.0.1:{port}{'/oxen/v4/lsrpc' if scenario.onion else scenario.path}",
                connections=clients,
                seconds=args.seconds,
                headers=None if scenario.onion else dict(scenario.headers),
                bodies=prepared.get(scenario.name),
            )
            results[scenario.name, clients] = result
            print(result.line(), flush=True)
    print("-- ratios (onion / direct, time per request = 1 / throughput)")
    for clients in (1, args.clients):
        for onion_name, direct_name in [
            ("onion /listing/all aes-gcm", direct.name),
            ("onion /listing/all xchacha20", direct.name),
            ("onion /listings aes-gcm", "GET /listings"),
        ]:
            through, plain = results[onion_name, clients], results[direct_name, clients]
            print(
                f"{onion_name:<42} {clients:>3} clients: cost x{plain.rps / through.rps:.2f}"
                f"  p50 x{through.p50 / plain.p50:.2f}  p99 x{through.p99 / plain.p99:.2f}"
            )
        revalidation = results["GET /listing/all -> 304", clients]
        full = results[direct.name, clients]
        print(f"{'304 revalidation / full GET':<42} {clients:>3} clients: cost x"
              f"{full.rps / revalidation.rps:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
