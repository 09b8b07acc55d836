"""Pipeline steps 4-5: merge address polls by key and store each server in its own transaction.

A server's fields, addresses, rooms, tags and activity commit together or not at all: a
database lost mid-way leaves the server as it was. Only crawled fields are written. Rooms are
never deleted: a room its server stopped listing is marked gone; a server that fails keeps its
rooms and records why. A key that an address failed to prove is never listed there; the
conflict is kept for moderators.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from django.db import transaction
from django.utils import timezone

from crawler import failures
from crawler.conf import CrawlConfig
from crawler.failures import PollError, ServerUnreachable
from crawler.icons import store_icon
from crawler.rooms import NSFW, CrawledRoom, crawled_room
from crawler.sogs import AddressPoll
from directory.lib.joinlinks import SourceEntry
from directory.lib.sogs import InvalidRoom, validate_room
from directory.models import AgeRating, Room, RoomActivity, RoomTag, Server, Tag
from directory.servers import (
    address_preference,
    mark_rooms_gone,
    note_address,
    replace_room_tags,
    upsert_rooms,
)

log = logging.getLogger(__name__)

CRAWL_ORIGINS = (Tag.Kind.DERIVED, Tag.Kind.HASHTAG)


@dataclass
class StoreCounts:
    """What storing did, summed over servers (becomes the CrawlRun)."""

    servers_ok: int = 0
    servers_failed: int = 0
    rooms_new: int = 0
    rooms_updated: int = 0
    rooms_gone: int = 0
    errors: list[str] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)  # servers failed, by kind

    def failed(self, kind: Server.PollStatus, *errors: str) -> None:
        """One server failed: `kind` is why, `errors` say it for the crawl's list."""
        self.servers_failed += 1
        self.failures[str(kind)] += 1
        self.errors += errors

    def add(self, other: StoreCounts) -> None:
        self.servers_ok += other.servers_ok
        self.servers_failed += other.servers_failed
        self.rooms_new += other.rooms_new
        self.rooms_updated += other.rooms_updated
        self.rooms_gone += other.rooms_gone
        self.errors += other.errors
        self.failures += other.failures


NOT_STORED = "not_stored"  # a ServerOutcome whose store failed: no poll status was written


@dataclass
class ServerOutcome:
    """How storing one server's polls ended: the fields of its "server polled" log event."""

    server: str  # its base URL, else the start of its key
    outcome: Server.PollStatus | Literal["not_stored"]  # what the Server records, or NOT_STORED
    rooms: int = 0  # rooms stored
    error: str = ""


@dataclass
class SourceInfo:
    """What the crawl's sources said about rooms, by (pubkey, token_key)."""

    entries: dict[tuple[str, str], SourceEntry] = field(default_factory=dict)
    replace_tags: bool = False  # a crawl of every enabled source owns the source tags

    @classmethod
    def from_entries(cls, entries: list[SourceEntry], *, replace_tags: bool) -> SourceInfo:
        info = cls(replace_tags=replace_tags)
        for entry in entries:
            info.entries.setdefault((entry.link.pubkey, entry.link.token_key), entry)
        return info


def _preference(poll: AddressPoll) -> tuple:
    """The server's own address rule; a poll "works" when it read the full room list."""
    return address_preference(*poll.address, works=poll.complete_listing)


def store_server(
    pubkey: str,
    polls: list[AddressPoll],
    config: CrawlConfig,
    counts: StoreCounts,
    sources: SourceInfo | None = None,
) -> ServerOutcome:
    """Store everything the polls found about the server with `pubkey`, in one transaction.
    What it did is added to `counts` once that has committed (a store that fails, and is
    perhaps tried again, is not counted twice)."""
    stored = StoreCounts()
    outcome = _store_server(pubkey, polls, config, stored, sources)
    counts.add(stored)
    return outcome


def _store_server(
    pubkey: str,
    polls: list[AddressPoll],
    config: CrawlConfig,
    counts: StoreCounts,
    sources: SourceInfo | None,
) -> ServerOutcome:
    proven = sorted((poll for poll in polls if poll.ok and poll.pubkey == pubkey), key=_preference)
    refuted = [poll for poll in polls if pubkey in poll.mismatches]
    rooms = 0
    with transaction.atomic():
        server = Server.objects.select_for_update().filter(pubkey=pubkey).first()
        if proven:
            server = server or Server.objects.create(pubkey=pubkey)
            rooms = _store_success(server, proven, refuted, config, counts, sources)
        elif refuted:
            server = server or Server.objects.create(pubkey=pubkey)
            _store_conflict(server, refuted, counts)
        elif server is not None:
            _store_failure(server, polls, counts)
        else:
            return _unknown_failed(pubkey, polls, counts)
        server.polling_started_at = None  # release the claim with the data it guarded
        _save_server(server)
    if proven:
        _store_icons(server, proven[0])
    label = server.base_url or (polls[0].base_url if polls else pubkey[:8])
    status = Server.PollStatus(server.last_poll_status)
    return ServerOutcome(label, status, rooms, server.last_poll_error[:200])


