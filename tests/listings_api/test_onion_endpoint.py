"""POST /oxen/v4/lsrpc: Session-style clients (both schemes) get the same JSON as direct GETs;
the inner request reaches the JSON endpoints only; bad envelopes get a plain 400."""

from __future__ import annotations

import json
import struct
from io import StringIO

import pytest
from django.core.management import call_command

from directory.lib.onion import build_v4_request
from listings_api import keys, lsrpc
from tests.conftest import REPO
from tests.listings_api.conftest import PROVIDER_PRIVKEY, PROVIDER_PUBKEY_HEX
from tests.support.onion_client import OnionClient, bencode_strings

SCHEMES = ["aes-gcm", "xchacha20", "gcm", "xchacha20-poly1305", None]
VECTORS = json.loads((REPO / "fixtures/onion-test-vectors.json").read_text())
ENVELOPE_CASES = [case for case in VECTORS["cases"] if "envelope_hex" in case]


def onion_get(
    post_onion, endpoint, enc_type="aes-gcm", headers=None, pubkey=PROVIDER_PUBKEY_HEX, **outer
):
    """The decrypted (code, headers, body); `outer` goes to the outer request (e.g. HTTP_HOST)."""
    client = OnionClient(pubkey, enc_type)
    response = post_onion(client.request("GET", endpoint, headers), **outer)
    assert response.status_code == 200, response.content
    return client.read_reply(response.content)


@pytest.mark.parametrize("enc_type", SCHEMES)
def test_onion_reply_is_byte_identical_to_a_direct_get(client, imported, post_onion, enc_type):
    for endpoint in ["/listings", "/listing/all", "/listing/all?sort=name&q=session"]:
        direct = client.get(endpoint)
        code, headers, body = onion_get(post_onion, endpoint, enc_type)
        assert code == 200
        assert body == direct.content
        assert headers["content-type"] == "application/json"
        assert headers["etag"] == direct["ETag"]
        assert "content-length" not in headers


def test_reply_is_raw_ciphertext_of_the_expected_size(client, imported, post_onion):
    for enc_type, overhead in [("aes-gcm", 12 + 16), ("xchacha20", 24 + 16)]:
        onion = OnionClient(PROVIDER_PUBKEY_HEX, enc_type)
        response = post_onion(onion.request("GET", "/listings"))
        plaintext = onion.decrypt(response.content)
        assert len(response.content) == len(plaintext) + overhead


def test_inner_conditional_request_gets_a_304(client, imported, post_onion):
    etag = client.get("/listing/all")["ETag"]
    code, _, body = onion_get(post_onion, "/listing/all", headers={"If-None-Match": etag})
    assert code == 304 and body == b""


def test_inner_unknown_listing_is_the_same_json_404(client, imported, post_onion):
    code, _, body = onion_get(post_onion, "/listing/nope")
    assert code == 404 and body == client.get("/listing/nope").content


@pytest.mark.parametrize(
    "endpoint",
    ["/", "/admin/", "/admin/login/", "/api/", "/api/schema/", "/oxen/v4/lsrpc", "/static/x"],
)
def test_only_the_json_endpoints_are_reachable(db, post_onion, endpoint):
    code, _, body = onion_get(post_onion, endpoint)
    assert code == 404
    assert json.loads(body) == {"detail": "Not found."}


def test_inner_post_is_not_allowed(db, post_onion):
    onion = OnionClient(PROVIDER_PUBKEY_HEX)
    meta = json.dumps({"method": "POST", "endpoint": "/listings", "headers": {}}).encode()
    response = post_onion(onion.envelope(bencode_strings([meta, b"{}"])))
    code, _, _ = onion.read_reply(response.content)
    assert response.status_code == 200 and code == 405


def test_inner_host_header_cannot_change_absolute_urls(client, imported, post_onion):
    _, _, body = onion_get(post_onion, "/listing/all", headers={"Host": "evil.example"})
    assert b"evil.example" not in body
    assert body == client.get("/listing/all").content


@pytest.mark.parametrize(
    "payload",
    [
        b"not bencode",
        bencode_strings([b"not json"]),
        bencode_strings([b'{"method":"GET","endpoint":"no-slash"}']),
        bencode_strings([b'{"method":"GET","endpoint":"/listings"}', b"", b"three"]),
        b"l99999999999:e",
    ],
)
def test_undecodable_inner_request_is_an_encrypted_400(db, post_onion, payload):
    onion = OnionClient(PROVIDER_PUBKEY_HEX, "xchacha20")
    response = post_onion(onion.envelope(payload))
    assert response.status_code == 200
    code, _, body = onion.read_reply(response.content)
    assert code == 400 and body == b"Invalid v4 onion request"


def test_request_without_headers_key_works(db, post_onion):
    onion = OnionClient(PROVIDER_PUBKEY_HEX)
    response = post_onion(onion.envelope(b'l39:{"method":"GET","endpoint":"/listings"}e'))
    assert onion.read_reply(response.content)[0] == 200


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x01\x02",
        struct.pack("<I", 0xFFFFFFFF) + b"x" * 64,
        struct.pack("<I", 40) + b"\x00" * 40 + b"{}",
        struct.pack("<I", 40) + b"\x00" * 40 + b"not json",
        struct.pack("<I", 40) + b"\x00" * 40 + b'{"ephemeral_key":"zz"}',
        struct.pack("<I", 40) + b"\x00" * 40 + b'{"ephemeral_key":"' + b"00" * 32 + b'"}',
    ],
    ids=["empty", "short", "huge-prefix", "no-key", "bad-json", "bad-key", "low-order-key"],
)
def test_malformed_envelope_is_a_short_plain_400(db, post_onion, body):
    response = post_onion(body)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert len(response.content) < 200


