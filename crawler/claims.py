"""Claims: a server is polled by one worker at a time, whatever the number of workers and beats.

A poll first claims its servers with a conditional UPDATE (`Server.polling_started_at`), so two
workers never claim the same server; storing a server releases its claim with its data, and a
claim whose worker died goes stale after `CrawlConfig.claim_timeout` seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from crawler.conf import CrawlConfig
from directory.models import Server


def claim_servers(pks: Iterable[int], config: CrawlConfig) -> tuple[set[int], datetime]:
    """Claim the servers nobody is polling (or whose claim went stale): the claimed pks and the
    claim's timestamp. A conditional UPDATE, so two workers never claim the same server."""
    now = timezone.now()
    stale = now - timedelta(seconds=config.claim_timeout)
    claimed = set()
    for pk in pks:
        free = Q(polling_started_at__isnull=True) | Q(polling_started_at__lt=stale)
        if Server.objects.filter(free, pk=pk).update(polling_started_at=now):
            claimed.add(pk)
    return claimed, now


def release_servers(pks: Iterable[int], claimed_at: datetime) -> None:
    """Drop claims still held (a server whose store failed); others released with the data."""
    Server.objects.filter(pk__in=list(pks), polling_started_at=claimed_at).update(
        polling_started_at=None
    )
