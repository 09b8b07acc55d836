"""`POST /oxen/v4/lsrpc`: Session onion requests (v4) to the listing endpoints, as pysogs
answers them (`sogs/routes/onion_request.py`).

The outer body is decrypted with the provider's key (`keys.py`); the inner request is dispatched
to the JSON endpoints of `api_urls.py` only, by calling their views on a request built from
the inner method, path, query and headers; the reply is the bencoded `[{code, headers}, body]`,
encrypted with the same scheme and a fresh nonce, sent with HTTP 200. Everything refused before
decryption (not a POST, over the size cap, an envelope we cannot open) gets a plain-text 400,
the only other outer status; everything after, throttling included, is an inner status.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import OrderedDict
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.urls import Resolver404, URLResolver
from django.urls.resolvers import RegexPattern
from django.utils.encoding import iri_to_uri
from django.views.decorators.csrf import csrf_exempt
from rest_framework.throttling import SimpleRateThrottle

from directory.freshness import data_version
from directory.lib.onion import (
    EnvelopeTooLarge,
    MalformedPayload,
    OnionError,
    V4Request,
    open_request,
    parse_v4_request,
    v4_response_parts,
)
from directory.ops.metrics import ONION_REQUESTS
from listings_api.api_urls import json_urlpatterns
from listings_api.caching import encode_json
from listings_api.keys import provider_privkey

log = logging.getLogger(__name__)

JSON_HEADERS = {"content-type": "application/json"}
# Headers our own reverse proxy sets about the outer connection; an inner request keeps the
# outer values and may not choose its own (it must not pick the host of absolute URLs).
PROXY_HEADERS = frozenset(
    {
        "HTTP_HOST",
        "HTTP_FORWARDED",
        "HTTP_X_FORWARDED_FOR",
        "HTTP_X_FORWARDED_HOST",
        "HTTP_X_FORWARDED_PORT",
        "HTTP_X_FORWARDED_PROTO",
        "HTTP_X_REAL_IP",
    }
)
# Inner headers the view never sees. The body length is the body part's (pysogs
# `sogs/routes/subrequest.py`). No compression either, whatever the client accepts: Desktop
# JSON.parses an inner body as it is whenever its content-type is JSON, never reading its
# content-encoding (`ts/session/onions/onionv4.ts` `decodeV4Response`).
INNER_IGNORED_HEADERS = frozenset({"HTTP_CONTENT_LENGTH", "HTTP_ACCEPT_ENCODING"})
_resolver = URLResolver(RegexPattern(r"^/"), json_urlpatterns)


class OnionThrottle(SimpleRateThrottle):
    """Per-address limit on onion requests (the address is a service node's)."""

    scope = "lp_onion"

    def get_rate(self) -> str | None:
        return settings.LP_ONION_THROTTLE_RATE

    def get_cache_key(self, request: HttpRequest, view: object) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def _refused(outcome: str, reason: str) -> HttpResponse:
    """The outer 400 of a request refused before decryption, with a short plain-text reason.

    Outer 400 and nothing else: a storage server hands our status back to the client (oxenss
    `rpc/request_handler.cpp`, `process_onion_req` to a server), and clients take any outer
    status but 200, 400 and 404 for a fault of their own path, which they then drop and retry
    (Desktop `ts/session/apis/snode_api/onions.ts` `processAnyOtherErrorOnPath`, Android
    `OnionRequestAPI.kt` `sendOnionRequest`). pysogs refuses with 400 alone too
    (`sogs/routes/onion_request.py`).
    """
    ONION_REQUESTS.labels(outcome).inc()
    return HttpResponse(reason, status=400, content_type="text/plain; charset=utf-8")


@csrf_exempt
def onion_request(request: HttpRequest) -> HttpResponseBase:
    try:
        return _answer(request)
    except Exception:
        # Our fault (e.g. an unreadable key file), not the path's: still no outer 5xx, which
        # the client would blame on its path (see `_refused`).
        log.exception("Onion request failed before its reply")
        return _refused("error", "Onion request failed.")


def _answer(request: HttpRequest) -> HttpResponseBase:
    if request.method != "POST":
        # Storage servers always POST (oxenss `rpc/request_handler.cpp`, cpr::PostCallback).
        return _refused("bad_method", "Onion requests are POST requests.")
    # Counted before decryption, so garbage counts too; the verdict is given inside the reply.
    throttled = _throttled_reply(request)
    body = _read_capped(request, settings.LP_ONION_MAX_BYTES)
    if body is None:
        return _refused("too_large", "Onion request body is too large.")
    try:
        opened = open_request(body, provider_privkey(), max_size=settings.LP_ONION_MAX_BYTES)
    except EnvelopeTooLarge:
        return _refused("too_large", "Onion request body is too large.")
    except OnionError as exc:
        return _refused("bad_envelope", f"Invalid onion request: {type(exc).__name__}.")
    if throttled is not None:
        ONION_REQUESTS.labels("throttled").inc()
        parts = throttled
    else:
        ONION_REQUESTS.labels("ok").inc()
        parts = handle_payload(request, opened.payload)
    reply = opened.encrypt_reply_stream(parts)
    # AES-GCM replies stream as they are encrypted (a reply of megabytes is sent while the rest
    # is encrypted); XChaCha20 ones are one chunk, libsodium's AEAD being one-shot.
    response = StreamingHttpResponse(reply.chunks, content_type="application/octet-stream")
    response._csp_exempt = True  # ciphertext, not a document: no policy to build
    response["Content-Length"] = str(reply.length)
    return response


def _throttled_reply(request: HttpRequest) -> list[bytes] | None:
    """The inner JSON 429 when this address is over LP_ONION_THROTTLE_RATE, else None.

    Inside the encrypted reply, not as the outer status (see `_refused`): Desktop and Android
    read an inner 429 as the destination's answer and retry a few times at most (Desktop
    `ts/session/onions/onionSend.ts`, Android `OnionRequestAPI.kt` `handleResponse`).
    """
    throttle = OnionThrottle()
    if throttle.allow_request(request, None):
        return None
    headers = dict(JSON_HEADERS)
    wait = throttle.wait()
    if wait is not None:
        headers["retry-after"] = str(max(1, round(wait)))
    detail = {"detail": "Too many onion requests from this address; retry later."}
    return v4_response_parts(429, headers, encode_json(detail))


def _read_capped(request: HttpRequest, cap: int) -> bytes | None:
    """The body, or None when it is over `cap` (by its declared length, or by reading cap+1)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > cap:
        return None
    body = request.read(cap + 1)
    return None if len(body) > cap else body


def handle_payload(outer: HttpRequest, payload: bytes) -> list[bytes]:
    """The bencoded v4 reply to a decrypted payload, in parts; every failure is an inner
    status."""
    try:
        inner = parse_v4_request(payload)
    except MalformedPayload as exc:
        log.debug("Invalid v4 onion request: %s", exc)
        # pysogs's wording and status (`handle_v4_onionreq_plaintext`), inside the reply.
        return v4_response_parts(
            400, {"content-type": "text/plain; charset=utf-8"}, b"Invalid v4 onion request"
        )
    try:
        return dispatch(outer, inner)
    except Exception:
        log.exception("Onion request to %s failed", inner.path[:200])
        return v4_response_parts(500, JSON_HEADERS, encode_json({"detail": "Internal error."}))


class ReplyCache:
    """The last replies to inner GETs, by data version and everything the answer depends on.

    Every Session client asks for the same few listings: after the first, the answer is the
    same bytes until the data changes, so the inner request, URL resolution and view are
    skipped. Only answers made from the current data version are kept (never a body served
    while its successor is rebuilt), and a new version is a new key.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.replies: OrderedDict[tuple, list[bytes]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple) -> list[bytes] | None:
        with self.lock:
            parts = self.replies.get(key)
            if parts is not None:
                self.replies.move_to_end(key)
            return parts

    def put(self, key: tuple, parts: list[bytes]) -> None:
        with self.lock:
            self.replies[key] = parts
            self.replies.move_to_end(key)
            while len(self.replies) > self.size:
                self.replies.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.replies.clear()


_replies = ReplyCache()


@receiver(setting_changed)
def _forget_replies(**kwargs: object) -> None:
    _replies.clear()  # an answer may depend on any setting (base URL, cache lifetimes...)


# The inner headers a listing's answer depends on (validators, negotiation); never
# Accept-Encoding, which the inner request does not get (see INNER_IGNORED_HEADERS).
REPLY_HEADERS = ("accept", "if-none-match", "if-modified-since")


def _reply_key(outer: HttpRequest, inner: V4Request) -> tuple | None:
    if inner.method != "GET" or inner.body:
        return None
    headers = {name.lower(): value for name, value in inner.headers.items()}
    # Absolute URLs in the answer start with the outer request's scheme and host.
    origin = (outer.scheme, outer.META.get("HTTP_HOST", ""), outer.META.get("SERVER_NAME", ""))
    return (
        data_version().token,
        *origin,
        inner.path,
        inner.query,
        *(headers.get(name) for name in REPLY_HEADERS),
    )


def dispatch(outer: HttpRequest, inner: V4Request) -> list[bytes]:
    """The reply of the JSON endpoint's own view (or a recent copy of it, see ReplyCache);
    anything else is a 404."""
    key = _reply_key(outer, inner)
    parts = _replies.get(key) if key is not None else None
    if parts is None:
        parts = _run_view(outer, inner, key)
    return parts


def _run_view(outer: HttpRequest, inner: V4Request, key: tuple | None) -> list[bytes]:
    request = inner_request(outer, inner)
    try:
        match = _resolver.resolve(request.path_info)
    except Resolver404:
        return v4_response_parts(404, JSON_HEADERS, encode_json({"detail": "Not found."}))
    request.resolver_match = match
    response = match.func(request, *match.args, **match.kwargs)
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()
    parts = v4_response_parts(response.status_code, dict(response.items()), response.content)
    if key is not None and getattr(response, "lp_data_version", None) == key[0]:
        _replies.put(key, parts)
    return parts


def inner_request(outer: HttpRequest, inner: V4Request) -> WSGIRequest:
    """A request as the endpoint would get it directly: the outer connection's environment
    (host, scheme, client address) with the inner method, path, query, headers and body."""
    environ = {
        key: value
        for key, value in outer.META.items()
        if not key.startswith("HTTP_") and key not in {"CONTENT_TYPE", "CONTENT_LENGTH"}
    }
    environ.update({key: outer.META[key] for key in PROXY_HEADERS if key in outer.META})
    for name, value in inner.headers.items():
        key = "HTTP_" + name.upper().replace("-", "_")
        if key == "HTTP_CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key not in PROXY_HEADERS and key not in INNER_IGNORED_HEADERS:
            environ[key] = value
    body = inner.body or b""
    environ.update(
        {
            "REQUEST_METHOD": inner.method,
            # WSGI carries the decoded path as bytes in a latin-1 str; Django decodes it as UTF-8.
            "PATH_INFO": unquote_to_bytes(inner.path).decode("latin-1"),
            "QUERY_STRING": iri_to_uri(inner.query),
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
    )
    request = WSGIRequest(environ)
    request.lp_internal = True  # throttled already, as an onion request
    return request
