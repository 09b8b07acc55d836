"""Celery beat runs the crawler: servers every 15 minutes, sources every 6 hours, pruning hourly."""

from __future__ import annotations

import pytest
from django.conf import settings

import crawler.tasks  # noqa: F401  (registers the tasks)
from crawler.pipeline import fetch_sources_now
from directory.celery import app
from directory.models import Room, Source
from tests.support.sogs import room


def test_the_schedule_names_registered_crawler_tasks():
    schedule = {
        entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert schedule == {
        "crawler.poll_all": 15 * 60,
        "crawler.crawl_sources": 6 * 3600,
        "crawler.prune_activity": 60 * 60,
        "crawler.requeue_unchecked_submissions": 5 * 60,
    }
    names = set(app.tasks)
    assert {"crawler.poll_server", "crawler.fetch_sources", "crawler.check_submission"} <= names
    assert set(schedule) <= names


@pytest.mark.django_db
def test_fetch_now_reads_a_source_and_polls_what_it_names(config, sogs, page):
    server = sogs([room("lobby")])
    source = Source.objects.create(name="list", url=page(server.join_link("lobby")), kind="html")
    assert fetch_sources_now([source.pk], config) == 1
    assert Room.objects.get().token == "lobby"
