"""Onion-request crypto and framing: libsession's vectors, round trips, and hostile input."""

from __future__ import annotations

import base64
import contextlib
import json
import struct
from typing import Any

import nacl.bindings
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from directory.lib import bencode, onion
from directory.lib.onion import (
    Channel,
    DecryptionFailed,
    EncType,
    EnvelopeTooLarge,
    InvalidPubkey,
    MalformedEnvelope,
    MalformedPayload,
    OnionError,
)
from tests.conftest import REPO

VECTORS = json.loads((REPO / "fixtures/onion-test-vectors.json").read_text())
CASES = {case["id"]: case for case in VECTORS["cases"]}
HOP_CASES = [case for case in VECTORS["cases"] if "blob_hex" in case]
ENVELOPE_CASES = [case for case in VECTORS["cases"] if "envelope_hex" in case]
KEY_FIELDS = {EncType.AES_GCM: "aes_gcm_key_hex", EncType.XCHACHA20: "xchacha20_key_hex"}

SERVER_PRIVKEY = bytes.fromhex("2f4d1c0d28e137777ec0a316e9f4f763e3e66662a6c51994c6315c9ef34b6deb")
SERVER_PUBKEY = onion.x25519_pubkey(SERVER_PRIVKEY)
# pk / hex / base64 / base32z of one key, from oxenc's encoding tests.
OXENC_KEY = bytes.fromhex("f16ba5591039f089b42a834175093094074d0d937a79e53e5ce730f946e14b88")
OXENC_BASE64 = "8WulWRA58Im0KoNBdQkwlAdNDZN6eeU+XOcw+UbhS4g="
OXENC_BASE32Z = "6fi4kseo88aeupbkopyzknjo1odw4dcuxjh6kx1hhhax1tzbjqry"


def _h(value: str) -> bytes:
    return bytes.fromhex(value)


def _case_keys(case: dict[str, Any]) -> tuple[bytes, bytes, bytes, bytes]:
    return (
        _h(case["client_x25519_secret_hex"]),
        _h(case["client_x25519_public_hex"]),
        _h(case["server_x25519_secret_hex"]),
        _h(case["server_x25519_public_hex"]),
    )


def _hop_envelope(case: dict[str, Any], blob: bytes | None = None) -> onion.Envelope:
    return onion.Envelope(
        ciphertext=_h(case["blob_hex"]) if blob is None else blob,
        ephemeral_pubkey=_h(case["client_x25519_public_hex"]),
        enc_type=EncType.parse(case["enc_type"]),
        metadata={},
    )


def _envelope(blob: bytes, metadata: object, *, prefix: int | None = None) -> bytes:
    size = len(blob) if prefix is None else prefix
    return struct.pack("<I", size) + blob + json.dumps(metadata).encode()


def _base32z(key: bytes) -> str:
    # Written independently of the module's decoder: via a bit string, not integer shifts.
    bits = "".join(f"{byte:08b}" for byte in key) + "0000"
    alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769"
    return "".join(alphabet[int(bits[i : i + 5], 2)] for i in range(0, len(bits), 5))


# --- libsession vectors -----------------------------------------------------------------


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda case: case["id"])
def test_vector_public_keys_derive_from_their_secrets(case: dict[str, Any]) -> None:
    client_secret, client_public, server_secret, server_public = _case_keys(case)
    assert onion.x25519_pubkey(client_secret) == client_public
    assert onion.x25519_pubkey(server_secret) == server_public


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda case: case["id"])
@pytest.mark.parametrize("enc_type", list(EncType))
def test_vector_symmetric_keys_match_derived_values(
    case: dict[str, Any], enc_type: EncType
) -> None:
    _, client_public, server_secret, server_public = _case_keys(case)
    shared = nacl.bindings.crypto_scalarmult(server_secret, client_public)
    assert shared.hex() == case["derived"]["shared_secret_hex"]
    channel = Channel.derive(enc_type, shared, client_public, server_public)
    assert channel.key.hex() == case["derived"][KEY_FIELDS[enc_type]]


@pytest.mark.parametrize("name", ["hop-aes-gcm", "hop-xchacha20"])
def test_hop_vector_decrypts(name: str) -> None:
    case = CASES[name]
    envelope = _hop_envelope(case)
    channel = onion.server_channel(envelope, _h(case["server_x25519_secret_hex"]))
    plaintext = channel.decrypt(envelope.ciphertext)
    assert plaintext == b"Hello world"


SCHEMES_BY_NAME = {"AES-GCM": EncType.AES_GCM, "XChaCha20-Poly1305": EncType.XCHACHA20}


