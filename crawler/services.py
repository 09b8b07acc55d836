"""The crawler's service functions: the one door that tasks, `manage.py crawl` and admin use.

`run_crawl` is the whole pipeline; `poll_server` one server (what the 15-minute fan-out runs);
`check_submission` the website's check of a submitted link; `prune_activity` the hourly thinning
of old activity rows.

Each server polled logs one "server polled" event and each crawl one "crawl finished" event,
their figures in the record's `extra` fields (server, pubkey, rooms, outcome, duration_ms...).
A database connection lost mid-crawl (a restart) is reopened; the servers that could not be
stored meanwhile are counted failed, and the next poll stores them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection
from django.db.models import Q
from django.utils import timezone

from crawler.conf import CrawlConfig
from crawler.polling import Targets, poll_all
from crawler.sogs import Address, AddressPoll, poll_address
from crawler.sources import fetch_enabled_sources, fetch_urls
from crawler.store import ServerOutcome, SourceInfo, StoreCounts, store_server
from directory.lib.joinlinks import (
    InvalidJoinLink,
    InvalidServerUrl,
    SourceEntry,
    parse_join_link,
    parse_server_url,
)
from directory.models import CrawlRun, Room, RoomActivity, Server, ServerAddress, Submission

log = logging.getLogger(__name__)

T = TypeVar("T")


# --- The database may go away mid-crawl ---------------------------------------------------------


def reconnecting(operation: Callable[[], T]) -> T:
    """Run a database operation; when the connection turns out to be lost (the database was
    restarted since it was opened), open a new one and try once more. Only for operations that
    are whole transactions (or single statements), so a retry never repeats half of one."""
    try:
        return operation()
    except (OperationalError, InterfaceError) as error:
        if connection.in_atomic_block:
            raise  # the caller's transaction is lost with the connection: it decides
        log.warning("database connection lost (%s); reconnecting", error)
        connection.close()
        return operation()


# --- Claims: a server is polled by one worker at a time ----------------------------------------


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


# --- Targets -----------------------------------------------------------------------------------


def address_of(address: ServerAddress) -> Address:
    default = address.port == ServerAddress.DEFAULT_PORTS.get(address.scheme)
    return (address.scheme, address.host, None if default else address.port)


def add_known_server(targets: Targets, server: Server) -> None:
    """A known server is polled at its preferred address (or every address, without one)."""
    addresses = (
        [server.preferred_address] if server.preferred_address_id else server.addresses.all()
    )
    for address in addresses:
        targets.add(address_of(address), server.pubkey)


def add_entries(targets: Targets, entries: Iterable[SourceEntry]) -> None:
    for entry in entries:
        targets.add(entry.link.address, entry.link.pubkey, [entry.link.token])


def add_server_url(targets: Targets, text: str) -> None:
    """`crawl --server`: a join link (address, key, room) or a bare server URL (keys from the
    database, else from the server's own room page)."""
    try:
        link = parse_join_link(text)
        targets.add(link.address, link.pubkey, [link.token])
        return
    except InvalidJoinLink:
        pass
    address = parse_server_url(text)
    scheme, host, port = address
    port = port or ServerAddress.DEFAULT_PORTS[scheme]
    known = ServerAddress.objects.filter(host=host, port=port).select_related("server")
    target = targets.add(address)
    target.claimed.update(known_address.server.pubkey for known_address in known)


def _stored_icons(targets: Targets) -> dict[tuple[str, str], int | None]:
    keys = {pubkey for target in targets.by_address.values() for pubkey in target.claimed}
    rows = Room.objects.filter(server__pubkey__in=keys).values_list(
        "server__pubkey", "token_key", "icon_image_id"
    )
    return {(pubkey, token_key): image_id for pubkey, token_key, image_id in rows}


def _drop_busy(targets: Targets, busy_keys: set[str]) -> None:
    """Servers another worker is polling are left to it."""
    for address, target in list(targets.by_address.items()):
        if target.claimed and target.claimed <= busy_keys:
            del targets.by_address[address]
        else:
            target.claimed -= busy_keys


# --- The pipeline ------------------------------------------------------------------------------


def poll_targets(
    targets: Targets, config: CrawlConfig, sources: SourceInfo | None, run: CrawlRun
) -> StoreCounts:
    """Claim, poll concurrently, store each server as it completes, release; fill `run`."""
    known = dict(
        Server.objects.filter(
            pubkey__in={key for target in targets.by_address.values() for key in target.claimed}
        ).values_list("pubkey", "pk")
    )
    claimed, claimed_at = claim_servers(known.values(), config)
    _drop_busy(targets, {key for key, pk in known.items() if pk not in claimed})
    icons = _stored_icons(targets)
    for target in targets.by_address.values():
        target.stored_icons = icons
    counts = StoreCounts()

    def store(pubkey: str, polls: list[AddressPoll]) -> None:
        started = time.monotonic()
        try:
            outcome = reconnecting(lambda: store_server(pubkey, polls, config, counts, sources))
        except Exception as error:  # one server's bad data (or a lost database) must not end it
            log.exception("storing server %s failed", pubkey[:8])
            counts.servers_failed += 1
            counts.errors.append(f"{pubkey[:8]}: not stored ({type(error).__name__})")
            outcome = ServerOutcome(_label(polls, pubkey), "not_stored", error=type(error).__name__)
        seconds = sum(poll.seconds for poll in polls) + time.monotonic() - started
        _log_server_polled(pubkey, outcome, seconds)

    try:
        polls = poll_all(targets, config, store)
    finally:
        reconnecting(lambda: release_servers(claimed, claimed_at))
    run.servers_polled = len(targets)
    run.requests = sum(poll.requests for poll in polls)  # not a column: for the summary only
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


def _start_run(config: CrawlConfig) -> CrawlRun:
    close_abandoned_runs(config)
    return CrawlRun.objects.create()


def run_crawl(
    config: CrawlConfig | None = None,
    *,
    source_urls: list[str] | None = None,
    server_urls: list[str] | None = None,
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
        for server in Server.objects.select_related("preferred_address"):
            add_known_server(targets, server)
    sources = SourceInfo.from_entries(entries, replace_tags=full) if fetches else None
    counts = poll_targets(targets, config, sources, run)
    _finish(run, counts, errors, sources=len(fetches), links=len(entries))
    return run


def _finish(
    run: CrawlRun, counts: StoreCounts, errors: list[str], *, sources: int, links: int
) -> None:
    run.sources, run.links_found = sources, links
    run.servers_ok, run.servers_failed = counts.servers_ok, counts.servers_failed
    run.rooms_new, run.rooms_updated = counts.rooms_new, counts.rooms_updated
    run.rooms_gone = counts.rooms_gone
    run.errors = (errors + counts.errors)[:500]
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
            "errors": len(run.errors),
            "duration_ms": round((run.finished_at - run.started_at).total_seconds() * 1000),
        },
    )