def _unknown_failed(pubkey: str, polls: list[AddressPoll], counts: StoreCounts) -> ServerOutcome:
    """A server never stored before that did not answer: nothing to store, only to report."""
    failed = [poll for poll in polls if poll.error is not None]
    error = _poll_failure(polls)
    counts.failed(error.status, *(f"{poll.base_url}: {poll.error.reason}" for poll in failed))
    label = failed[0].base_url if failed else pubkey[:8]
    return ServerOutcome(label, error.status, error=error.reason[:200])


def _poll_failure(polls: list[AddressPoll]) -> PollError:
    """Why polling found nothing for a key: the most informative of its addresses' failures
    (`crawler/failures.py`), else that no address answered for that key (each proved another
    key, or could not tell which key it holds). Nothing refuted the key: no key mismatch."""
    error = failures.most_informative(poll.error for poll in polls)
    return error or ServerUnreachable("no address answered for this key")


def _save_server(server: Server) -> None:
    server.skip_history_when_saving = True  # crawled fields are not moderators' decisions
    server.save(update_fields=[name for name in Server.CRAWLED_FIELDS if name != "icon"])


def _store_success(
    server: Server,
    proven: list[AddressPoll],
    refuted: list[AddressPoll],
    config: CrawlConfig,
    counts: StoreCounts,
    sources: SourceInfo | None,
) -> int:
    """The server answered and proved its key (or nothing refuted it): the rooms stored."""
    now = timezone.now()
    best = proven[0]
    # Set before the addresses are noted: it decides which one the server is published at. A
    # poll that read no page (a legacy server, no proof) keeps what an earlier one found.
    advertised = [poll.advertised_base_url for poll in proven if poll.advertised_base_url]
    if advertised:
        server.advertised_base_url = advertised[0]
    for poll in proven:
        note_address(server, *poll.address, ok=True)
        for address, reason in poll.failed_attempts:
            note_address(server, *address, ok=False, error=reason)
    server.api_kind = best.api_kind
    server.capabilities = best.capabilities
    server.last_seen = server.last_poll_at = now
    server.last_poll_status = Server.PollStatus.OK
    server.last_poll_error = ""
    server.consecutive_failures = 0
    if any(poll.proof is not None for poll in proven):
        server.key_state, server.key_checked_at = Server.KeyState.PROVEN, now
    server.key_conflict = _conflicts(server, refuted)
    rooms = _store_rooms(server, best, config, counts, sources, now)
    counts.servers_ok += 1
    return rooms


def _conflicts(server: Server, refuted: list[AddressPoll]) -> str:
    return "\n".join(poll.mismatches[server.pubkey] for poll in refuted)[:4000]


def _store_conflict(server: Server, refuted: list[AddressPoll], counts: StoreCounts) -> None:
    """No address proved the key, some refuted it: never list it there; tell moderators."""
    now = timezone.now()
    if server.key_state != Server.KeyState.PROVEN:
        server.key_state = Server.KeyState.FAILED
    server.key_checked_at = server.last_poll_at = now
    server.key_conflict = _conflicts(server, refuted)
    server.last_poll_status = Server.PollStatus.KEY_MISMATCH
    server.last_poll_error = server.key_conflict[:1000]
    counts.failed(Server.PollStatus.KEY_MISMATCH, f"{server.pubkey[:8]}: {server.key_conflict}")


def _store_failure(server: Server, polls: list[AddressPoll], counts: StoreCounts) -> None:
    """A known server that did not answer: marked offline with the reason; rooms stay. A
    reply that decrypted still proved its key."""
    error = _poll_failure(polls)
    server.last_poll_at = timezone.now()
    if any(poll.proof is not None and poll.pubkey == server.pubkey for poll in polls):
        server.key_state, server.key_checked_at = Server.KeyState.PROVEN, server.last_poll_at
    server.last_poll_status = error.status
    server.last_poll_error = error.reason[:1000]
    server.consecutive_failures += 1
    for poll in polls:
        for address, reason in [*poll.failed_attempts, (poll.address, str(poll.error or ""))]:
            if server.addresses.filter(scheme=address[0], host=address[1]).exists():
                note_address(server, *address, ok=False, error=reason)
    counts.failed(error.status, f"{server.base_url or server.pubkey[:8]}: {error.reason}")


