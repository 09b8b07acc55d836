"""Crawl runs as a finished crawl leaves them, for the tests of what reads them (readiness,
metrics, the crawl report, the request log)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from directory.models import CrawlRun


def finished_crawl(
    ago: timedelta, *, took: timedelta = timedelta(minutes=3), **fields: object
) -> CrawlRun:
    """A crawl run that finished `ago` before now after running for `took`; `fields` are more
    of its columns (rooms_found, server_states, servers_ok, ...)."""
    finished = timezone.now() - ago
    return CrawlRun.objects.create(
        started_at=finished - took,
        finished_at=finished,
        status=CrawlRun.Status.FINISHED,
        **fields,
    )