def poll_server(pk: int, config: CrawlConfig | None = None) -> str:
    """Poll one known server (the fan-out task, "poll now"); returns its poll status."""
    config = config or CrawlConfig.from_settings()
    server = Server.objects.select_related("preferred_address").filter(pk=pk).first()
    if server is None:
        return "missing"
    targets = Targets()
    add_known_server(targets, server)
    run = CrawlRun(started_at=timezone.now())
    counts = poll_targets(targets, config, None, run)
    if not counts.servers_ok and not counts.servers_failed:
        return "busy"  # another worker holds the claim
    server.refresh_from_db()
    return server.last_poll_status


def fetch_sources_now(source_pks: Iterable[int], config: CrawlConfig | None = None) -> int:
    """Fetch some sources ("fetch now") and poll the servers they name; the links found."""
    from directory.models import Source

    config = config or CrawlConfig.from_settings()
    run = _start_run(config)
    with config.client() as client:
        fetches = fetch_enabled_sources(
            client, config, list(Source.objects.filter(pk__in=source_pks))
        )
    entries = [entry for fetch in fetches for entry in fetch.entries]
    targets = Targets()
    add_entries(targets, entries)
    counts = poll_targets(
        targets, config, SourceInfo.from_entries(entries, replace_tags=False), run
    )
    errors = [f"source {fetch.url}: {fetch.error}" for fetch in fetches if fetch.error]
    _finish(run, counts, errors, sources=len(fetches), links=len(entries))
    return len(entries)


