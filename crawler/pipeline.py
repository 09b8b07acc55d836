"""The crawl pipeline: sources, join links, targets; claim, poll, store, release; the CrawlRun.

`run_crawl` is a whole crawl; `poll_server` one known server (what the 15-minute fan-out and
"poll now" run); `fetch_sources_now` some sources and the servers they name ("fetch now").

Each server polled logs one "server polled" event and each crawl one "crawl finished" event,
their figures in the record's `extra` fields (server, pubkey, rooms, outcome, duration_ms...;
the crawl's `failures` counts the failed servers by kind, `crawler/failures.py`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.utils import timezone

from crawler.claims import claim_servers, release_servers
from crawler.conf import CrawlConfig
from crawler.maintenance import close_abandoned_runs
from crawler.polling import Targets, poll_all
from crawler.reconnect import reconnecting
from crawler.sogs import AddressPoll
from crawler.sources import fetch_enabled_sources, fetch_urls
from crawler.store import NOT_STORED, ServerOutcome, SourceInfo, StoreCounts, store_server
from crawler.targets import add_entries, add_known_server, add_server_url, drop_busy, stored_icons
from directory.lib.joinlinks import InvalidServerUrl
from directory.models import CrawlRun, Server, Source

log = logging.getLogger(__name__)

# `progress(stored, expected, failed)`, called after each server is stored (`manage.py crawl`
# shows it on a terminal). `expected` counts the keys claimed and the addresses with no claim.
Progress = Callable[[int, int, int], None]

MISSING = "missing"  # `poll_server`: no server with that pk
BUSY = "busy"  # `poll_server`: another worker holds the claim


@dataclass
class PollCounts:
    """What polling a set of targets did: addresses polled, requests sent, what was stored."""

    addresses: int = 0
    requests: int = 0
    stored: StoreCounts = field(default_factory=StoreCounts)


def poll_targets(
    targets: Targets,
    config: CrawlConfig,
    sources: SourceInfo | None,
    progress: Progress | None = None,
) -> PollCounts:
    """Claim, poll concurrently, store each server as it completes, release."""
    known = dict(
        Server.objects.filter(
            pubkey__in={key for target in targets.by_address.values() for key in target.claimed}
        ).values_list("pubkey", "pk")
    )
    claimed, claimed_at = claim_servers(known.values(), config)
    drop_busy(targets, {key for key, pk in known.items() if pk not in claimed})
    icons = stored_icons(targets)
    for target in targets.by_address.values():
        target.stored_icons = icons
    counts = PollCounts(addresses=len(targets))
    stored = counts.stored
    expected = len({key for target in targets.by_address.values() for key in target.claimed})
    expected += sum(1 for target in targets.by_address.values() if not target.claimed)

    def store(pubkey: str, polls: list[AddressPoll]) -> None:
        started = time.monotonic()
        try:
            outcome = reconnecting(lambda: store_server(pubkey, polls, config, stored, sources))
        except Exception as error:  # one server's bad data (or a lost database) must not end it
            log.exception("storing server %s failed", pubkey[:8])
            reason = f"{pubkey[:8]}: not stored ({type(error).__name__})"
            stored.failed(Server.PollStatus.ERROR, reason)
            outcome = ServerOutcome(_label(polls, pubkey), NOT_STORED, error=type(error).__name__)
        seconds = sum(poll.seconds for poll in polls) + time.monotonic() - started
        _log_server_polled(pubkey, outcome, seconds)
        if progress is not None:  # every store counts one server ok or failed
            progress(stored.servers_ok + stored.servers_failed, expected, stored.servers_failed)

    try:
        polls = poll_all(targets, config, store)
    finally:
        reconnecting(lambda: release_servers(claimed, claimed_at))
    counts.requests = sum(poll.requests for poll in polls)
    return counts


def _label(polls: list[AddressPoll], pubkey: str) -> str:
    """How the log names a server: the address polled, else the start of its key."""
    return polls[0].base_url if polls else pubkey[:8]


def _log_server_polled(pubkey: str, outcome: ServerOutcome, seconds: float) -> None:
    log.info(
        "server polled",
        extra={
            "server": outcome.server,
            "pubkey": pubkey,
            "rooms": outcome.rooms,
            "duration_ms": round(seconds * 1000),
            "outcome": outcome.outcome,
            "error": outcome.error,
        },
    )


def _start_run(config: CrawlConfig) -> CrawlRun:
    close_abandoned_runs(config)
    return CrawlRun.objects.create()


def run_crawl(
    config: CrawlConfig | None = None,
    *,
    source_urls: list[str] | None = None,
    server_urls: list[str] | None = None,
    progress: Progress | None = None,
) -> CrawlRun:
    """The whole pipeline. With `source_urls` or `server_urls`, only those are crawled;
    otherwise every enabled source and every known server."""
    config = config or CrawlConfig.from_settings()
    run = _start_run(config)
    targets, entries, full = Targets(), [], not source_urls and not server_urls
    with config.client() as client:
        if source_urls:
            fetches = fetch_urls(client, config, source_urls)
        elif full:
            fetches = fetch_enabled_sources(client, config)
        else:
            fetches = []
    errors = [f"source {fetch.url}: {fetch.error}" for fetch in fetches if fetch.error]
    for fetch in fetches:
        entries += fetch.entries
    add_entries(targets, entries)
    for url in server_urls or []:
        try:
            add_server_url(targets, url)
        except InvalidServerUrl as error:
            errors.append(f"{url}: {error}")
    if full:
        for server in Server.objects.select_related("preferred_address").prefetch_related(
            "addresses"
        ):
            add_known_server(targets, server)
    sources = SourceInfo.from_entries(entries, replace_tags=full) if fetches else None
    counts = poll_targets(targets, config, sources, progress)
    _finish(run, counts, errors, sources=len(fetches), links=len(entries))
    return run


def _finish(
    run: CrawlRun, counts: PollCounts, errors: list[str], *, sources: int, links: int
) -> None:
    stored = counts.stored
    run.sources, run.links_found = sources, links
    run.servers_polled = counts.addresses
    run.servers_ok, run.servers_failed = stored.servers_ok, stored.servers_failed
    run.rooms_new, run.rooms_updated = stored.rooms_new, stored.rooms_updated
    run.rooms_gone = stored.rooms_gone
    run.errors = (errors + stored.errors)[:500]
    run.failures = dict(stored.failures)
    run.finished_at = timezone.now()
    run.status = CrawlRun.Status.FINISHED
    reconnecting(run.record_server_states)  # what the admin's crawl report compares
    reconnecting(run.save)
    log.info(
        "crawl finished",
        extra={
            "run": run.pk,
            "sources": sources,
            "links": links,
            "servers_polled": run.servers_polled,
            "servers_ok": run.servers_ok,
            "servers_failed": run.servers_failed,
            "rooms_new": run.rooms_new,
            "rooms_updated": run.rooms_updated,
            "rooms_gone": run.rooms_gone,
            "requests": counts.requests,
            "errors": len(run.errors),
            "failures": run.failures,
            "duration_ms": round((run.finished_at - run.started_at).total_seconds() * 1000),
        },
    )


def poll_server(pk: int, config: CrawlConfig | None = None) -> str:
    """Poll one known server (the fan-out task, "poll now"): its Server.PollStatus after the
    poll, or BUSY, or MISSING."""
    config = config or CrawlConfig.from_settings()
    server = Server.objects.select_related("preferred_address").filter(pk=pk).first()
    if server is None:
        return MISSING
    targets = Targets()
    add_known_server(targets, server)
    stored = poll_targets(targets, config, None).stored
    if not stored.servers_ok and not stored.servers_failed:
        return BUSY
    server.refresh_from_db()
    return server.last_poll_status


def fetch_sources_now(source_pks: Iterable[int], config: CrawlConfig | None = None) -> int:
    """Fetch some sources ("fetch now") and poll the servers they name; the links found."""
    config = config or CrawlConfig.from_settings()
    run = _start_run(config)
    with config.client() as client:
        fetches = fetch_enabled_sources(
            client, config, list(Source.objects.filter(pk__in=source_pks))
        )
    entries = [entry for fetch in fetches for entry in fetch.entries]
    targets = Targets()
    add_entries(targets, entries)
    counts = poll_targets(targets, config, SourceInfo.from_entries(entries, replace_tags=False))
    errors = [f"source {fetch.url}: {fetch.error}" for fetch in fetches if fetch.error]
    _finish(run, counts, errors, sources=len(fetches), links=len(entries))
    return len(entries)
