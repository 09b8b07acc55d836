"""Session onion requests as the final server (and a direct client) sees them, as pysogs
(`sogs/routes/onion_request.py`) and libsession-util (`src/onionreq/`) implement them.

Pure functions of bytes: no Django, no network. The server side opens an outer body
(`[u32 N][blob][json]`), decrypts the blob and encrypts the reply with the same key; the
client side builds such a body (our crawler talks to servers directly, without service
nodes) and reads the reply. On top sit the v4 payload framing (bencode) and the legacy v3
one (JSON, base64 replies). Every failure on untrusted input raises an `OnionError`.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import os
import re
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from directory.lib import bencode

# The largest body a storage server takes (oxenss `server/https.h` MAX_REQUEST_BODY_SIZE).
MAX_ENVELOPE_SIZE = 10 * 1024 * 1024
KEY_SIZE = 32
TAG_SIZE = 16
V4_METHODS = frozenset({"GET", "POST", "PUT", "DELETE"})

_LENGTH_PREFIX = struct.Struct("<I")
# AES-GCM's key salt; the name is historical (Loki was Oxen's earlier name).
_AES_GCM_SALT = b"LOKI"
_BASE32Z_ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769"
_BASE32Z_VALUES = {c: i for i, c in enumerate(_BASE32Z_ALPHABET)}
_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")
_BASE64_KEY = re.compile(r"[A-Za-z0-9+/]{43}=?")
# RFC 9110 token: what a header name may contain.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class OnionError(ValueError):
    """Anything wrong with onion-request input; the base of every error raised here."""


class MalformedEnvelope(OnionError):
    """The outer body is unusable: layout, length prefix, JSON, ephemeral_key or enc_type."""


class EnvelopeTooLarge(MalformedEnvelope):
    """The outer body (or a payload to wrap) is over the size cap."""


class DecryptionFailed(OnionError):
    """The blob did not authenticate: wrong key, wrong scheme or tampered bytes."""


class MalformedPayload(OnionError):
    """A decrypted v3/v4 request or response does not have the expected shape."""


class InvalidPubkey(OnionError):
    """A value is not an X25519 pubkey in any accepted encoding, or is a low-order point."""


class EncType(enum.Enum):
    """Symmetric scheme of one onion request; the reply uses the same one (libsession-util
    `src/onionreq/parser.cpp` `encrypt_reply`)."""

    AES_GCM = "aes-gcm"
    XCHACHA20 = "xchacha20"

    @property
    def nonce_size(self) -> int:
        return 12 if self is EncType.AES_GCM else 24

    @property
    def overhead(self) -> int:
        """Bytes a blob adds to its plaintext: the nonce in front, the tag behind."""
        return self.nonce_size + TAG_SIZE

    @classmethod
    def parse(cls, name: object) -> EncType:
        """Read an `enc_type` value; None (absent, or JSON null) means AES-GCM, the
        backwards-compatible default of every parser.
        """
        if name is None:
            return cls.AES_GCM
        if isinstance(name, str) and name in _ENC_TYPE_ALIASES:
            return _ENC_TYPE_ALIASES[name]
        raise MalformedEnvelope(f"unknown enc_type {name!r}")


# Exact, case-sensitive spellings as libsession and libonionrequests accept them.
_ENC_TYPE_ALIASES = {
    "aes-gcm": EncType.AES_GCM,
    "gcm": EncType.AES_GCM,
    "xchacha20": EncType.XCHACHA20,
    "xchacha20-poly1305": EncType.XCHACHA20,
}


# --- keys -------------------------------------------------------------------------------


def generate_privkey() -> bytes:
    """A fresh X25519 private key; any 32 random bytes will do, X25519 clamps them."""
    return os.urandom(KEY_SIZE)


def x25519_pubkey(privkey: bytes) -> bytes:
    """The X25519 public key (the one SOGS join links carry) of a 32-byte private key."""
    _check_key_size(privkey, "private key")
    return nacl.bindings.crypto_scalarmult_base(privkey)


def parse_pubkey(value: str | bytes) -> bytes:
    """Decode a pubkey given as 64 hex digits, base64 (43, or 44 with '='), base32z (52)
    or, for bytes only, 32 raw bytes, as libsession's `parse_pubkey` accepts them.
    """
    if isinstance(value, bytes):
        if len(value) == KEY_SIZE:
            return value
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidPubkey("pubkey bytes are neither 32 raw bytes nor text") from None
    if not isinstance(value, str):
        raise InvalidPubkey(f"pubkey must be str or bytes, not {type(value).__name__}")
    if _HEX_KEY.fullmatch(value):
        return bytes.fromhex(value)
    if _BASE64_KEY.fullmatch(value):
        # 43 characters carry 258 bits; the 2 spare ones are ignored, as oxenc does.
        return base64.b64decode(value.rstrip("=") + "=", validate=True)
    # isascii() first: str.lower() maps some non-ASCII letters (KELVIN SIGN) onto ASCII.
    if len(value) == 52 and value.isascii() and all(c in _BASE32Z_VALUES for c in value.lower()):
        return _decode_base32z_key(value.lower())
    raise InvalidPubkey(f"not a pubkey: {value[:80]!r}")


def _decode_base32z_key(text: str) -> bytes:
    number = 0
    for char in text:
        number = number << 5 | _BASE32Z_VALUES[char]
    # 52 characters carry 260 bits: the key, then 4 padding bits that oxenc ignores.
    return (number >> 4).to_bytes(KEY_SIZE, "big")


def _check_key_size(key: bytes, what: str) -> None:
    # Our own keys come from configuration; a wrong size is a programming error, not input.
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise ValueError(f"{what} must be {KEY_SIZE} bytes")


def _shared_secret(privkey: bytes, pubkey: bytes) -> bytes:
    try:
        return nacl.bindings.crypto_scalarmult(privkey, pubkey)
    except nacl.exceptions.RuntimeError:
        # libsodium refuses low-order points, whose shared secret would be all zeros.
        raise InvalidPubkey("pubkey is a low-order point") from None


# --- symmetric channel ------------------------------------------------------------------


@dataclass(frozen=True)
class EncryptedStream:
    """An encrypted blob as chunks to send in order, and its total length."""

    length: int
    chunks: Iterator[bytes] = field(repr=False)


@dataclass(frozen=True, repr=False)  # no repr: it would print the key into logs
class Channel:
    """The symmetric state of one onion request; both directions share key and scheme."""

    enc_type: EncType
    key: bytes

    @classmethod
    def derive(
        cls, enc_type: EncType, shared_secret: bytes, client_pubkey: bytes, server_pubkey: bytes
    ) -> Channel:
        """Derive K as libsession-util `src/onionreq/hop_encryption.cpp` does; the client key
        comes first in both directions."""
        if enc_type is EncType.AES_GCM:
            key = hmac.digest(_AES_GCM_SALT, shared_secret, "sha256")
        else:
            digest = hashlib.blake2b(digest_size=KEY_SIZE)
            digest.update(shared_secret + client_pubkey + server_pubkey)
            key = digest.digest()
        return cls(enc_type, key)

    def encrypt(self, plaintext: bytes) -> bytes:
        """nonce ‖ ciphertext ‖ tag, with a fresh random nonce every call."""
        nonce = os.urandom(self.enc_type.nonce_size)
        if self.enc_type is EncType.AES_GCM:
            return nonce + AESGCM(self.key).encrypt(nonce, plaintext, None)
        return nonce + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            plaintext, None, nonce, self.key
        )

    def encrypt_stream(self, parts: Sequence[bytes], piece: int = 1 << 18) -> EncryptedStream:
        """`encrypt(b"".join(parts))` as chunks whose concatenation is the blob, and its length.

        For large replies (a listing of megabytes) AES-GCM, which `cryptography` encrypts
        incrementally, encrypts `piece` bytes at a time as the chunks are taken, so the server
        sends one while the next is encrypted and the plaintext is never joined.
        XChaCha20-Poly1305 is libsodium's one-shot AEAD (PyNaCl): one chunk. So is a reply of
        one piece or less (a server sends a list faster than a generator).
        """
        length = sum(len(part) for part in parts) + self.enc_type.overhead
        if self.enc_type is EncType.AES_GCM and length > piece:
            chunks = self._gcm_chunks(os.urandom(self.enc_type.nonce_size), parts, piece)
            return EncryptedStream(length, chunks)
        return EncryptedStream(length, iter([self.encrypt(b"".join(parts))]))

    def _gcm_chunks(self, nonce: bytes, parts: Sequence[bytes], piece: int) -> Iterator[bytes]:
        encryptor = Cipher(algorithms.AES(self.key), modes.GCM(nonce)).encryptor()
        yield nonce
        for chunk in _pieces(parts, piece):
            yield encryptor.update(chunk)
        yield encryptor.finalize() + encryptor.tag  # GCM's finalize adds no bytes

    def decrypt(self, blob: bytes) -> bytes:
        """Authenticate and decrypt nonce ‖ ciphertext ‖ tag; AAD is empty in both schemes."""
        if len(blob) < self.enc_type.overhead:
            raise DecryptionFailed(f"{len(blob)}-byte blob is too short for {self.enc_type.value}")
        nonce, sealed = blob[: self.enc_type.nonce_size], blob[self.enc_type.nonce_size :]
        try:
            if self.enc_type is EncType.AES_GCM:
                return AESGCM(self.key).decrypt(nonce, sealed, None)
            return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                sealed, None, nonce, self.key
            )
        except (InvalidTag, nacl.exceptions.CryptoError):
            raise DecryptionFailed(f"{self.enc_type.value} authentication failed") from None


def _pieces(parts: Sequence[bytes], piece: int) -> Iterator[memoryview]:
    """The parts cut in slices of at most `piece` bytes, without copying them."""
    for part in parts:
        view = memoryview(part)
        for start in range(0, len(view), piece):
            yield view[start : start + piece]


# --- server side ------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    """A parsed outer body. `metadata` is the whole outer JSON: log it, never trust it."""

    ciphertext: bytes = field(repr=False)  # up to 10 MiB: keep it out of log lines
    ephemeral_pubkey: bytes
    enc_type: EncType
    metadata: Mapping[str, Any] = field(repr=False)  # client-controlled, possibly huge


def parse_envelope(body: bytes, max_size: int = MAX_ENVELOPE_SIZE) -> Envelope:
    """Split `[u32 LE N][N-byte blob][JSON to the end]` and read ephemeral_key and enc_type."""
    if len(body) > max_size:
        raise EnvelopeTooLarge(f"{len(body)}-byte body is over the {max_size} byte cap")
    if len(body) < _LENGTH_PREFIX.size:
        raise MalformedEnvelope("body is shorter than its length prefix")
    (blob_size,) = _LENGTH_PREFIX.unpack_from(body)
    json_start = _LENGTH_PREFIX.size + blob_size
    if json_start > len(body):
        raise MalformedEnvelope(f"length prefix {blob_size} runs past the end of the body")
    metadata = _load_json_object(body[json_start:], MalformedEnvelope, "envelope metadata")
    enc_type = EncType.parse(metadata.get("enc_type"))
    if blob_size < enc_type.overhead:
        raise MalformedEnvelope(f"{blob_size}-byte blob is too short for {enc_type.value}")
    return Envelope(
        ciphertext=body[_LENGTH_PREFIX.size : json_start],
        ephemeral_pubkey=_ephemeral_pubkey(metadata),
        enc_type=enc_type,
        metadata=metadata,
    )


def _ephemeral_pubkey(metadata: Mapping[str, Any]) -> bytes:
    value = metadata.get("ephemeral_key")
    if not isinstance(value, str):
        raise MalformedEnvelope("metadata has no string 'ephemeral_key'")
    try:
        # As bytes, so 32 raw UTF-8 bytes count as a raw key, as in libsession.
        return parse_pubkey(value.encode("utf-8"))
    except (UnicodeEncodeError, InvalidPubkey) as exc:
        raise MalformedEnvelope(f"bad ephemeral_key: {exc}") from None


def server_channel(envelope: Envelope, server_privkey: bytes) -> Channel:
    """The channel for one request, as the server holding `server_privkey` derives it."""
    _check_key_size(server_privkey, "server private key")
    try:
        shared = _shared_secret(server_privkey, envelope.ephemeral_pubkey)
    except InvalidPubkey as exc:
        raise MalformedEnvelope(f"bad ephemeral_key: {exc}") from None
    server_pubkey = x25519_pubkey(server_privkey)
    return Channel.derive(envelope.enc_type, shared, envelope.ephemeral_pubkey, server_pubkey)


@dataclass(frozen=True)
class OpenedRequest:
    """A decrypted request that remembers its channel, so the reply costs no second X25519."""

    envelope: Envelope
    payload: bytes = field(repr=False)
    channel: Channel = field(repr=False)

    def encrypt_reply_stream(self, parts: Sequence[bytes]) -> EncryptedStream:
        """The v4 reply body as chunks (see `Channel.encrypt_stream`); send them in order."""
        return self.channel.encrypt_stream(parts)


def open_request(
    body: bytes, server_privkey: bytes, *, max_size: int = MAX_ENVELOPE_SIZE
) -> OpenedRequest:
    """Parse and decrypt an outer body; any OnionError here means a plain HTTP 400."""
    envelope = parse_envelope(body, max_size)
    channel = server_channel(envelope, server_privkey)
    return OpenedRequest(envelope, channel.decrypt(envelope.ciphertext), channel)


# --- client side ------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class ClientSession:
    """What a client keeps after sending one request, to read that request's reply."""

    channel: Channel
    ephemeral_pubkey: bytes

    def decrypt_response(self, body: bytes) -> bytes:
        """Decrypt a v4 reply, which is the raw encrypted bytes."""
        return self.channel.decrypt(body)

    def decrypt_v3_response(self, body: bytes) -> bytes:
        """Decrypt a v3 reply, which is base64 text of the encrypted bytes."""
        try:
            blob = base64.b64decode(body.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise DecryptionFailed("v3 response is not base64") from None
        return self.channel.decrypt(blob)


def build_request(
    server_pubkey: bytes | str,
    payload: bytes,
    enc_type: EncType = EncType.AES_GCM,
    ephemeral_privkey: bytes | None = None,
    *,
    metadata: Mapping[str, Any] | None = None,
) -> tuple[bytes, ClientSession]:
    """Encrypt `payload` to the server; returns the outer body and the session for the reply.

    AES-GCM is the default because it is the one scheme every server speaks (a missing
    enc_type means AES-GCM: oxenss `rpc/onion_processing.cpp`).
    `metadata` adds outer JSON keys (host, target, ...) for realism; servers ignore them.
    """
    server_key = parse_pubkey(server_pubkey)
    privkey = generate_privkey() if ephemeral_privkey is None else ephemeral_privkey
    client_key = x25519_pubkey(privkey)
    channel = Channel.derive(enc_type, _shared_secret(privkey, server_key), client_key, server_key)
    blob = channel.encrypt(payload)
    outer = {**(metadata or {}), "ephemeral_key": client_key.hex(), "enc_type": enc_type.value}
    outer_json = json.dumps(outer, separators=(",", ":")).encode()
    body = _LENGTH_PREFIX.pack(len(blob)) + blob + outer_json
    if len(body) > MAX_ENVELOPE_SIZE:
        raise EnvelopeTooLarge(f"{len(body)}-byte request is over the {MAX_ENVELOPE_SIZE} cap")
    return body, ClientSession(channel, client_key)


# --- v4 payloads ------------------------------------------------------------------------


@dataclass(frozen=True)
class V4Request:
    """A decrypted v4 request: `endpoint` keeps its ?query; `body` is None when absent."""

    method: str
    endpoint: str
    headers: dict[str, str]
    body: bytes | None = None

    @property
    def path(self) -> str:
        return self.endpoint.partition("?")[0]

    @property
    def query(self) -> str:
        return self.endpoint.partition("?")[2]


@dataclass(frozen=True)
class V4Response:
    """A decrypted v4 response; header names are lower-case."""

    status: int
    headers: dict[str, str]
    body: bytes


def build_v4_request(
    method: str,
    endpoint: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> bytes:
    """`l<meta json>[<body>]e` (pysogs `handle_v4_onionreq_plaintext`); pass a body only for
    POST and PUT."""
    meta = {"method": method, "endpoint": endpoint, "headers": dict(headers or {})}
    parts = [json.dumps(meta, separators=(",", ":")).encode()]
    if body is not None:
        parts.append(body)
    return bencode.encode(parts)


def parse_v4_request(plaintext: bytes) -> V4Request:
    """Read a decrypted v4 request; MalformedPayload means an encrypted inner 400."""
    parts = _bencoded_parts(plaintext)
    meta = _load_json_object(parts[0], MalformedPayload, "v4 request metadata")
    method, endpoint = meta.get("method"), meta.get("endpoint")
    # Any case, as pysogs takes it: its subrequest passes the method on as sent (pysogs
    # `sogs/routes/subrequest.py`) and Werkzeug upper-cases it. ASCII only: str.upper() would
    # also turn "po\u017ft" (with a long s) into "POST".
    if isinstance(method, str) and method.isascii():
        method = method.upper()
    if not isinstance(method, str) or method not in V4_METHODS:
        raise MalformedPayload(f"unsupported method {method!r}")
    # printable() also rules out CR/LF and lone surrogates, which must never reach routing.
    if not isinstance(endpoint, str) or not endpoint.startswith("/") or not endpoint.isprintable():
        raise MalformedPayload("endpoint must be a printable string starting with '/'")
    # pysogs treats a missing `headers` as empty (`meta.get('headers', {})`).
    headers = _headers(meta.get("headers", {}), lower=False)
    return V4Request(method, endpoint, headers, parts[1] if len(parts) == 2 else None)


def build_v4_response(status: int, headers: Mapping[str, str], body: bytes) -> bytes:
    """`l<{"code","headers"}><body>e`, names lower-cased and content-length dropped, as pysogs
    answers (`sogs/routes/subrequest.py`)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    lowered.pop("content-length", None)
    meta = json.dumps({"code": status, "headers": lowered}, separators=(",", ":")).encode()
    return bencode.encode([meta, body])


def v4_response_parts(status: int, headers: Mapping[str, str], body: bytes) -> list[bytes]:
    """`build_v4_response` as parts whose concatenation is its output, so a large body is
    never copied into the framing (pair it with `encrypt_reply_stream`)."""
    framed = build_v4_response(status, headers, b"")
    # build_v4_response(..., b"") ends with b"0:e": keep the metadata, frame the body here.
    return [framed[: -len(b"0:e")], b"%d:" % len(body), body, b"e"]


def parse_v4_response(plaintext: bytes) -> V4Response:
    """Read a decrypted v4 response; a missing body part means an empty body."""
    parts = _bencoded_parts(plaintext)
    meta = _load_json_object(parts[0], MalformedPayload, "v4 response metadata")
    status = _http_status(meta.get("code"), "response code")
    headers = _headers(meta.get("headers", {}), lower=True)
    return V4Response(status, headers, parts[1] if len(parts) == 2 else b"")


def _bencoded_parts(plaintext: bytes) -> list[bytes]:
    try:
        # Depth 1: a flat list of byte strings, nothing nested.
        parts = bencode.decode(plaintext, max_depth=1)
    except bencode.BencodeError as exc:
        raise MalformedPayload(f"not a bencoded list: {exc}") from None
    if not isinstance(parts, list) or not 1 <= len(parts) <= 2:
        raise MalformedPayload("expected a bencoded list of 1 or 2 parts")
    if not all(isinstance(part, bytes) for part in parts):
        raise MalformedPayload("every part must be a byte string")
    return cast(list[bytes], parts)


def _headers(value: object, *, lower: bool) -> dict[str, str]:
    if not isinstance(value, dict):
        raise MalformedPayload("headers must be a JSON object")
    headers: dict[str, str] = {}
    for name, raw in value.items():
        if not _HEADER_NAME.fullmatch(name):
            raise MalformedPayload(f"bad header name {name[:40]!r}")
        text = _header_text(raw)
        if text is None:
            continue
        if not text.isprintable():
            raise MalformedPayload(f"bad value of header {name[:40]!r}")
        headers[name.lower() if lower else name] = text
    return headers


def _header_text(value: object) -> str | None:
    """A v4 header value as HTTP text: strings as they are, JSON booleans and numbers as their
    JSON text, None for JSON null (no value: the header is left out).

    Android sends any header whose value reads as a boolean or an integer as that JSON value
    (`getHeadersForOnionRequest`, session-android `snode/utilities/OKHTTPUtilities.kt`), e.g.
    X-SOGS-Timestamp as a number; the JSON text ("true", "1700000000") is the string it came
    from, and what pysogs's handlers parse. Objects and arrays have no such text: refused.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)  # not str(): str(True) is "True", JSON's text is "true"
    raise MalformedPayload(f"header value is a JSON {type(value).__name__}")


# --- v3 (legacy) payloads ---------------------------------------------------------------


@dataclass(frozen=True)
class V3Response:
    """A decrypted v3 reply. v3 drops headers, so `status` comes from the body."""

    status: int
    body: bytes


def build_v3_request(
    method: str,
    endpoint: str,
    *,
    body: str = "",
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """The v3 JSON (pysogs `handle_v3_onionreq_plaintext`), all four keys always present, as
    Android sends it (`OnionRequestAPI.kt` `generatePayload`).

    An endpoint without a leading '/' is a legacy one (`rooms`, `rooms/<id>/image`).
    """
    request = {"endpoint": endpoint, "method": method, "body": body, "headers": dict(headers or {})}
    return json.dumps(request, separators=(",", ":")).encode()


def parse_v3_response(plaintext: bytes) -> V3Response:
    """Find the status of a v3 reply: legacy bodies and error stubs carry `status_code`;
    a modern endpoint's body passes through only on success, so without one it is 200.
    """
    try:
        decoded = json.loads(plaintext.decode("utf-8"))
    except (ValueError, RecursionError):
        return V3Response(200, plaintext)  # e.g. raw bytes from a modern endpoint
    status = decoded.get("status_code", 200) if isinstance(decoded, dict) else 200
    return V3Response(_http_status(status, "status_code"), plaintext)


# --- shared -----------------------------------------------------------------------------


def _http_status(value: object, what: str) -> int:
    # bool is an int subclass, and `true` is no status code.
    if not isinstance(value, int) or isinstance(value, bool) or not 100 <= value <= 599:
        raise MalformedPayload(f"bad {what} {value!r}")
    return value


def _load_json_object(data: bytes, error: type[OnionError], what: str) -> dict[str, Any]:
    try:
        # Decode first: json.loads(bytes) would also guess UTF-16/32, which nobody sends.
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # RecursionError: hostile nesting
        raise error(f"{what} is not valid JSON: {type(exc).__name__}") from None
    if not isinstance(value, dict):
        raise error(f"{what} is not a JSON object")
    return value
