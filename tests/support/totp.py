"""TOTP codes computed from a base32 secret as an authenticator app does (RFC 6238 over RFC
4226: HMAC-SHA1, 30-second steps, six digits), independently of django-otp."""

from __future__ import annotations

import base64
import hmac
import struct
import time


def totp(secret: str, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), "sha1").digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**digits:0{digits}d}"