def _must_fail_attempt(case: dict[str, Any], entry: str) -> Channel:
    """Turn a vector's "<scheme> with key = <key>" sentence into the channel it describes."""
    scheme, _, key_name = entry.partition(" with key = ")
    _, client_public, _, server_public = _case_keys(case)
    shared = _h(case["derived"]["shared_secret_hex"])
    keys = {
        "raw S": shared,
        "BLAKE2b-256(S || B || A)": Channel.derive(
            EncType.XCHACHA20, shared, server_public, client_public
        ).key,
        "the aes-gcm key": _h(case["derived"]["aes_gcm_key_hex"]),
        "the xchacha20 key": _h(case["derived"]["xchacha20_key_hex"]),
    }
    # A KeyError here means the vectors grew a kind of attempt this test does not know yet.
    return Channel(SCHEMES_BY_NAME[scheme], keys[key_name])


@pytest.mark.parametrize(
    ("case", "entry"),
    [(case, entry) for case in VECTORS["cases"] for entry in case["must_fail"]],
    ids=lambda value: value["id"] if isinstance(value, dict) else value,
)
def test_vector_must_fail_attempts_fail(case: dict[str, Any], entry: str) -> None:
    blob = case.get("blob_hex") or case["envelope_parts"]["blob_hex"]
    with pytest.raises(DecryptionFailed):
        _must_fail_attempt(case, entry).decrypt(_h(blob))


@pytest.mark.parametrize("blob", VECTORS["negative_cases"]["blobs"], ids=lambda blob: blob["id"])
@pytest.mark.parametrize("enc_type", list(EncType))
def test_corrupted_vector_blobs_fail_with_either_scheme(
    blob: dict[str, Any], enc_type: EncType
) -> None:
    case = CASES[blob["derived_from"]]
    channel = Channel(enc_type, _h(case["derived"][KEY_FIELDS[enc_type]]))
    with pytest.raises(DecryptionFailed):
        channel.decrypt(_h(blob["blob_hex"]))


@pytest.mark.parametrize("case", ENVELOPE_CASES, ids=lambda case: case["id"])
def test_envelope_vector_parses_into_its_parts(case: dict[str, Any]) -> None:
    body = _h(case["envelope_hex"])
    parts = case["envelope_parts"]
    envelope = onion.parse_envelope(body)
    assert len(body) == parts["total_length"]
    assert len(envelope.ciphertext) == parts["length_prefix"]
    assert envelope.ciphertext == _h(parts["blob_hex"])
    assert envelope.metadata == json.loads(parts["json"])
    assert envelope.enc_type is EncType.parse(case["enc_type"])
    assert envelope.ephemeral_pubkey == _h(case["client_x25519_public_hex"])


@pytest.mark.parametrize("case", ENVELOPE_CASES, ids=lambda case: case["id"])
def test_envelope_vector_decrypts(case: dict[str, Any]) -> None:
    opened = onion.open_request(_h(case["envelope_hex"]), _h(case["server_x25519_secret_hex"]))
    assert opened.payload == case["expected_plaintext"].encode()


def test_envelope_vector_does_not_decrypt_with_raw_shared_secret() -> None:
    case = CASES["envelope-aes-gcm"]
    envelope = onion.parse_envelope(_h(case["envelope_hex"]))
    with pytest.raises(DecryptionFailed):
        Channel(EncType.AES_GCM, _h(case["derived"]["shared_secret_hex"])).decrypt(
            envelope.ciphertext
        )


@pytest.mark.parametrize("case", ENVELOPE_CASES, ids=lambda case: case["id"])
def test_envelope_vector_reply_has_expected_size_and_client_decrypts_it(
    case: dict[str, Any],
) -> None:
    client_secret, _, server_secret, server_public = _case_keys(case)
    opened = onion.open_request(_h(case["envelope_hex"]), server_secret)
    reply = opened.channel.encrypt(case["reply"]["plaintext"].encode())
    assert len(reply) == case["reply"]["expected_length"]

    enc_type = EncType.parse(case["enc_type"])
    _, session = onion.build_request(server_public, b"", enc_type, ephemeral_privkey=client_secret)
    assert session.channel.key.hex() == case["derived"][KEY_FIELDS[enc_type]]
    assert session.decrypt_response(reply) == b"Goodbye world"
    # One key serves both directions, so the client can also read its own request blob.
    assert session.channel.decrypt(opened.envelope.ciphertext) == b"Hello world"


# --- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize("enc_type", list(EncType))
def test_v4_round_trip_client_to_server_to_client(enc_type: EncType) -> None:
    request = onion.build_v4_request(
        "POST", "/rooms?all=1", {"Content-Type": "application/json"}, b'{"a":1}'
    )
    body, session = onion.build_request(SERVER_PUBKEY, request, enc_type)

    opened = onion.open_request(body, SERVER_PRIVKEY)
    assert opened.envelope.enc_type is enc_type
    v4 = onion.parse_v4_request(opened.payload)
    assert (v4.method, v4.path, v4.query, v4.body) == ("POST", "/rooms", "all=1", b'{"a":1}')
    assert v4.headers == {"Content-Type": "application/json"}

    reply = opened.channel.encrypt(
        onion.build_v4_response(201, {"Content-Type": "application/json"}, b"[]")
    )
    response = onion.parse_v4_response(session.decrypt_response(reply))
    assert response == onion.V4Response(201, {"content-type": "application/json"}, b"[]")


