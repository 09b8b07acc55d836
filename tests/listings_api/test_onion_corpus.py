"""A corpus of onion requests shaped as Session Desktop, Android and libsession-util build them,
each with the reply it must get: the outer status (200 or 400, nothing else) and, inside the
encrypted reply, the inner status, headers and body, read as Desktop reads them.

The shapes, from the upstream code:
- Desktop (AES-GCM, no enc_type): outer JSON `{"host", "target", "method", "ephemeral_key"}`,
  with `"protocol": "http"` and `"port"` before the key for a plain-HTTP URL
  (`ts/session/apis/snode_api/onions.ts` `buildOnionCtxs`, `encryptForRelayV2`); inner
  `{"method", "endpoint", "headers"}`, the query string in `endpoint`, a body part only when
  there is a body (`ts/session/onions/onionSend.ts` `buildSendViaOnionPayload`,
  `ts/session/onions/onionv4.ts` `encodeV4Request`); SOGS-style requests add the X-SOGS-*
  headers and `Content-Type: application/json` (`sogsV3SendMessage.ts`, `sogsBlinding.ts`).
- Android (AES-GCM, no enc_type): outer `{"host", "target", "method", "protocol", "port",
  "ephemeral_key"}` (`OnionRequestEncryption.kt` `encryptHop`); inner `{"endpoint", "method",
  "headers"}`, header values that read as booleans or integers sent as JSON ones, a
  `content-type` with a body (`OnionRequestAPI.kt` `generatePayload`, `OKHTTPUtilities.kt`
  `getHeadersForOnionRequest`).
- libsession-util (either cipher, `enc_type` always): outer keys sorted as nlohmann::json dumps
  them, `protocol` and `port` always (`src/onionreq/builder.cpp` `Builder::build`); the v4
  payload inside is pysogs's (`sogs/routes/onion_request.py`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.listings_api.conftest import PROVIDER_PUBKEY_HEX
from tests.support.onion_client import OnionClient, bdecode_strings, v4_payload

HOST = "directory.example"
TARGET = "/oxen/v4/lsrpc"
# What Desktop's getOurOpenGroupHeaders adds (sogsBlinding.ts): the timestamp as a string.
SOGS_HEADERS = {
    "X-SOGS-Pubkey": "15" + "ab" * 32,
    "X-SOGS-Timestamp": "1700000000",
    "X-SOGS-Nonce": "qqqqqqqqqqqqqqqqqqqqqg==",
    "X-SOGS-Signature": "c2ln" * 22,
    "Content-Type": "application/json",
}
INVALID_V4 = b"Invalid v4 onion request"  # pysogs's inner 400 body, word for word
Build = Callable[[OnionClient], bytes]


@dataclass(frozen=True)
class Case:
    """One request and the reply it must get: `refused` (an outer 400's text) or an inner
    `status` whose body is `body`, or the body of a direct GET of `same_as`."""

    id: str
    enc_type: str | None
    build: Build
    status: int | None = None
    same_as: str | None = None
    body: bytes | None = None
    refused: str | None = None
    rooms: bool = False  # on the imported directory, not the empty one
    settings: dict = field(default_factory=dict)
    sent_before: int = 0  # the same body sent this many times first
    # False: no outer JSON a storage server could read, so none relays it; only a direct
    # client can send it (oxenss parses the JSON before relaying anything).
    relayed: bool = True


def desktop(
    method: str,
    endpoint: str,
    headers: dict,
    body: bytes | None = None,
    *,
    http: bool = False,
    host: str = HOST,
    port: int = 80,
) -> Build:
    def build(client: OnionClient) -> bytes:
        route = {"host": host, "target": TARGET, "method": "POST"}
        if http:
            route |= {"protocol": "http", "port": port}
        meta = {"method": method, "endpoint": endpoint, "headers": headers}
        return client.envelope(
            v4_payload(meta, body), outer={**route, "ephemeral_key": client.pubkey_hex}
        )

    return build


def android(method: str, endpoint: str, headers: dict, body: bytes | None = None) -> Build:
    def build(client: OnionClient) -> bytes:
        outer = {
            "host": HOST,
            "target": TARGET,
            "method": "POST",
            "protocol": "https",
            "port": 443,
            "ephemeral_key": client.pubkey_hex,
        }
        meta = {"endpoint": endpoint, "method": method, "headers": headers}
        return client.envelope(v4_payload(meta, body), outer=outer)

    return build


def libsession_outer(client: OnionClient, **changes: object) -> dict:
    outer = {
        "enc_type": client.enc_type,
        "ephemeral_key": client.pubkey_hex,
        "host": HOST,
        "method": "POST",
        "port": 443,
        "protocol": "https",
        "target": TARGET,
    }
    return outer | changes


def libsession(endpoint: str, headers: dict | None = None) -> Build:
    meta = {"method": "GET", "endpoint": endpoint, "headers": headers or {}}
    return lambda client: client.envelope(v4_payload(meta), outer=libsession_outer(client))


def to_another_server(client: OnionClient) -> bytes:
    stranger = OnionClient(bytes(range(32)).hex(), client.enc_type)  # some other server's key
    return desktop("GET", "/listings", {})(stranger)


def with_outer(**changes: object) -> Build:
    payload = v4_payload({"method": "GET", "endpoint": "/listings", "headers": {}})
    return lambda client: client.envelope(payload, outer=libsession_outer(client, **changes))


def post_to_a_get_endpoint(case_id: str, build: Build) -> Case:
    """A POST with a body to a GET-only endpoint: DRF's 405 inside a 200 onion reply."""
    return Case(case_id, None, build, 405, body=b'{"detail":"Method \\"POST\\" not allowed."}')


CASES = [
    # --- Desktop ---------------------------------------------------------------------------
    Case("desktop-listings", None, desktop("GET", "/listings", {}), 200, "/listings"),
    Case(
        "desktop-listing-query-sogs-headers-over-http",
        None,
        desktop("GET", "/listing/all?language=en", SOGS_HEADERS, http=True),
        200,
        "/listing/all?language=en",
        rooms=True,
    ),
    Case(
        "desktop-accepts-gzip-gets-identity",
        None,
        desktop("GET", "/listing/all", {"Accept-Encoding": "gzip, deflate, br"}),
        200,
        "/listing/all",
        rooms=True,
    ),
    post_to_a_get_endpoint(
        "desktop-post-with-body-to-a-get-endpoint",
        desktop("POST", "/listings", {"Content-Type": "application/json"}, b'{"a":1}'),
    ),
    Case(
        "desktop-unknown-endpoint",
        None,
        desktop("GET", "/capabilities", SOGS_HEADERS),
        404,
        body=b'{"detail":"Not found."}',
    ),
    Case(
        "desktop-bad-query-parameter",
        None,
        desktop("GET", "/listing/all?sort=bogus", {}),
        400,
        "/listing/all?sort=bogus",
    ),
    Case(
        "desktop-throttled",
        None,
        desktop("GET", "/listings", {}),
        429,
        body=b'{"detail":"Too many onion requests from this address; retry later."}',
        settings={"LP_ONION_THROTTLE_RATE": "1/min"},
        sent_before=1,
    ),
    # --- Android ---------------------------------------------------------------------------
    Case(
        "android-json-boolean-and-number-headers",
        None,
        android(
            "GET",
            "/listing/all?language=en",
            {"X-SOGS-Timestamp": 1700000000, "X-Flag": True, "X-Off": False},
        ),
        200,
        "/listing/all?language=en",
        rooms=True,
    ),
    # No client sends one; pysogs takes it (Werkzeug upper-cases the method), so do we.
    Case("android-lower-case-method", None, android("get", "/listings", {}), 200, "/listings"),
    post_to_a_get_endpoint(
        "android-post-with-body",
        android("POST", "/listing/all", {"content-type": "application/json; charset=utf-8"}, b"{}"),
    ),
    Case(
        "android-header-value-object",
        None,
        android("GET", "/listings", {"X-Nested": {"a": 1}}),
        400,
        body=INVALID_V4,
    ),
    # --- libsession-util -------------------------------------------------------------------
    Case("libsession-xchacha20", "xchacha20", libsession("/listings"), 200, "/listings"),
    Case(
        "libsession-aes-gcm-query",
        "aes-gcm",
        libsession("/listing/all?sort=name"),
        200,
        "/listing/all?sort=name",
    ),
    # --- refused before decryption: outer 400 -----------------------------------------------
    Case(
        "garbage",
        None,
        lambda client: b"\x00\x01garbage",
        refused="Invalid onion request: MalformedEnvelope.",
        relayed=False,
    ),
    Case(
        "truncated",
        "xchacha20",
        lambda client: libsession("/listings")(client)[:30],
        refused="Invalid onion request: MalformedEnvelope.",
        relayed=False,
    ),
    Case(
        "encrypted-to-another-key",
        None,
        to_another_server,
        refused="Invalid onion request: DecryptionFailed.",
    ),
    Case(
        "unsupported-enc-type",
        "aes-gcm",
        with_outer(enc_type="aes-256-cbc"),
        refused="Invalid onion request: MalformedEnvelope.",
    ),
    Case(
        "ephemeral-key-of-31-bytes",
        "xchacha20",
        with_outer(ephemeral_key="ab" * 31),
        refused="Invalid onion request: MalformedEnvelope.",
    ),
    Case(
        "oversized",
        None,
        desktop("GET", "/listings", {"X-Pad": "p" * 3000}),
        refused="Onion request body is too large.",
        settings={"LP_ONION_MAX_BYTES": 2000},
    ),
]


def send(case: Case, post: Callable[[bytes], object]) -> tuple[OnionClient, object]:
    """POST the case's envelope (after `sent_before` copies); the client and the response."""
    client = OnionClient(PROVIDER_PUBKEY_HEX, case.enc_type)
    body = case.build(client)
    for _ in range(case.sent_before):
        post(body)
    return client, post(body)


def prepare(case: Case, request: pytest.FixtureRequest, settings) -> None:
    """The case's directory (empty, or the imported snapshot) and settings."""
    if case.rooms:
        request.getfixturevalue("imported")
    for name, value in case.settings.items():
        setattr(settings, name, value)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_client_shaped_onion_request_gets_its_reply(
    case, request, db, client, post_onion, settings
):
    """Each case as the client of its id builds it (the upstream files are in the module's
    docstring); the reply as Desktop's `decodeV4Response` (`ts/session/onions/onionv4.ts`)
    reads it: headers always there, a JSON content-type meaning a body that JSON.parses as
    it is, never compressed."""
    prepare(case, request, settings)
    onion, response = send(case, post_onion)
    if case.refused is not None:
        assert response.status_code == 400
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        assert response.content == case.refused.encode()
        return
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    plaintext = onion.decrypt(response.content)
    code, headers, body = onion.read_reply(response.content)
    assert len(bdecode_strings(plaintext)) == 2  # a body part always, even when empty
    assert code == case.status
    assert "content-encoding" not in headers and "content-length" not in headers
    assert all(name == name.lower() for name in headers)
    if case.same_as is not None:
        assert body == client.get(case.same_as).content
    if case.body is not None:
        assert body == case.body
    if body == INVALID_V4:
        assert headers["content-type"] == "text/plain; charset=utf-8"
    else:
        assert headers["content-type"] == "application/json"
        json.loads(body)


@pytest.mark.parametrize("enc_type", [None, "xchacha20"])
@pytest.mark.parametrize("accept", ["gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8, *;q=0.1"])
def test_inner_reply_is_never_compressed(imported, client, post_onion, enc_type, accept):
    """Desktop JSON.parses an inner body whenever its content-type is application/json,
    without looking at any content-encoding (`ts/session/onions/onionv4.ts`
    `decodeV4Response`): the inner Accept-Encoding is ignored, though a direct GET with it
    is compressed."""
    direct = client.get("/listing/all", HTTP_ACCEPT_ENCODING=accept)
    assert direct["Content-Encoding"] == "gzip"
    headers = {"Accept-Encoding": accept}
    build = (
        libsession("/listing/all", headers) if enc_type else desktop("GET", "/listing/all", headers)
    )
    onion, response = send(Case("gzip", enc_type, build), post_onion)
    code, headers, body = onion.read_reply(response.content)
    assert (response.status_code, code) == (200, 200)
    assert "content-encoding" not in headers
    assert json.loads(body) == json.loads(client.get("/listing/all").content)
