"""Benchmark the home page with 2,000 rooms: median time when cached, and HTML bytes per room.

Runs on a throwaway SQLite database and file cache in a temporary directory (`make bench-web`),
so it never touches the development data. Prints the figures and exits non-zero when the cached
median is over 30 ms or a room costs more HTML than the reference directory's (146 KB / 97 rooms).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOMS = 2000
SERVERS = 40
REQUESTS = 200
LIMIT_MS = 30.0
REFERENCE_BYTES_PER_ROOM = 146 * 1024 / 97


def configure(workdir: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="directory.settings",
        DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}",
        VAR_DIR=str(workdir),
        STATIC_ROOT=str(workdir / "static"),
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", ""),
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",  # plain HTTP on loopback, no TLS proxy in front
        SECRET_KEY="bench-only-secret-key-not-used-anywhere-else-0123456789",
        ALLOWED_HOSTS="testserver",
        READ_DOT_ENV_FILE="false",
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)


def populate() -> None:
    from django.utils import timezone

    from directory.models import Room, RoomActivity, RoomTag, Server, ServerAddress, Tag

    now = timezone.now()
    servers = Server.objects.bulk_create(
        Server(pubkey=f"{i:064x}", last_poll_status="ok", last_poll_at=now) for i in range(SERVERS)
    )
    for i, server in enumerate(servers):
        address = ServerAddress.objects.create(
            server=server, scheme="https", host=f"sogs{i}.example.org", port=443
        )
        Server.objects.filter(pk=server.pk).update(preferred_address=address)
    tags = Tag.objects.bulk_create(Tag(slug=f"tag{i}", label=f"tag {i}") for i in range(30))
    rooms = Room.objects.bulk_create(
        Room(
            server=servers[i % SERVERS],
            token=f"room{i}",
            token_key=f"room{i}",
            name=f"Community number {i}",
            language=("en", "de", "fr", "")[i % 4],
            description="A friendly place to talk about things and stuff. " * 3,
            active_users=i % 500,
            active_users_weekly=i % 500,
            last_seen=now,
            age_rating=("sfw", "unrated", "nsfw")[i % 3 if i % 10 == 0 else 1],
        )
        for i in range(ROOMS)
    )
    RoomTag.objects.bulk_create(
        RoomTag(room=room, tag=tags[(i + k) % 30], origin="derived")
        for i, room in enumerate(rooms)
        for k in range(3)
    )
    RoomActivity.objects.bulk_create(
        RoomActivity(
            room=room,
            at=now - timedelta(days=day),
            active_users=10 + day,
            message_sequence=10_000 - day * 50,
        )
        for room in rooms[:300]
        for day in range(30)
    )


def measure() -> tuple[float, float, int]:
    from django.test import Client

    client = Client()
    start = time.perf_counter()
    first = client.get("/")
    print(f"first (uncached) request: {(time.perf_counter() - start) * 1000:.0f} ms")
    if first.status_code != 200:
        raise SystemExit(f"the home page answered {first.status_code}")
    timings = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        response = client.get("/")
        timings.append((time.perf_counter() - start) * 1000)
    shown = response.content.count(b'<li class="room')
    return statistics.median(timings), len(response.content) / shown, shown


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-web-") as workdir:
        configure(Path(workdir))
        populate()
        median_ms, per_room, shown = measure()
    print(f"home page, {ROOMS} rooms, cached: median {median_ms:.1f} ms over {REQUESTS} requests")
    print(
        f"HTML per listed room: {per_room:.0f} bytes ({shown} rooms on the page; "
        f"reference directory: {REFERENCE_BYTES_PER_ROOM:.0f} bytes)"
    )
    return 0 if median_ms <= LIMIT_MS and per_room < REFERENCE_BYTES_PER_ROOM else 1


if __name__ == "__main__":
    sys.exit(main())