@pytest.mark.parametrize("enc_type", list(EncType))
def test_v3_round_trip_returns_base64_and_client_reads_it(enc_type: EncType) -> None:
    request = onion.build_v3_request("GET", "rooms")
    body, session = onion.build_request(SERVER_PUBKEY.hex(), request, enc_type)

    opened = onion.open_request(body, SERVER_PRIVKEY)
    assert json.loads(opened.payload) == {
        "endpoint": "rooms",
        "method": "GET",
        "body": "",
        "headers": {},
    }
    v3_answer = b'{"status_code":200,"rooms":[{"id":"a","name":"A"}]}'
    # A v3 server base64-encodes the blob (pysogs `handle_v3_onion_request`).
    reply = base64.b64encode(opened.channel.encrypt(v3_answer))
    base64.b64decode(reply, validate=True)  # the wire form is base64 text

    response = onion.parse_v3_response(session.decrypt_v3_response(reply + b"\n"))
    assert response.status == 200
    assert json.loads(response.body)["rooms"] == [{"id": "a", "name": "A"}]


@pytest.mark.parametrize("enc_type", list(EncType))
def test_functional_server_api_round_trip(enc_type: EncType) -> None:
    body, session = onion.build_request(SERVER_PUBKEY, b"ping", enc_type)
    envelope = onion.parse_envelope(body)
    channel = onion.server_channel(envelope, SERVER_PRIVKEY)
    assert channel.decrypt(envelope.ciphertext) == b"ping"
    reply = channel.encrypt(b"pong")
    assert len(reply) == enc_type.overhead + 4
    assert session.decrypt_response(reply) == b"pong"


def test_outer_json_carries_hex_key_and_enc_type_and_extra_metadata() -> None:
    privkey = onion.generate_privkey()
    body, session = onion.build_request(
        SERVER_PUBKEY,
        b"x",
        EncType.XCHACHA20,
        privkey,
        metadata={"host": "localhost", "target": "/oxen/v4/lsrpc", "ephemeral_key": "spoof"},
    )
    envelope = onion.parse_envelope(body)
    assert envelope.metadata == {
        "host": "localhost",
        "target": "/oxen/v4/lsrpc",
        "ephemeral_key": onion.x25519_pubkey(privkey).hex(),
        "enc_type": "xchacha20",
    }
    assert session.ephemeral_pubkey == envelope.ephemeral_pubkey


def test_missing_enc_type_means_aes_gcm() -> None:
    body, _ = onion.build_request(SERVER_PUBKEY, b"hi", EncType.AES_GCM)
    envelope = onion.parse_envelope(body)
    bare = _envelope(envelope.ciphertext, {"ephemeral_key": envelope.ephemeral_pubkey.hex()})
    assert onion.open_request(bare, SERVER_PRIVKEY).payload == b"hi"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("aes-gcm", EncType.AES_GCM),
        ("gcm", EncType.AES_GCM),
        ("xchacha20", EncType.XCHACHA20),
        ("xchacha20-poly1305", EncType.XCHACHA20),
        (None, EncType.AES_GCM),
    ],
)
def test_enc_type_aliases(name: str | None, expected: EncType) -> None:
    assert EncType.parse(name) is expected


@pytest.mark.parametrize("name", ["aes-cbc", "AES-GCM", "", "xchacha", 1, ["gcm"], {"a": 1}])
def test_unknown_enc_type_is_a_malformed_envelope(name: object) -> None:
    with pytest.raises(MalformedEnvelope, match="enc_type"):
        EncType.parse(name)
    body = _envelope(b"\0" * 40, {"ephemeral_key": SERVER_PUBKEY.hex(), "enc_type": name})
    with pytest.raises(MalformedEnvelope, match="enc_type"):
        onion.parse_envelope(body)


@pytest.mark.parametrize(
    "encode",
    [
        bytes.hex,
        lambda key: key.hex().upper(),
        lambda key: base64.b64encode(key).decode(),
        lambda key: base64.b64encode(key).decode().rstrip("="),
        _base32z,
        lambda key: _base32z(key).upper(),
    ],
    ids=["hex", "HEX", "base64", "base64-unpadded", "base32z", "BASE32Z"],
)
def test_ephemeral_key_in_any_libsession_encoding_decrypts(encode: Any) -> None:
    body, _ = onion.build_request(SERVER_PUBKEY, b"hi")
    envelope = onion.parse_envelope(body)
    metadata = {"ephemeral_key": encode(envelope.ephemeral_pubkey)}
    assert onion.open_request(_envelope(envelope.ciphertext, metadata), SERVER_PRIVKEY).payload


