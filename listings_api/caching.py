"""Cached JSON bodies with validators: built once per data version, served with ETag,
Last-Modified, Cache-Control and 304s.

The data version is the site's own (directory.freshness.data_version): a crawl's, a moderator's
or a listing's change, or a room passing the offline grace period, shows up within
DATA_VERSION_SECONDS or so, while unchanged data is never rebuilt.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date

from directory.freshness import DataVersion, StaleWhileRebuild, data_version

CACHE_PREFIX = "lp:v2:"  # v2: (version, CachedBody), one entry per key
# Below this size gzip costs more than it saves.
GZIP_MIN_BYTES = 1024


@dataclass(frozen=True)
class CachedBody:
    """One built JSON body, its gzip form (or None when too small), its validators and the
    data version it was built for."""

    body: bytes
    gzipped: bytes | None
    etag: str
    last_modified: datetime | None
    version: str


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
    background, the previous one: see directory/freshness.py).

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
