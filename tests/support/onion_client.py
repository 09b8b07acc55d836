"""A Session-style onion client written from the upstream code alone, independent of
`directory.lib.onion`, so the endpoint is checked against Session's clients rather than against
itself: the envelope and keys of libsession-util (`src/onionreq/builder.cpp`,
`src/onionreq/hop_encryption.cpp`), the v4 framing of pysogs (`sogs/routes/onion_request.py`).

    client = OnionClient(server_pubkey_hex, enc_type="xchacha20")
    body = client.request("GET", "/listings")     # the outer body to POST to /oxen/v4/lsrpc
    code, headers, inner_body = client.read_reply(reply_bytes)
    # A given client's exact shapes: its inner JSON, its outer JSON (with our ephemeral key).
    body = client.envelope(v4_payload({"method": "GET", ...}), outer={..., "ephemeral_key": ...})
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct

import nacl.bindings
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def bencode_strings(parts: list[bytes]) -> bytes:
    """`l<len>:<bytes>...e`, hand-rolled as pysogs's tests do (`tests/test_onion_requests.py`)."""
    return b"l" + b"".join(str(len(part)).encode() + b":" + part for part in parts) + b"e"


def bdecode_strings(data: bytes) -> list[bytes]:
    """Consume `N:`-prefixed strings between a leading `l` and a trailing `e`, as Desktop reads
    a reply (`ts/session/onions/onionv4.ts` `decodeV4Response`)."""
    assert data[:1] == b"l" and data[-1:] == b"e", data[:20]
    parts, position = [], 1
    while position < len(data) - 1:
        colon = data.index(b":", position)
        size = int(data[position:colon])
        parts.append(data[colon + 1 : colon + 1 + size])
        position = colon + 1 + size
    return parts


def v4_payload(meta: dict, body: bytes | None = None) -> bytes:
    """A v4 request: the metadata JSON (compact, keys in the caller's order, as the clients'
    serialisers keep them), then the body part when there is one."""
    parts = [json.dumps(meta, separators=(",", ":")).encode()]
    return bencode_strings(parts if body is None else [*parts, body])


class OnionClient:
    """One ephemeral key per client, a fresh nonce per request, like Session clients."""

    def __init__(
        self, server_pubkey_hex: str, enc_type: str | None = "aes-gcm", secret: bytes | None = None
    ) -> None:
        self.server_pubkey = bytes.fromhex(server_pubkey_hex)
        # None: leave enc_type out, which means AES-GCM (Desktop and Android send none).
        self.enc_type = enc_type
        self.secret = secret or os.urandom(32)
        self.pubkey = nacl.bindings.crypto_scalarmult_base(self.secret)
        shared = nacl.bindings.crypto_scalarmult(self.secret, self.server_pubkey)
        if enc_type in (None, "aes-gcm", "gcm"):
            self.key = hmac.new(b"LOKI", shared, hashlib.sha256).digest()
        else:
            self.key = hashlib.blake2b(
                shared + self.pubkey + self.server_pubkey, digest_size=32
            ).digest()

    @classmethod
    def with_secret(cls, server_pubkey_hex: str, enc_type: str, secret_hex: str) -> OnionClient:
        """A client with a fixed ephemeral key, e.g. a test vector's."""
        return cls(server_pubkey_hex, enc_type, bytes.fromhex(secret_hex))

    @property
    def is_gcm(self) -> bool:
        return self.enc_type in (None, "aes-gcm", "gcm")

    def encrypt(self, plaintext: bytes) -> bytes:
        if self.is_gcm:
            iv = os.urandom(12)
            return iv + AESGCM(self.key).encrypt(iv, plaintext, None)
        nonce = os.urandom(24)
        return nonce + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            plaintext, None, nonce, self.key
        )

    def decrypt(self, blob: bytes) -> bytes:
        if self.is_gcm:
            return AESGCM(self.key).decrypt(blob[:12], blob[12:], None)
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            blob[24:], None, blob[:24], self.key
        )

    def envelope(self, payload: bytes, outer: dict | None = None) -> bytes:
        """`[u32 LE N][blob][JSON]`, the JSON being `outer` as given (compact, as every client
        writes it; the caller puts `ephemeral_key` in) or else the keys a real client sends."""
        blob = self.encrypt(payload)
        if outer is not None:
            outer_json = json.dumps(outer, separators=(",", ":")).encode()
            return struct.pack("<I", len(blob)) + blob + outer_json
        outer = {
            "host": "directory.example",
            "port": 443,
            "protocol": "https",
            "target": "/oxen/v4/lsrpc",
            "method": "POST",
            "ephemeral_key": self.pubkey.hex(),
        }
        if self.enc_type is not None:
            outer["enc_type"] = self.enc_type
        return struct.pack("<I", len(blob)) + blob + json.dumps(outer).encode()

    def request(self, method: str, endpoint: str, headers: dict | None = None) -> bytes:
        meta = {"method": method, "endpoint": endpoint, "headers": headers or {}}
        return self.envelope(bencode_strings([json.dumps(meta).encode()]))

    @property
    def pubkey_hex(self) -> str:
        return self.pubkey.hex()

    def read_reply(self, reply: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = bdecode_strings(self.decrypt(reply))
        meta = json.loads(parts[0])
        return meta["code"], meta["headers"], parts[1] if len(parts) > 1 else b""
