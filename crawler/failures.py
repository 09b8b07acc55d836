"""Why a server could not be polled: the failure kinds, one exception type each, and their
ranking, so that a server that answered nothing is recorded with the failure that explains it.

A kind is the `Server.PollStatus` a failure leaves on its server. When one poll meets several
failures (an https address, then http; `/capabilities`, then the legacy `/loki/v3/lsrpc`; one
address, then another), the most informative one is kept: a refuted key says more than a body
too large, which says more than a malformed reply, than "not a SOGS", than an HTTP error page,
than a timeout (something is there), than a refused connection. A dead host behind a proxy (a
502 at once to every request) is thus "unreachable", never a key mismatch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from directory.lib import http
from directory.models import Server

Kind = Server.PollStatus

#: Most informative first. ERROR, our own bug meeting hostile data, outranks them all.
RANKING: tuple[Kind, ...] = (
    Kind.ERROR,
    Kind.KEY_MISMATCH,
    Kind.TOO_LARGE,
    Kind.BAD_RESPONSE,
    Kind.NOT_SOGS,
    Kind.HTTP_ERROR,
    Kind.TIMEOUT,
    Kind.UNREACHABLE,
)
_RANK = {kind: rank for rank, kind in enumerate(RANKING)}


class PollError(Exception):
    """A server could not be polled; `status` is the kind, what its Server records."""

    status: Kind = Kind.ERROR

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ServerUnreachable(PollError):
    """No connection (refused, no route, a private address, TLS failed), a gateway in front
    that could not reach it (502, 503), or no address answered for the server's key. An https
    address is tried again over http."""

    status = Kind.UNREACHABLE


class ServerTimedOut(PollError):
    """Accepted but silent, or dripping, past every attempt; or a gateway timed out (504)."""

    status = Kind.TIMEOUT


class HttpErrorReply(PollError):
    """Answered with an HTTP error page (403, 429, 500...): something is there, no SOGS API."""

    status = Kind.HTTP_ERROR


class NotASogsServer(PollError):
    status = Kind.NOT_SOGS


class BadSogsResponse(PollError):
    """Broken HTTP, bad JSON, or a reply that is not what the SOGS API answers."""

    status = Kind.BAD_RESPONSE


class ReplyTooLarge(BadSogsResponse):
    """A body over its cap (declared, received or decoded): reading stopped there."""

    status = Kind.TOO_LARGE


class KeyMismatch(PollError):
    """The key proof was refuted (`crawler/proof.py`), or no key is known to prove."""

    status = Kind.KEY_MISMATCH


def from_fetch_error(error: http.FetchError) -> PollError:
    """The PollError of a failed request."""
    if isinstance(error, http.Timeout):
        return ServerTimedOut(error.reason)
    if isinstance(error, http.Unreachable | http.BlockedAddress | http.BadURL):
        return ServerUnreachable(error.reason)
    if isinstance(error, http.ResponseTooLarge):
        return ReplyTooLarge(error.reason)
    return BadSogsResponse(error.reason)


def from_status(url: str, status: int) -> PollError:
    """The PollError of an HTTP error status where the SOGS API should have answered. A 502 or
    503 is a gateway (a proxy, a CDN, CRAWLER_PROXY) that could not reach the server; a 504 one
    that waited for it in vain."""
    if status in (502, 503):
        return ServerUnreachable(f"{url}: HTTP {status} from a gateway that cannot reach it")
    if status == 504:
        return ServerTimedOut(f"{url}: HTTP 504, a gateway timed out waiting for it")
    return HttpErrorReply(f"{url}: HTTP {status}")


def rank(error: PollError) -> int:
    return _RANK.get(error.status, 0)


def most_informative(errors: Iterable[PollError | None]) -> PollError | None:
    """The failure that best explains why nothing was read (the first of equals), or None."""
    known = [error for error in errors if error is not None]
    return min(known, key=rank) if known else None


def ranked_counts(counts: Mapping[str, int]) -> list[tuple[Kind, int]]:
    """`{kind: count}` (as a CrawlRun stores it) as (kind, count) pairs, most informative
    first; kinds this code does not know (an older run's) are left out."""
    kinds = [kind for kind in RANKING if counts.get(kind.value)]
    return [(kind, counts[kind.value]) for kind in kinds]


def summary(counts: Mapping[str, int]) -> str:
    """ "Unreachable 3, Timed out 1": a crawl's failures by kind, for its summary line."""
    return ", ".join(f"{kind.label} {count}" for kind, count in ranked_counts(counts))
