"""Fixtures of the website tests: a private cache per test, no broker, rooms with history."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

# Playwright's sync API runs an event loop in this thread; the live server's database use is safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _private_cache(private_cache):
    """Cached pages and rate limits never leak between tests."""


@pytest.fixture(autouse=True)
def sent_tasks(monkeypatch):
    """Tasks the site queues, recorded instead of sent to a broker."""
    from celery import current_app

    sent: list[tuple[str, list]] = []
    monkeypatch.setattr(
        current_app, "send_task", lambda name, args=(), **kw: sent.append((name, list(args)))
    )
    return sent


def add_history(room, days: int = 30, users: int = 10, per_day: int = 40) -> None:
    """One poll a day for ``days`` days, users growing by one, ``per_day`` messages a day."""
    from django.utils import timezone

    from directory.models import RoomActivity

    now = timezone.now()
    RoomActivity.objects.bulk_create(
        RoomActivity(
            room=room,
            at=now - timedelta(days=days - 1 - day, minutes=5),
            active_users=users + day,
            message_sequence=1000 + per_day * day,
        )
        for day in range(days)
    )
