"""Keeping the crawl's own records tidy: crawls left "running" by a dead process are closed,
and activity older than the raw window is thinned to one row per room and hour (beat runs
`crawler.prune_activity` hourly).
"""

from __future__ import annotations

from datetime import UTC, timedelta

from django.db import transaction
from django.db.models import Count, Max, Min, QuerySet
from django.db.models.functions import TruncHour
from django.utils import timezone

from crawler.conf import CrawlConfig
from directory.models import CrawlRun, RoomActivity

HOUR = timedelta(hours=1)
_BATCH = 5000  # hours thinned per query of the groups


def close_abandoned_runs(config: CrawlConfig) -> int:
    """Mark failed the crawls still "running" after the claim timeout: their process died (a
    killed worker, a lost database) before it could finish them. Returns how many."""
    now = timezone.now()
    abandoned = CrawlRun.objects.filter(
        status=CrawlRun.Status.RUNNING, started_at__lt=now - timedelta(seconds=config.claim_timeout)
    )
    return abandoned.update(
        status=CrawlRun.Status.FAILED,
        finished_at=now,
        errors=["abandoned: the crawl stopped before it finished (process or database lost)"],
    )


def prune_activity(config: CrawlConfig | None = None) -> int:
    """Thin activity rows older than the raw window to one per room and (UTC) hour: the hour's
    first, with the hour's highest figures. Returns how many rows were removed.

    The database groups the rows; only hours with more than one row come back here, so an
    hourly run thins the hour that just aged out, not the whole history again."""
    config = config or CrawlConfig.from_settings()
    cutoff = timezone.now() - timedelta(days=config.activity_raw_days)
    old = RoomActivity.objects.filter(at__lt=cutoff)
    hours = (
        old.annotate(hour=TruncHour("at", tzinfo=UTC))
        .values("room_id", "hour")
        .annotate(
            rows=Count("pk"),
            keep=Min("pk"),
            first=Min("at"),
            active_users=Max("active_users"),
            message_sequence=Max("message_sequence"),
        )
        .filter(rows__gt=1)
        .order_by()
    )
    removed = 0
    while True:
        # A thinned hour has one row, so it drops out of `hours`: each batch is the next one.
        batch = list(hours[:_BATCH])
        thinned = sum(_thin(old, hour) for hour in batch)
        removed += thinned
        if len(batch) < _BATCH or not thinned:
            return removed


def _thin(old: QuerySet[RoomActivity], hour: dict) -> int:
    """Keep one row of the hour, with its figures; delete the others. Rows removed."""
    start = hour["hour"]
    rows = old.filter(room_id=hour["room_id"], at__gte=start, at__lt=start + HOUR)
    with transaction.atomic():
        RoomActivity.objects.filter(pk=hour["keep"]).update(
            at=hour["first"],
            active_users=hour["active_users"],
            message_sequence=hour["message_sequence"],
        )
        return rows.exclude(pk=hour["keep"]).delete()[0]