@pytest.mark.parametrize("enc_type", list(EncType))
def test_response_nonce_is_fresh_each_time(enc_type: EncType) -> None:
    body, session = onion.build_request(SERVER_PUBKEY, b"req", enc_type)
    opened = onion.open_request(body, SERVER_PRIVKEY)
    replies = [opened.channel.encrypt(b"same plaintext") for _ in range(20)]
    replies += [onion.server_channel(opened.envelope, SERVER_PRIVKEY).encrypt(b"same plaintext")]
    nonces = {reply[: enc_type.nonce_size] for reply in replies}
    assert len(nonces) == len(replies)
    assert len(set(replies)) == len(replies)
    assert {session.decrypt_response(reply) for reply in replies} == {b"same plaintext"}


def test_request_blobs_and_ephemeral_keys_are_fresh_each_time() -> None:
    bodies = [onion.build_request(SERVER_PUBKEY, b"same")[0] for _ in range(10)]
    keys = {onion.parse_envelope(body).ephemeral_pubkey for body in bodies}
    assert len(keys) == len(bodies)


def test_wrong_server_key_fails_to_decrypt() -> None:
    body, _ = onion.build_request(SERVER_PUBKEY, b"secret")
    with pytest.raises(DecryptionFailed):
        onion.open_request(body, onion.generate_privkey())


def test_reply_for_another_session_fails_to_decrypt() -> None:
    first, _ = onion.build_request(SERVER_PUBKEY, b"one")
    _, second_session = onion.build_request(SERVER_PUBKEY, b"two")
    reply = onion.open_request(first, SERVER_PRIVKEY).channel.encrypt(b"for the first client")
    with pytest.raises(DecryptionFailed):
        second_session.decrypt_response(reply)


def test_low_order_ephemeral_key_is_a_malformed_envelope() -> None:
    body = _envelope(b"\0" * 40, {"ephemeral_key": "00" * 32})
    with pytest.raises(MalformedEnvelope, match="low-order"):
        onion.open_request(body, SERVER_PRIVKEY)


def test_low_order_server_key_is_refused_by_the_client() -> None:
    with pytest.raises(InvalidPubkey, match="low-order"):
        onion.build_request(b"\0" * 32, b"x")


# --- hostile envelopes ------------------------------------------------------------------


def test_oversized_body_is_too_large_before_anything_else() -> None:
    with pytest.raises(EnvelopeTooLarge):
        onion.parse_envelope(b"\xff" * 101, max_size=100)
    with pytest.raises(EnvelopeTooLarge):
        onion.build_request(SERVER_PUBKEY, b"\0" * onion.MAX_ENVELOPE_SIZE)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "shorter than its length prefix"),
        (b"\x01\x00\x00", "shorter than its length prefix"),
        (struct.pack("<I", 50) + b"\0" * 10 + b"{}", "past the end"),
        (struct.pack("<I", 2**32 - 1) + b"{}", "past the end"),
        (_envelope(b"\0" * 40, None)[:-4], "not valid JSON"),
        (_envelope(b"\0" * 40, ["ephemeral_key"]), "not a JSON object"),
        (struct.pack("<I", 40) + b"\0" * 40 + b"\xff{}", "not valid JSON"),
        (struct.pack("<I", 40) + b"\0" * 40 + b"[" * 100_000, "not valid JSON"),
        (struct.pack("<I", 40) + b"\0" * 40 + b"\xff\xfe{\x00}\x00", "not valid JSON"),
        (_envelope(b"\0" * 40, {}), "ephemeral_key"),
        (_envelope(b"\0" * 40, {"ephemeral_key": 5}), "ephemeral_key"),
        (_envelope(b"\0" * 40, {"ephemeral_key": "ab" * 31}), "ephemeral_key"),
        (_envelope(b"\0" * 40, {"ephemeral_key": "\ud800" * 32}), "ephemeral_key"),
        (_envelope(b"\0" * 27, {"ephemeral_key": "ab" * 32}), "too short"),
        (_envelope(b"\0" * 39, {"ephemeral_key": "ab" * 32, "enc_type": "xchacha20"}), "short"),
    ],
)
def test_malformed_envelopes_are_rejected_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedEnvelope, match=reason):
        onion.parse_envelope(body)


def test_v3_response_that_is_not_base64_fails() -> None:
    _, session = onion.build_request(SERVER_PUBKEY, b"x")
    with pytest.raises(DecryptionFailed, match="base64"):
        session.decrypt_v3_response(b"not*base64")


# --- keys -------------------------------------------------------------------------------


def test_x25519_pubkey_matches_an_independent_implementation() -> None:
    privkey = onion.generate_privkey()
    expected = X25519PrivateKey.from_private_bytes(privkey).public_key().public_bytes_raw()
    assert onion.x25519_pubkey(privkey) == expected