# --- Submissions -------------------------------------------------------------------------------


def check_submission(pk: int, config: CrawlConfig | None = None) -> str:
    """Check a submitted join link: server reachable, key proven, room there. Never raises for
    a bad server; the outcome is in the Submission's check fields."""
    submission = Submission.objects.filter(pk=pk).first()
    if submission is None:
        return "missing"
    try:
        passed, detail = _check(submission, config or CrawlConfig.from_settings())
    except Exception as error:
        log.exception("checking submission %s failed", pk)
        passed, detail = False, f"The check could not run ({type(error).__name__})."
    submission.check_state = (
        Submission.CheckState.PASSED if passed else Submission.CheckState.FAILED
    )
    submission.check_detail = detail
    submission.checked_at = timezone.now()
    submission.save(update_fields=["check_state", "check_detail", "checked_at"])
    return submission.check_state


def _check(submission: Submission, config: CrawlConfig) -> tuple[bool, str]:
    try:
        link = parse_join_link(submission.join_url)
    except InvalidJoinLink as error:
        return False, f"The join link is not valid: {error}."
    with config.client() as client:
        poll = poll_address(
            client, config, link.address, [link.pubkey], [link.token], config.crawler_privkey()
        )
    if link.pubkey in poll.mismatches:
        return False, "The server at that address does not hold the key in the link."
    if poll.error is not None:
        return False, f"The server could not be checked: {poll.error.reason}."
    if not poll.proof:
        return False, "The server answered, but its key could not be proven."
    names = {str(room.get("token", "")).lower(): room for room in poll.rooms}
    room = names.get(link.token_key)
    if room is None:
        return False, f"The server has no room {link.token!r}."
    how = {"v4": "onion request", "page": "room page", "v3": "legacy onion request"}[poll.proof]
    return True, f"Server reachable, key proven ({how}), room {link.token!r} found."


# --- Activity ----------------------------------------------------------------------------------


def prune_activity(config: CrawlConfig | None = None) -> int:
    """Thin activity rows older than the raw window to one per room and hour (the hour's
    highest figures); returns how many rows were removed."""
    config = config or CrawlConfig.from_settings()
    cutoff = timezone.now() - timedelta(days=config.activity_raw_days)
    rows = (
        RoomActivity.objects.filter(at__lt=cutoff)
        .order_by("room_id", "at")
        .values_list("pk", "room_id", "at", "active_users", "message_sequence")
    )
    removed, group, keep = 0, None, None
    doomed: list[int] = []
    for pk, room_id, at, active, sequence in rows.iterator():
        hour = (room_id, at.replace(minute=0, second=0, microsecond=0))
        if hour != group:
            removed += _flush(keep, doomed)
            group, keep, doomed = hour, [pk, active, sequence], []
        else:
            keep[1] = _max(keep[1], active)
            keep[2] = _max(keep[2], sequence)
            doomed.append(pk)
    return removed + _flush(keep, doomed)


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def _flush(keep: list | None, doomed: list[int]) -> int:
    if keep is None or not doomed:
        return 0
    RoomActivity.objects.filter(pk=keep[0]).update(active_users=keep[1], message_sequence=keep[2])
    return RoomActivity.objects.filter(pk__in=doomed).delete()[0]