def _crawled_rooms(
    server: Server, poll: AddressPoll, config: CrawlConfig, counts: StoreCounts, now: datetime
) -> tuple[list[CrawledRoom], set[str]]:
    """The poll's rooms that can be stored, and the token keys of those refused (their rows,
    if any, keep their last good values: the server still lists them). Each refusal is logged
    and goes into the crawl's errors with its reason."""
    official = server.official or server.pubkey in config.official_keys
    rooms: dict[str, CrawledRoom] = {}
    refused: set[str] = set()
    for data in poll.rooms:
        try:
            valid = validate_room(data)
        except InvalidRoom as error:
            token = data.get("token") if isinstance(data, dict) else None
            label = str(token)[:64] if token is not None else ""
            if isinstance(token, str):
                refused.add(token.strip().lower())
            log.info(
                "room skipped",
                extra={
                    "server": poll.base_url,
                    "pubkey": server.pubkey,
                    "room": label,
                    "error": str(error)[:200],
                },
            )
            counts.errors.append(f"{poll.base_url}: room {label!r} refused: {str(error)[:200]}")
            continue
        room = crawled_room(
            valid,
            now=now,
            official=official,
            new_room_days=config.new_room_days,
            users_per_moderator=config.users_per_moderator,
            legacy_member_count=poll.member_counts.get(valid["token"].lower()),
        )
        rooms.setdefault(room.token_key, room)
    return list(rooms.values()), refused


def _store_rooms(
    server: Server,
    poll: AddressPoll,
    config: CrawlConfig,
    counts: StoreCounts,
    sources: SourceInfo | None,
    now: datetime,
) -> int:
    crawled, refused = _crawled_rooms(server, poll, config, counts, now)
    source_nsfw = _source_nsfw(server, crawled, sources)
    for room in crawled:
        if room.token_key in source_nsfw:
            room.values["suggested_age_rating"] = AgeRating.NSFW
    languages = {room.token_key: room.language for room in crawled if room.language}
    # Lock the rooms before they are read: upsert_rooms saves whole rows, so a moderator's edit
    # committed between its read and its write would otherwise be written over.
    list(Room.objects.select_for_update().filter(server=server).values_list("pk", flat=True))
    stored = upsert_rooms(server, [room.values for room in crawled], languages=languages)
    cache: dict = {}
    for (room, created), data in zip(stored, crawled, strict=True):
        counts.rooms_new += created
        counts.rooms_updated += not created
        _replace_tags(room, data, sources, cache)
    if poll.complete_listing:
        seen = {room.token_key for room in crawled} | refused
        counts.rooms_gone += mark_rooms_gone(server, seen)
    RoomActivity.objects.bulk_create(
        RoomActivity(
            room=room,
            at=now,
            active_users=room.active_users,
            message_sequence=room.message_sequence,
        )
        for room, _ in stored
    )
    return len(stored)


def _source_nsfw(
    server: Server, crawled: list[CrawledRoom], sources: SourceInfo | None
) -> set[str]:
    """Rooms a source calls adult: from this crawl's sources, else from earlier source tags."""
    if sources is not None and sources.replace_tags:
        return {
            room.token_key
            for room in crawled
            if (entry := sources.entries.get((server.pubkey, room.token_key))) and entry.nsfw
        }
    earlier = RoomTag.objects.filter(room__server=server, origin=Tag.Kind.SOURCE, tag__slug=NSFW)
    known = set(earlier.values_list("room__token_key", flat=True))
    if sources is not None:
        known |= {
            key
            for (pubkey, key), entry in sources.entries.items()
            if pubkey == server.pubkey and entry.nsfw
        }
    return known


def _replace_tags(room: Room, data: CrawledRoom, sources: SourceInfo | None, cache: dict) -> None:
    wanted = [(tag, Tag.Kind.DERIVED) for tag in data.derived_tags]
    wanted += [(tag, Tag.Kind.HASHTAG) for tag in data.hashtags]
    origins = list(CRAWL_ORIGINS)
    entry = sources.entries.get((room.server.pubkey, room.token_key)) if sources else None
    if sources is not None and (sources.replace_tags or entry is not None):
        origins.append(Tag.Kind.SOURCE)
        if entry is not None:
            wanted += [(tag, Tag.Kind.SOURCE) for tag in entry.tags if not tag.startswith("lang:")]
            if entry.nsfw:
                wanted.append((NSFW, Tag.Kind.SOURCE))
    replace_room_tags(room, dict.fromkeys(wanted), origins, cache=cache)


def _store_icons(server: Server, poll: AddressPoll) -> None:
    if not poll.icons:
        return
    rooms = {room.token_key: room for room in server.rooms.filter(token_key__in=list(poll.icons))}
    for token_key, (image_id, webp) in poll.icons.items():
        room = rooms.get(token_key)
        if room is not None:
            try:
                store_icon(room, image_id, webp)
            except OSError as error:
                log.warning(
                    "cannot store the icon of %s: %s",
                    room,
                    error,
                    extra={"server": poll.base_url, "pubkey": server.pubkey, "room": token_key},
                )