def test_x25519_pubkey_refuses_a_wrong_size_key() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        onion.x25519_pubkey(b"\1" * 31)


@pytest.mark.parametrize(
    "value",
    [
        OXENC_KEY,
        OXENC_KEY.hex(),
        OXENC_KEY.hex().upper(),
        OXENC_KEY.hex().encode(),
        OXENC_BASE64,
        OXENC_BASE64.rstrip("="),
        OXENC_BASE32Z,
        OXENC_BASE32Z.upper(),
        OXENC_BASE32Z.encode(),
    ],
)
def test_parse_pubkey_accepts_every_libsession_encoding(value: str | bytes) -> None:
    assert onion.parse_pubkey(value) == OXENC_KEY


def test_parse_pubkey_decodes_oxencs_base32z_vector() -> None:
    expected = bytes.fromhex("0123456789abcdef" * 4)
    assert onion.parse_pubkey("yrtwk3hjixg66yjdeiuauk6p7hy1gtm8tgih55abrpnsxnpm3zzo") == expected
    assert _base32z(expected) == "yrtwk3hjixg66yjdeiuauk6p7hy1gtm8tgih55abrpnsxnpm3zzo"


@pytest.mark.parametrize(
    "value",
    [
        "",
        OXENC_KEY.hex()[:-1],
        OXENC_KEY.hex() + "0",
        OXENC_KEY.hex()[:-1] + "g",
        " " + OXENC_KEY.hex()[1:],
        OXENC_KEY.hex()[:-1] + "\n",
        OXENC_KEY[:31],
        OXENC_KEY.hex()[:32],
        OXENC_BASE64[:-2] + "==",
        OXENC_BASE64.replace("+", "-"),
        OXENC_BASE32Z.replace("6", "\u212a"),
        OXENC_BASE32Z[:-1] + "l",
        "\u0660" * 64,
        "é".encode() * 16 + b"!",
        12345,
    ],
)
def test_parse_pubkey_rejects_everything_else(value: Any) -> None:
    with pytest.raises(InvalidPubkey):
        onion.parse_pubkey(value)


# --- v4 payloads ------------------------------------------------------------------------


def test_v4_request_example_from_pysogs_docs() -> None:
    meta = b'{"method":"GET","endpoint":"/room/some-room","headers":{"Some-Header":"12345"}}'
    request = onion.parse_v4_request(b"l79:" + meta + b"e")
    assert request == onion.V4Request("GET", "/room/some-room", {"Some-Header": "12345"}, None)


def test_v4_request_without_headers_and_with_int_header_values() -> None:
    assert (
        onion.parse_v4_request(bencode.encode([b'{"method":"GET","endpoint":"/"}'])).headers == {}
    )
    meta = b'{"method":"GET","endpoint":"/x","headers":{"X-SOGS-Timestamp":1700000000}}'
    request = onion.parse_v4_request(bencode.encode([meta]))
    assert request.headers == {"X-SOGS-Timestamp": "1700000000"}


@pytest.mark.parametrize("method", ["get", "Get", "gET", "post", "Delete", "put"])
def test_v4_method_in_any_case_is_upper_cased(method: str) -> None:
    """pysogs passes the method on as sent (`sogs/routes/subrequest.py`) and Werkzeug, under
    Flask, upper-cases it: a lower-case method works there, so it works here."""
    request = onion.parse_v4_request(_v4({**OK_META, "method": method}))
    assert request.method == method.upper()


def test_android_json_boolean_and_number_header_values_become_their_json_text() -> None:
    """session-android `snode/utilities/OKHTTPUtilities.kt` `getHeadersForOnionRequest` sends
    any value reading "true"/"false" as a JSON boolean and any integer as a JSON number; the
    JSON text is the string the value was. JSON null (no client sends one) is no value: the
    header is left out."""
    headers = {"X-SOGS-Timestamp": 1700000000, "X-Flag": True, "X-Off": False, "X-Ratio": 1.5}
    request = onion.parse_v4_request(_v4({**OK_META, "headers": {**headers, "X-None": None}}))
    assert request.headers == {
        "X-SOGS-Timestamp": "1700000000",
        "X-Flag": "true",
        "X-Off": "false",
        "X-Ratio": "1.5",
    }
    response = onion.parse_v4_response(_v4({"code": 200, "headers": {"X-Flag": True}}, b""))
    assert response.headers == {"x-flag": "true"}


def test_build_v4_request_round_trips_with_and_without_body() -> None:
    get = onion.build_v4_request("GET", "/capabilities")
    assert bencode.decode(get) == [b'{"method":"GET","endpoint":"/capabilities","headers":{}}']
    put = onion.parse_v4_request(onion.build_v4_request("PUT", "/é", {"A": "b"}, b""))
    assert put == onion.V4Request("PUT", "/é", {"A": "b"}, b"")


