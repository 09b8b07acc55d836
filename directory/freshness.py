"""How fresh the public data is: the one data version of everything the site and the API show,
and the last good copy of what is built from it (stale-while-rebuild).

`data_version()` changes whenever anything the home page, a room page, the feed, the sitemap or
a listing shows changes: a crawl, a moderator's edit, a listing edit, a room passing the offline
grace period (nothing is written then: the version counts the rooms still within it). It is read
from the database in one query of indexed or small-table aggregates, at most once per
DATA_VERSION_SECONDS per process, so busy pages cost no query for it.

`StaleWhileRebuild` keeps, per process, the latest copy of each page or listing built from the
whole directory (the home page's list, `/listing/all`): they cost hundreds of milliseconds to
build and change whenever a crawl stores a server, which during a crawl is every second.
Rebuilding them in the request that notices the change would make every visitor wait, and 50
visitors noticing it at once would build it 50 times. Instead:

- the first build of a key happens in the request, once (other requests for it wait for it);
- afterwards a request that finds the data changed gets the previous copy at once, and starts
  one background rebuild, at most one per key at a time and one per REBUILD_MIN_SECONDS.

So a change shows up within about REBUILD_MIN_SECONDS plus one build, and no request waits for
a build that another request or thread is already doing. With REBUILD_IN_BACKGROUND off (the
test suite's default), a changed version is built in the request, still only once.

A build is shared by every visitor, so it never receives a visitor's request: it is given the
values it needs (address, flags) and nothing of one visitor can reach the copy served to all.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.db import close_old_connections, connection, connections
from django.dispatch import receiver
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from directory.models import (
    CrawlRun,
    Listing,
    Room,
    RoomActivity,
    RoomTag,
    Server,
    ServerAddress,
    Tag,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# -- the data version ------------------------------------------------------------------------------

# model: its (aggregate, column) pairs. Everything a page or a listing shows depends on these:
# maxima of the times crawls and moderators move, of ids (a new row; a history row is every
# edit), and row counts (a deletion).
_EDITS = (("MAX", "history_date"), ("MAX", "history_id"))
_ROWS = (("MAX", "id"), ("COUNT", "id"))
_STAMPS = {
    Listing: (("MAX", "updated"),),
    Listing.history.model: _EDITS,
    CrawlRun: (("MAX", "finished_at"),),
    Room: (("MAX", "first_seen"), ("MAX", "last_seen"), *_ROWS),
    Room.history.model: _EDITS,
    Server: (("MAX", "last_poll_at"), ("MAX", "key_checked_at"), *_ROWS),
    Server.history.model: _EDITS,
    Tag: (("COUNT", "id"), ("MAX", "updated")),
    ServerAddress: (("COUNT", "id"), ("MAX", "updated")),
    RoomTag: (("COUNT", "id"),),
    RoomTag.history.model: _EDITS,
    RoomActivity: (("MAX", "id"),),
}


@dataclass(frozen=True)
class DataVersion:
    """A fingerprint of the public data and the latest time it changed (for Last-Modified)."""

    token: str
    last_modified: datetime | None


def _stamps_sql() -> str:
    quote = connection.ops.quote_name
    parts = [
        # Names come from our own models, never from input.
        f"(SELECT {function}({quote(column)}) FROM {quote(model._meta.db_table)})"  # noqa: S608
        for model, stamps in _STAMPS.items()
        for function, column in stamps
    ]
    # Rooms still within the offline grace: nothing is written when a room passes it.
    parts.append(
        f"(SELECT COUNT(*) FROM {quote(Room._meta.db_table)} WHERE {quote('last_seen')} >= %s)"  # noqa: S608
    )
    return "SELECT " + ", ".join(parts)


def read_data_version() -> DataVersion:
    """Read the version from the database: one query."""
    cutoff = timezone.now() - timedelta(days=settings.OFFLINE_GRACE_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(_stamps_sql(), [connection.ops.adapt_datetimefield_value(cutoff)])
        row = cursor.fetchone()
    token = hashlib.sha256(repr(row).encode()).hexdigest()[:32]
    moments = [moment for moment in map(_as_datetime, row) if moment is not None]
    return DataVersion(token, max(moments) if moments else None)


def _as_datetime(value: object) -> datetime | None:
    # SQLite hands back text, PostgreSQL datetimes; counts and ids are neither.
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        moment = parse_datetime(value)
        if moment is None:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _VersionMemo:
    """The last version read by this process, reused for DATA_VERSION_SECONDS. When it expires
    one thread reads it again while the others go on with the previous reading, so a process
    makes at most one query for it per period, however many requests arrive."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.version: DataVersion | None = None
        self.until = 0.0

    def get(self, seconds: float) -> DataVersion:
        version = self.version
        if version is not None and time.monotonic() < self.until:
            return version
        if not self.lock.acquire(blocking=version is None):
            return version  # another thread is reading it
        try:
            if self.version is not None and time.monotonic() < self.until:
                return self.version  # read while this thread waited
            self.version = read_data_version()
            self.until = time.monotonic() + seconds
            return self.version
        finally:
            self.lock.release()

    def forget(self) -> None:
        with self.lock:
            self.version, self.until = None, 0.0


