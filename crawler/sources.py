"""Pipeline step 1: fetch source pages and feeds, and extract their join links.

Fetching runs in worker threads (no database there); recording each source's outcome runs in
the caller's thread. A source that fails falls back to its last good body.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.utils import timezone

from crawler.conf import CrawlConfig
from directory.lib import http
from directory.lib.joinlinks import SourceEntry, detect_source_kind, extract
from directory.models import AgeRating, Source

log = logging.getLogger(__name__)


@dataclass
class SourceFetch:
    """One source's outcome: its entries, and the error if the fetch failed."""

    url: str
    entries: list[SourceEntry] = field(default_factory=list)
    body: str = ""
    kind: str = ""
    error: str = ""


def fetch_source(
    client: http.GuardedClient, config: CrawlConfig, url: str, kind: str | None = None
) -> SourceFetch:
    """Fetch one source and extract its entries; `kind` None means detect it from the body."""
    result = SourceFetch(url)
    try:
        response = client.get(url, max_bytes=config.max_source_bytes).raise_for_status()
    except http.FetchError as error:
        result.error = str(error)
        return result
    result.body = response.content.decode("utf-8", errors="replace")
    result.kind = kind or detect_source_kind(response.content, response.headers.get("Content-Type"))
    result.entries = extract(result.body, result.kind)  # type: ignore[arg-type]
    return result


def fetch_urls(
    client: http.GuardedClient, config: CrawlConfig, urls: list[str]
) -> list[SourceFetch]:
    """Fetch ad-hoc sources (`crawl --source URL`) concurrently; kinds come from the content."""
    with ThreadPoolExecutor(max_workers=min(config.concurrency, max(1, len(urls)))) as pool:
        return list(pool.map(lambda url: fetch_source(client, config, url), urls))


def fetch_enabled_sources(
    client: http.GuardedClient, config: CrawlConfig, sources: list[Source] | None = None
) -> list[SourceFetch]:
    """Fetch the enabled sources concurrently and record each outcome on its Source row."""
    sources = list(Source.objects.filter(enabled=True)) if sources is None else sources
    if not sources:
        return []
    with ThreadPoolExecutor(max_workers=min(config.concurrency, len(sources))) as pool:
        fetches = list(
            pool.map(lambda source: fetch_source(client, config, source.url, source.kind), sources)
        )
    for source, fetch in zip(sources, fetches, strict=True):
        record_source(source, fetch)
    return fetches


def record_source(source: Source, fetch: SourceFetch) -> None:
    """Store the outcome; on failure, read the last good body instead (and say so)."""
    now = timezone.now()
    source.last_fetched_at = now
    if fetch.error:
        log.warning("source %s failed: %s", source.name, fetch.error)
        source.last_status = Source.Status.FAILED
        source.last_error = fetch.error[:1000]
        if source.last_good_body:
            fetch.entries = extract(source.last_good_body, source.kind)  # type: ignore[arg-type]
    else:
        source.last_status = Source.Status.OK
        source.last_error = ""
        source.last_good_body = fetch.body
        source.last_good_at = now
    if source.suggested_age_rating == AgeRating.NSFW:
        fetch.entries = [SourceEntry(entry.link, entry.tags, True) for entry in fetch.entries]
    source.links_found = len(fetch.entries)
    source.skip_history_when_saving = True  # fetch bookkeeping is not a moderator's change
    source.save()
