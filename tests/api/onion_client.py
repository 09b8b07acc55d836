"""A Session-style onion client written from protocol.md §4 alone, independent of
`directory.lib.onion`, so the endpoint is checked against the spec rather than against itself.

    client = OnionClient(server_pubkey_hex, enc_type="xchacha20")
    body = client.request("GET", "/listings")     # the outer body to POST to /oxen/v4/lsrpc
    code, headers, inner_body = client.read_reply(reply_bytes)
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
    """`l<len>:<bytes>...e`, hand-rolled as pysogs's tests do (§4.4)."""
    return b"l" + b"".join(str(len(part)).encode() + b":" + part for part in parts) + b"e"


def bdecode_strings(data: bytes) -> list[bytes]:
    """Consume `N:`-prefixed strings between a leading `l` and a trailing `e` (§4.7 step 7)."""
    assert data[:1] == b"l" and data[-1:] == b"e", data[:20]
    parts, position = [], 1
    while position < len(data) - 1:
        colon = data.index(b":", position)
        size = int(data[position:colon])
        parts.append(data[colon + 1 : colon + 1 + size])
        position = colon + 1 + size
    return parts


class OnionClient:
    """One ephemeral key per client, a fresh nonce per request, like Session clients."""

    def __init__(
        self, server_pubkey_hex: str, enc_type: str | None = "aes-gcm", secret: bytes | None = None
    ) -> None:
        self.server_pubkey = bytes.fromhex(server_pubkey_hex)
        self.enc_type = enc_type  # None: leave enc_type out, which means AES-GCM (§4.2)
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

    def envelope(self, payload: bytes) -> bytes:
        """`[u32 LE N][blob][JSON]` with the service-node keys a real client also sends."""
        blob = self.encrypt(payload)
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

    def read_reply(self, reply: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = bdecode_strings(self.decrypt(reply))
        meta = json.loads(parts[0])
        return meta["code"], meta["headers"], parts[1] if len(parts) > 1 else b""
