"""Cached JSON bodies with validators: built once per data version, served with ETag,
Last-Modified, Cache-Control and 304s.

The data version is read from the database in one cheap query (maxima of timestamps a crawl
or a moderator moves, and row counts), at most LP_VERSION_SECONDS apart per process, so a change
shows up within a second or so, while unchanged data is never rebuilt. The cache timeout
bounds what no timestamp records, such as a room passing the offline grace period.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.dateparse import parse_datetime
from django.utils.http import http_date

from directory.lib.rebuild import StaleWhileRebuild
from directory.models import CrawlRun, Listing, Room, RoomActivity, RoomTag, Server, Tag

CACHE_PREFIX = "lp:v2:"  # v2: (version, CachedBody), one entry per key
# Below this size gzip costs more than it saves.
GZIP_MIN_BYTES = 1024

# (model, column, aggregate): everything a listing's content depends on.
_STAMPS = (
    (Listing, "updated", "MAX"),
    (Listing.history.model, "history_date", "MAX"),
    (CrawlRun, "finished_at", "MAX"),
    (Room, "last_seen", "MAX"),
    (Room, "id", "COUNT"),
    (Room.history.model, "history_date", "MAX"),
    (Server, "last_poll_at", "MAX"),
    (Server, "key_checked_at", "MAX"),
    (Server.history.model, "history_date", "MAX"),
    (RoomTag, "id", "COUNT"),
    (RoomTag.history.model, "history_date", "MAX"),
    (Tag, "id", "COUNT"),
    (RoomActivity, "id", "MAX"),
)


@dataclass(frozen=True)
class DataVersion:
    """A fingerprint of the listed data and the latest time it changed."""

    token: str
    last_modified: datetime | None


@dataclass(frozen=True)
class CachedBody:
    """One built JSON body, its gzip form (or None when too small), its validators and the
    data version it was built for."""

    body: bytes
    gzipped: bytes | None
    etag: str
    last_modified: datetime | None
    version: str


def _stamps_sql() -> str:
    quote = connection.ops.quote_name
    parts = [
        # Names come from our own models, never from input.
        f"(SELECT {function}({quote(column)}) FROM {quote(model._meta.db_table)})"  # noqa: S608
        for model, column, function in _STAMPS
    ]
    # Rooms still within the offline grace: nothing is written when a room passes it.
    parts.append(
        f"(SELECT COUNT(*) FROM {quote(Room._meta.db_table)} WHERE {quote('last_seen')} >= %s)"  # noqa: S608
    )
    return "SELECT " + ", ".join(parts)


class _VersionMemo:
    """The last fingerprint read by this process, reused for LP_VERSION_SECONDS: under load,
    requests in the same second then cost no query at all."""

    def __init__(self) -> None:
        self.until = 0.0
        self.version: DataVersion | None = None

    def get(self) -> DataVersion:
        now = time.monotonic()
        version = self.version
        if version is None or now >= self.until:
            version = read_data_version()
            self.version, self.until = version, now + settings.LP_VERSION_SECONDS
        return version


_version_memo = _VersionMemo()


def data_version() -> DataVersion:
    """The fingerprint, at most LP_VERSION_SECONDS old."""
    if settings.LP_VERSION_SECONDS <= 0:
        return read_data_version()
    return _version_memo.get()


def read_data_version() -> DataVersion:
    """Read the fingerprint: one query of indexed or small-table aggregates."""
    cutoff = timezone.now() - timedelta(days=settings.OFFLINE_GRACE_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(_stamps_sql(), [cutoff])
        row = cursor.fetchone()
    token = hashlib.sha256(repr(row).encode()).hexdigest()[:32]
    times = [_as_datetime(value) for value in row]
    moments = [moment for moment in times if moment is not None]
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


# A list longer than this is encoded item by item (see encode_json).
_CHUNK_ITEMS = 64


def encode_json(data: Any) -> bytes:
    """The one JSON encoding of every response, so direct and onion bodies are identical.

    The same bytes as one `json.dumps`, but long lists (a listing's rooms) are encoded an item
    at a time: the C encoder never lets go of the GIL, so a listing of megabytes in one call
    held up every request of the process for 50 ms while it was rebuilt in the background.
    """
    return "".join(_json_parts(data)).encode()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_parts(value: Any) -> Iterator[str]:
    if isinstance(value, list) and len(value) > _CHUNK_ITEMS:
        yield "["
        for index, item in enumerate(value):
            yield "," if index else ""
            yield from _json_parts(item)
        yield "]"
    elif isinstance(value, dict) and all(isinstance(key, str) for key in value):
        if not any(
            isinstance(item, (list, dict)) and len(item) > _CHUNK_ITEMS for item in value.values()
        ):
            yield _dumps(value)
            return
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            yield "," if index else ""
            yield _dumps(key) + ":"
            yield from _json_parts(item)
        yield "}"
    else:
        yield _dumps(value)


# Per process: a listing of 2,000 rooms is megabytes; fetching and unpickling it from Redis or a
# file on every request would cost more than serving it. Filtered listings get keys of their own.
_bodies: StaleWhileRebuild[CachedBody] = StaleWhileRebuild(max_keys=16)


def cached_body(key: str, build: Callable[[], Any]) -> CachedBody:
    """The body for `key` at the current data version (or, while it is rebuilt in the
    background, the previous one: see directory/lib/rebuild.py).

    Processes share the newest copy through the cache (StaleWhileRebuild.get_shared).
    """
    version = data_version()
    # The cache's own key prefix goes in too: tests give each test a prefix of its own.
    scope = f"{cache.key_prefix}\x1e{key}"
    return _bodies.get_shared(
        scope,
        version.token,
        lambda: _make_entry(encode_json(build()), version),
        cache_key=CACHE_PREFIX + hashlib.sha256(scope.encode()).hexdigest(),
        timeout=settings.LP_CACHE_SECONDS,
    )


def _make_entry(body: bytes, version: DataVersion) -> CachedBody:
    # The ETag hashes the bytes themselves: equal bodies always share one, across versions.
    etag = f'W/"{hashlib.sha256(body).hexdigest()[:32]}"'
    gzipped = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
    return CachedBody(body, gzipped, etag, version.last_modified, version.token)


def json_response(request: HttpRequest, entry: CachedBody) -> HttpResponse:
    """200 with the body (gzip when accepted), or 304 when the client's copy is current."""
    wants_gzip = entry.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", "")
    response = HttpResponse(
        entry.gzipped if wants_gzip else entry.body, content_type="application/json"
    )
    if wants_gzip:
        response["Content-Encoding"] = "gzip"
    if entry.gzipped is not None:
        patch_vary_headers(response, ["Accept-Encoding"])
    # django-csp's exemption: a policy is for documents, and building it is a third of the
    # cost of serving a cached body. nosniff (SecurityMiddleware) keeps JSON from being one.
    response._csp_exempt = True
    response["ETag"] = entry.etag
    response["Cache-Control"] = f"public, max-age={settings.LP_CLIENT_MAX_AGE}"
    last_modified = None
    if entry.last_modified is not None:
        last_modified = int(entry.last_modified.timestamp())
        response["Last-Modified"] = http_date(last_modified)
    conditional = get_conditional_response(
        request, etag=entry.etag, last_modified=last_modified, response=response
    )
    # What the answer was made from: the onion endpoint reuses answers made from current data.
    conditional.lp_data_version = entry.version
    return conditional
