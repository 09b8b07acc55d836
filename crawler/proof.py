"""What one onion request to a server says about the key it was encrypted to: the verdict of a
key proof, from the reply alone. Pure: a status and a body in, a verdict out.

pysogs (`sogs/routes/onion_request.py`, `decrypt_onionreq` and `handle_v4_onion_request`)
answers an onion request it cannot decrypt with a plain 400 and nothing else; every request it
can decrypt gets a 200 whose body is encrypted back with the shared key, whatever the inner
request came to (an inner 404 or 500 is inside). So:

- an outer 400 to our well-formed request, or a 200 whose body does not decrypt, REFUTES the key;
- a 200 that decrypts PROVES it, whatever its inner status;
- no endpoint (404, 405, 501) is NO_ENDPOINT: the caller may prove the key another way;
- anything else (403, 429, 5xx from a proxy or CDN in front, or no reply at all: timeouts,
  resets, a body past its cap) is UNKNOWN: the key's previous state stands, and a key never
  proven stays unproven rather than failed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from directory.lib import onion

_NO_ENDPOINT = frozenset({404, 405, 501})


class Verdict(enum.Enum):
    PROVEN = "proven"
    REFUTED = "refuted"
    UNKNOWN = "unknown"
    NO_ENDPOINT = "no endpoint"


@dataclass(frozen=True)
class Finding:
    """A verdict, why (for moderators and the crawl's errors), and, when the reply decrypted,
    its plaintext."""

    verdict: Verdict
    why: str
    plaintext: bytes | None = None


def judge_reply(status: int, body: bytes, session: onion.ClientSession, *, v3: bool) -> Finding:
    """The verdict of the reply (`status`, `body`) to an onion request made with `session`.
    A v3 reply is base64 text of the encrypted bytes, a v4 reply the bytes themselves."""
    if status in _NO_ENDPOINT:
        return Finding(Verdict.NO_ENDPOINT, f"HTTP {status}: no onion endpoint")
    if status == 400:
        return Finding(Verdict.REFUTED, "HTTP 400: it could not decrypt a request to this key")
    if status != 200:
        return Finding(Verdict.UNKNOWN, f"HTTP {status}: no answer from the server itself")
    try:
        plaintext = session.decrypt_v3_response(body) if v3 else session.decrypt_response(body)
    except onion.OnionError as error:
        return Finding(Verdict.REFUTED, f"its reply did not decrypt with this key ({error})")
    return Finding(Verdict.PROVEN, "its reply decrypted", plaintext)


def unknown(why: str) -> Finding:
    """No reply to judge (a timeout, a reset, a body past its cap)."""
    return Finding(Verdict.UNKNOWN, why)