def _v4(meta: object, *rest: bytes) -> bytes:
    return bencode.encode([json.dumps(meta).encode(), *rest])


OK_META = {"method": "GET", "endpoint": "/rooms", "headers": {}}


@pytest.mark.parametrize(
    "plaintext",
    [
        b"",
        b"Hello world",
        b"le",
        b"l0:e",
        b"l1:{e",
        b"i1e",
        b"4:spam",
        bencode.encode([bencode.encode(OK_META)]),
        bencode.encode([json.dumps(OK_META).encode(), b"body", b"third"]),
        bencode.encode([json.dumps(OK_META).encode(), [b"nested"]]),
        bencode.encode([json.dumps(OK_META).encode(), 1]),
        _v4(OK_META)[:-1],
        _v4(OK_META) + b"e",
        _v4([OK_META]),
        _v4({**OK_META, "endpoint": "rooms"}),
        _v4({**OK_META, "endpoint": None}),
        _v4({**OK_META, "endpoint": "/rooms\r\nX-Evil: 1"}),
        _v4({**OK_META, "endpoint": "/\ud800"}),
        _v4({**OK_META, "method": "PATCH"}),
        _v4({**OK_META, "method": "po\u017ft"}),
        _v4({**OK_META, "method": ["GET"]}),
        _v4({"endpoint": "/rooms"}),
        _v4({**OK_META, "headers": [["a", "b"]]}),
        _v4({**OK_META, "headers": {"A": "b\nc"}}),
        _v4({**OK_META, "headers": {"A B": "c"}}),
        _v4({**OK_META, "headers": {"": "c"}}),
        _v4({**OK_META, "headers": {"A": {"b": "c"}}}),
        _v4({**OK_META, "headers": {"A": ["b"]}}),
        _v4({**OK_META, "headers": {"A B": None}}),
    ],
)
def test_invalid_v4_requests_are_malformed_payloads(plaintext: bytes) -> None:
    with pytest.raises(MalformedPayload):
        onion.parse_v4_request(plaintext)


def test_build_v4_response_lowercases_names_and_drops_content_length() -> None:
    built = onion.build_v4_response(
        404, {"Content-Type": "text/html", "Content-Length": "9", "X-A": "1"}, b"not found"
    )
    meta, body = bencode.decode(built)
    assert json.loads(meta) == {"code": 404, "headers": {"content-type": "text/html", "x-a": "1"}}
    assert body == b"not found"


def test_parse_v4_response_as_pysogs_sends_it() -> None:
    capabilities = (
        b'l62:{"code": 200, "headers": {"content-type": "application/json"}}'
        b'38:{"capabilities":["reactions","sogs"]}\ne'
    )
    response = onion.parse_v4_response(capabilities)
    assert response.status == 200
    assert response.headers == {"content-type": "application/json"}
    assert json.loads(response.body) == {"capabilities": ["reactions", "sogs"]}

    invalid = (
        b'l71:{"code": 400, "headers": {"content-type": "text/plain; charset=utf-8"}}'
        b"24:Invalid v4 onion requeste"
    )
    assert onion.parse_v4_response(invalid).body == b"Invalid v4 onion request"


def test_parse_v4_response_accepts_a_missing_body_and_headers() -> None:
    response = onion.parse_v4_response(_v4({"code": 204, "headers": {"Date": "x"}}))
    assert response == onion.V4Response(204, {"date": "x"}, b"")
    assert onion.parse_v4_response(_v4({"code": 200})).headers == {}


@pytest.mark.parametrize("code", [None, "200", 200.0, True, 99, 600])
def test_parse_v4_response_rejects_bad_codes(code: object) -> None:
    with pytest.raises(MalformedPayload, match="code"):
        onion.parse_v4_response(_v4({"code": code, "headers": {}}, b""))


# --- v3 payloads ------------------------------------------------------------------------


def test_build_v3_request_always_carries_the_four_keys_rust_sogs_needs() -> None:
    request = json.loads(onion.build_v3_request("GET", "rooms/abc/image", headers={"Room": "abc"}))
    assert request == {
        "endpoint": "rooms/abc/image",
        "method": "GET",
        "body": "",
        "headers": {"Room": "abc"},
    }


@pytest.mark.parametrize(
    ("plaintext", "status"),
    [
        (b'{"status_code":200,"rooms":[]}', 200),
        (b'{"status_code": 404}', 404),
        (b'{"capabilities":["sogs"]}', 200),
        (b"[1, 2]", 200),
        (b"\x89PNG\r\n\x1a\n", 200),
    ],
)
def test_parse_v3_response_finds_the_status(plaintext: bytes, status: int) -> None:
    assert onion.parse_v3_response(plaintext) == onion.V3Response(status, plaintext)


