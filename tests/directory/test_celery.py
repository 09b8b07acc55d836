"""A real Celery round trip (broker -> worker -> result backend) on both brokers, not eager."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis
from celery import Celery, shared_task
from celery.contrib.testing.worker import start_worker

from directory.celery import broker_settings, make_broker_folders
from directory.models import Room


@shared_task(name="tests.ping")  # a shared task: registered on every app, the test's own too
def ping(payload: str = "ping") -> dict:
    """A round trip through the broker, a worker (with the database) and the result backend."""
    return {"echo": payload, "rooms": Room.objects.count()}


def _round_trip(conf: dict) -> dict:
    app = Celery("roundtrip")
    app.conf.update(conf, accept_content=["json"], task_serializer="json")
    app.conf.update(broker_connection_retry_on_startup=True)
    make_broker_folders(app.conf)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = app.send_task("tests.ping", args=["hello"])
        return result.get(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_task_round_trip_on_the_embedded_filesystem_broker(tmp_path: Path):
    conf = broker_settings(redis_url="", queue_dir=tmp_path)
    assert conf["broker_url"] == "filesystem://"
    assert _round_trip(conf) == {"echo": "hello", "rooms": 0}
    assert not list((tmp_path / "queue").iterdir())  # the message was consumed


def _redis_url() -> str:
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        if os.environ.get("REDIS_URL"):
            raise  # REDIS_URL is set: Redis must be there
        pytest.skip(f"no Redis at {url} ({error}); set REDIS_URL to require it")
    return url


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_task_round_trip_on_redis(tmp_path: Path):
    conf = broker_settings(redis_url=_redis_url(), queue_dir=tmp_path)
    assert conf["broker_url"].startswith("redis://")
    assert _round_trip(conf) == {"echo": "hello", "rooms": 0}