_memo = _VersionMemo()


@receiver(setting_changed)
def _forget_version(**kwargs: object) -> None:
    _memo.forget()  # e.g. OFFLINE_GRACE_DAYS or DATA_VERSION_SECONDS changed (tests)


def data_version() -> DataVersion:
    """The data version, at most DATA_VERSION_SECONDS old (0: read in every call)."""
    if settings.DATA_VERSION_SECONDS <= 0:
        return read_data_version()
    return _memo.get(settings.DATA_VERSION_SECONDS)


def data_version_etag(request: HttpRequest, *args: object, **kwargs: object) -> str:
    """For Django's `etag` decorator on a page built in each request from current data: its
    body is the same while the data version is, so the version is its validator."""
    return data_version().token


# -- stale-while-rebuild ---------------------------------------------------------------------------


@dataclass
class _Slot(Generic[T]):
    lock: threading.Lock
    version: str | None = None
    value: T | None = None
    building: bool = False
    built_at: float = 0.0


class StaleWhileRebuild(Generic[T]):
    """The latest value per key, with the version of the data it was built from."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self._slots: dict[str, _Slot[T]] = {}
        self._guard = threading.Lock()

    def _slot(self, key: str) -> _Slot[T]:
        with self._guard:
            slot = self._slots.get(key)
            if slot is None:
                if len(self._slots) >= self.max_keys:  # forget the oldest key (insertion order)
                    self._slots.pop(next(iter(self._slots)))
                slot = self._slots[key] = _Slot(threading.Lock())
            return slot

    def get(
        self,
        key: str,
        version: str,
        build: Callable[[], T],
        latest: Callable[[], T | None] | None = None,
    ) -> T:
        """The value of `key` at `version`, or the previous one while a rebuild runs.

        `latest` (optional) finds the newest copy some other process built, of any version:
        a process that just started serves it instead of building in the request."""
        slot = self._slot(key)
        # Read once: a background rebuild may replace it, or drop it on failure, at any moment.
        value = slot.value
        if value is not None and slot.version == version:
            return value
        if value is None and latest is not None and settings.REBUILD_IN_BACKGROUND:
            found = latest()
            if found is not None:
                with slot.lock:
                    if slot.value is None:
                        slot.value, slot.version = found, ""  # "" is never a real version
                    value = slot.value
        if value is None or not settings.REBUILD_IN_BACKGROUND:
            with slot.lock:  # single flight: the first request builds, the others wait
                if slot.value is None or slot.version != version:
                    try:
                        self._store(slot, version, build())
                    except Exception:
                        self._forget_empty(key, slot)  # a 404 must not take a place
                        raise
                return slot.value
        self._start_rebuild(slot, version, build)
        return value  # the previous copy, whatever the rebuild just started does to the slot

    def get_shared(
        self, key: str, version: str, build: Callable[[], T], *, cache_key: str, timeout: float
    ) -> T:
        """`get`, with the newest copy shared between processes through Django's cache, kept
        with its version under `cache_key`: one entry per key, not one per version (a crawl
        makes a new version every few seconds). A process takes another's build of the same
        version instead of building it again, and one that just started serves the newest at
        once while it rebuilds."""

        def make() -> T:
            found = cache.get(cache_key)
            if found is not None and found[0] == version:
                return found[1]
            value = build()
            cache.set(cache_key, (version, value), timeout)
            return value

        def latest() -> T | None:
            found = cache.get(cache_key)
            return None if found is None else found[1]

        return self.get(key, version, make, latest=latest)

    def _forget_empty(self, key: str, slot: _Slot[T]) -> None:
        with self._guard:
            if slot.value is None and self._slots.get(key) is slot:
                del self._slots[key]

    def _store(self, slot: _Slot[T], version: str, value: T) -> None:
        slot.value, slot.version, slot.built_at = value, version, time.monotonic()

    def _start_rebuild(self, slot: _Slot[T], version: str, build: Callable[[], T]) -> None:
        with slot.lock:
            waited = time.monotonic() - slot.built_at
            if slot.building or waited < settings.REBUILD_MIN_SECONDS:
                return
            slot.building = True
        threading.Thread(target=self._rebuild, args=(slot, version, build), daemon=True).start()

    def _rebuild(self, slot: _Slot[T], version: str, build: Callable[[], T]) -> None:
        close_old_connections()
        try:
            value = build()
            with slot.lock:
                self._store(slot, version, value)
        except Exception as error:
            # Built again in the next request, which then sees the error itself (a listing
            # that was deleted answers 404, not its old body forever). A 404 is no failure:
            # the room or listing is gone since (hidden, deleted).
            if not isinstance(error, Http404):
                log.exception("background rebuild failed")
            with slot.lock:
                slot.value = slot.version = None
        finally:
            slot.building = False
            connections.close_all()  # this thread's own connections