@pytest.mark.parametrize("plaintext", [b'{"status_code":"200"}', b'{"status_code":true}'])
def test_parse_v3_response_rejects_a_bad_status_code(plaintext: bytes) -> None:
    with pytest.raises(MalformedPayload):
        onion.parse_v3_response(plaintext)


# --- properties: hostile input only ever raises OnionError --------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
# Text strategies build Hypothesis's Unicode tables on first use, which can trip the
# too_slow health check on whichever test draws text first.
text_inputs = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
metadata_values = st.fixed_dictionaries(
    {},
    optional={
        "ephemeral_key": st.one_of(
            json_values, st.just(SERVER_PUBKEY.hex()), st.text(min_size=32, max_size=64)
        ),
        "enc_type": st.one_of(json_values, st.sampled_from(["gcm", "xchacha20", "aes-gcm"])),
        "host": json_values,
    },
)


@given(st.binary(max_size=300))
def test_random_bodies_only_raise_onion_errors(body: bytes) -> None:
    with pytest.raises(OnionError):
        onion.open_request(body, SERVER_PRIVKEY)


@text_inputs
@given(st.binary(max_size=80), metadata_values, st.none() | st.integers(0, 2**32 - 1))
def test_random_envelopes_only_raise_onion_errors(
    blob: bytes, metadata: dict[str, Any], prefix: int | None
) -> None:
    with pytest.raises(OnionError):
        onion.open_request(_envelope(blob, metadata, prefix=prefix), SERVER_PRIVKEY)


@given(st.sampled_from(list(EncType)), st.binary(max_size=64), st.data())
def test_truncated_envelopes_are_rejected(
    enc_type: EncType, payload: bytes, data: st.DataObject
) -> None:
    body, _ = onion.build_request(SERVER_PUBKEY, payload, enc_type)
    cut = data.draw(st.integers(0, len(body) - 1))
    with pytest.raises(OnionError):
        onion.open_request(body[:cut], SERVER_PRIVKEY)


@given(st.binary(max_size=64), st.data())
def test_huge_length_prefixes_are_malformed(rest: bytes, data: st.DataObject) -> None:
    prefix = data.draw(st.integers(len(rest) + 1, 2**32 - 1))
    with pytest.raises(MalformedEnvelope, match="past the end"):
        onion.parse_envelope(struct.pack("<I", prefix) + rest)


@given(st.sampled_from(list(EncType)), st.binary(max_size=64), st.data())
def test_any_changed_byte_is_rejected_or_harmless(
    enc_type: EncType, payload: bytes, data: st.DataObject
) -> None:
    body, _ = onion.build_request(SERVER_PUBKEY, payload, enc_type)
    index = data.draw(st.integers(0, len(body) - 1))
    flip = data.draw(st.integers(1, 255))
    damaged = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    try:
        opened = onion.open_request(damaged, SERVER_PRIVKEY)
    except OnionError:
        return
    # Only a same-meaning edit of the outer JSON (e.g. hex case) may still open.
    assert index >= 4 + len(onion.parse_envelope(body).ciphertext)
    assert opened.payload == payload


@given(st.sampled_from(list(EncType)), st.binary(min_size=32, max_size=32))
def test_wrong_server_keys_never_decrypt(enc_type: EncType, wrong_privkey: bytes) -> None:
    assume(onion.x25519_pubkey(wrong_privkey) != SERVER_PUBKEY)
    body, _ = onion.build_request(SERVER_PUBKEY, b"payload", enc_type)
    with pytest.raises(DecryptionFailed):
        onion.open_request(body, wrong_privkey)


@given(st.sampled_from(list(EncType)), st.binary(max_size=120))
def test_random_responses_only_raise_decryption_failed(enc_type: EncType, reply: bytes) -> None:
    _, session = onion.build_request(SERVER_PUBKEY, b"x", enc_type)
    with pytest.raises(DecryptionFailed):
        session.decrypt_response(reply)
    with pytest.raises(DecryptionFailed):
        session.decrypt_v3_response(reply)
    with pytest.raises(DecryptionFailed):
        session.decrypt_v3_response(base64.b64encode(reply))


def _parses_to_a_well_formed_v4_message_or_malformed_payload(plaintext: bytes) -> None:
    """Either parser refuses with MalformedPayload only, and what it accepts holds what routing
    and the reply rely on: a known method, a printable endpoint path, text headers."""
    with contextlib.suppress(MalformedPayload):
        request = onion.parse_v4_request(plaintext)
        assert request.method in onion.V4_METHODS
        assert request.endpoint.startswith("/") and request.endpoint.isprintable()
        assert all(isinstance(value, str) for value in request.headers.values())
    with contextlib.suppress(MalformedPayload):
        response = onion.parse_v4_response(plaintext)
        assert 100 <= response.status <= 599
        assert all(name == name.lower() for name in response.headers)
        assert isinstance(response.body, bytes)