def test_wrong_server_key_is_a_plain_400(db, post_onion):
    stranger = OnionClient(bytes(range(32)).hex())  # someone else's key
    response = post_onion(stranger.request("GET", "/listings"))
    assert response.status_code == 400
    assert b"DecryptionFailed" in response.content


def test_body_over_the_cap_is_refused_before_decryption(db, post_onion, settings, monkeypatch):
    """An outer 400, as pysogs refuses (`sogs/routes/onion_request.py`): a 413 would reach the
    client through the storage server as a fault of its own path."""
    settings.LP_ONION_MAX_BYTES = 1000
    monkeypatch.setattr(lsrpc, "open_request", None)  # never reached: no decryption at all
    onion = OnionClient(PROVIDER_PUBKEY_HEX)
    body = onion.envelope(build_v4_request("GET", "/listings", {"X-Pad": "p" * 2000}))
    response = post_onion(body)
    assert response.status_code == 400
    assert response.content == b"Onion request body is too large."


@pytest.mark.parametrize("method", ["get", "head", "put", "delete", "options", "patch"])
def test_other_methods_than_post_are_a_plain_400(client, db, method):
    """Storage servers only POST (oxenss `rpc/request_handler.cpp`); anything else is refused
    with the one outer status of a refusal, as every other refusal."""
    response = getattr(client, method)("/oxen/v4/lsrpc")
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    if method != "head":
        assert response.content == b"Onion requests are POST requests."


def test_onion_endpoint_needs_no_csrf_token(db):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    onion = OnionClient(PROVIDER_PUBKEY_HEX)
    response = strict.post(
        "/oxen/v4/lsrpc",
        data=onion.request("GET", "/listings"),
        content_type="application/octet-stream",
    )
    assert response.status_code == 200


@pytest.mark.parametrize("case", ENVELOPE_CASES, ids=lambda case: case["id"])
def test_libsession_vector_envelopes_open_with_their_server_key(db, post_onion, settings, case):
    """The vectors' envelopes carry "Hello world", which is no v4 request: the endpoint must
    open them (outer 200) and answer an encrypted inner 400 under the vector's scheme."""
    settings.LP_KEY_FILE.write_bytes(bytes.fromhex(case["server_x25519_secret_hex"]))
    keys._privkey_for.cache_clear()
    response = post_onion(bytes.fromhex(case["envelope_hex"]))
    assert response.status_code == 200
    # Decrypt the reply as the vector's client would, with its ephemeral secret.
    code, _, body = OnionClient.with_secret(
        case["server_x25519_public_hex"], case["enc_type"], case["client_x25519_secret_hex"]
    ).read_reply(response.content)
    assert code == 400 and body == b"Invalid v4 onion request"


def test_lp_keys_prints_the_key_that_works(imported, post_onion, settings):
    settings.LP_BASE_URL = "https://lp.example.org"
    out = StringIO()
    call_command("lp_keys", stdout=out)
    printed = out.getvalue()
    assert f"https://lp.example.org/?public_key={PROVIDER_PUBKEY_HEX}" in printed
    pubkey = printed.split("public key:")[1].split()[0]
    code, _, body = onion_get(post_onion, "/listings", "xchacha20", pubkey=pubkey)
    assert code == 200 and json.loads(body)["listings"]


def test_lp_keys_creates_a_private_key_file_on_first_use(db, settings, tmp_path):
    settings.LP_KEY_FILE = tmp_path / "new" / "key"
    keys._privkey_for.cache_clear()
    out = StringIO()
    call_command("lp_keys", stdout=out)
    data = settings.LP_KEY_FILE.read_bytes()
    assert len(data) == 32 and data != PROVIDER_PRIVKEY
    assert settings.LP_KEY_FILE.stat().st_mode & 0o777 == 0o600
    call_command("lp_keys", stdout=out)  # the second run reads the same key
    assert settings.LP_KEY_FILE.read_bytes() == data
    lines = out.getvalue().splitlines()
    assert lines[0] == lines[2]


def test_a_key_file_of_the_wrong_size_is_a_configuration_error(db, settings, tmp_path):
    from django.core.exceptions import ImproperlyConfigured

    settings.LP_KEY_FILE = tmp_path / "short"
    settings.LP_KEY_FILE.write_bytes(b"x" * 31)
    keys._privkey_for.cache_clear()
    with pytest.raises(ImproperlyConfigured):
        keys.provider_privkey()


def test_onion_requests_are_throttled_with_an_encrypted_json_429(db, post_onion, settings):
    """The 429 is inner, inside the encrypted reply; the outer status stays 200 (a storage
    server passes an outer one back as a path failure: Desktop
    `ts/session/apis/snode_api/onions.ts`, Android `OnionRequestAPI.kt`)."""
    settings.LP_ONION_THROTTLE_RATE = "2/min"
    onion = OnionClient(PROVIDER_PUBKEY_HEX)
    responses = [post_onion(onion.request("GET", "/listings")) for _ in range(3)]
    assert [response.status_code for response in responses] == [200, 200, 200]
    replies = [onion.read_reply(response.content) for response in responses]
    assert [code for code, _, _ in replies] == [200, 200, 429]
    _, headers, body = replies[2]
    assert headers["content-type"] == "application/json"
    assert 1 <= int(headers["retry-after"]) <= 60
    assert json.loads(body) == {"detail": "Too many onion requests from this address; retry later."}
