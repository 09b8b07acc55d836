"""Celery tasks of the core app: thin doors into service functions."""

from __future__ import annotations

from celery import shared_task

from directory.models import Room


@shared_task(name="directory.ping")
def ping(payload: str = "ping") -> dict:
    """A round trip through the broker, a worker and the result backend (health and tests)."""
    return {"echo": payload, "rooms": Room.objects.count()}