@given(st.binary(max_size=200))
def test_random_v4_plaintexts_only_raise_malformed_payload(plaintext: bytes) -> None:
    _parses_to_a_well_formed_v4_message_or_malformed_payload(plaintext)


@text_inputs
@given(json_values, st.lists(st.binary(max_size=10), max_size=3))
def test_random_v4_metadata_only_raises_malformed_payload(meta: object, rest: list[bytes]) -> None:
    _parses_to_a_well_formed_v4_message_or_malformed_payload(_v4(meta, *rest))


@given(st.binary(max_size=200))
def test_random_v3_plaintexts_only_raise_malformed_payload(plaintext: bytes) -> None:
    with contextlib.suppress(MalformedPayload):
        assert onion.parse_v3_response(plaintext).body == plaintext


@text_inputs
@given(st.text(max_size=70) | st.binary(max_size=70))
def test_random_pubkey_text_only_raises_invalid_pubkey(value: str | bytes) -> None:
    with contextlib.suppress(InvalidPubkey):
        assert len(onion.parse_pubkey(value)) == 32


header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True)
header_values = st.text(
    st.characters(codec="utf-8", exclude_categories=["C", "Z"], include_characters=" "),
    max_size=20,
)


@text_inputs
@given(
    st.sampled_from(sorted(onion.V4_METHODS)),
    st.text(st.characters(codec="utf-8", exclude_categories=["C", "Z"]), max_size=30),
    st.dictionaries(header_names, header_values, max_size=4),
    st.none() | st.binary(max_size=50),
)
def test_any_valid_v4_request_round_trips(
    method: str, path: str, headers: dict[str, str], body: bytes | None
) -> None:
    endpoint = "/" + path
    request = onion.parse_v4_request(onion.build_v4_request(method, endpoint, headers, body))
    assert request == onion.V4Request(method, endpoint, headers, body)


@text_inputs
@given(st.integers(100, 599), st.dictionaries(header_names, header_values, max_size=4))
def test_any_v4_response_round_trips(status: int, headers: dict[str, str]) -> None:
    response = onion.parse_v4_response(onion.build_v4_response(status, headers, b"body"))
    assert response.status == status
    expected = {name.lower(): value for name, value in headers.items()}
    expected.pop("content-length", None)
    assert response.headers == expected


@given(
    st.integers(100, 599),
    st.dictionaries(header_names, header_values, max_size=3),
    st.binary(max_size=300),
)
def test_v4_response_parts_join_to_the_built_response(
    status: int, headers: dict[str, str], body: bytes
) -> None:
    parts = onion.v4_response_parts(status, headers, body)
    assert b"".join(parts) == onion.build_v4_response(status, headers, body)


@pytest.mark.parametrize("enc_type", list(EncType))
@given(st.lists(st.binary(max_size=200), max_size=5), st.integers(1, 64))
def test_streamed_reply_decrypts_like_a_whole_one(
    enc_type: EncType, parts: list[bytes], piece: int
) -> None:
    body, session = onion.build_request(SERVER_PUBKEY, b"payload", enc_type)
    opened = onion.open_request(body, SERVER_PRIVKEY)
    stream = opened.channel.encrypt_stream(parts, piece)
    blob = b"".join(stream.chunks)
    assert len(blob) == stream.length == len(b"".join(parts)) + enc_type.overhead
    assert session.decrypt_response(blob) == b"".join(parts)


def test_only_aes_gcm_replies_stream_in_pieces() -> None:
    parts = [bytes(100), bytes(50)]
    gcm = Channel(EncType.AES_GCM, bytes(32)).encrypt_stream(parts, piece=64)
    xchacha = Channel(EncType.XCHACHA20, bytes(32)).encrypt_stream(parts, piece=64)
    assert len(list(gcm.chunks)) > 2  # nonce, pieces, tag
    assert len(list(xchacha.chunks)) == 1


@given(st.binary(min_size=32, max_size=32), st.binary())
def test_xchacha20_blob_is_libsodiums_aead(key: bytes, plaintext: bytes) -> None:
    blob = Channel(EncType.XCHACHA20, key).encrypt(plaintext)
    nonce, sealed = blob[:24], blob[24:]
    assert sealed == nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, None, nonce, key
    )


@given(
    st.binary(min_size=32, max_size=32),
    st.lists(st.binary(max_size=300), max_size=4),
    st.integers(1, 100),
)
def test_xchacha20_stream_is_libsodiums_aead_of_the_joined_parts(key, parts, piece) -> None:
    stream = Channel(EncType.XCHACHA20, key).encrypt_stream(parts, piece)
    blob = b"".join(stream.chunks)
    nonce, sealed = blob[:24], blob[24:]
    assert sealed == nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        b"".join(parts), None, nonce, key
    )
