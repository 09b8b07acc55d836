"""Hedged attempts at the first request to a host: the next attempt starts before the previous
one gives up, so a host that accepts connections and never answers costs about two attempt
deadlines instead of the sum of them all, and one that ignores its first requests (a flaky
route) answers a later one soon.

Attempt n+1 starts once attempt n has run `HEDGE_AFTER` of its deadline (or at once when every
attempt so far has ended); at most `len(deadlines)` are in flight. The first complete answer wins
(a response, or a failure that is not a timeout, such as a refused connection) and the others
are cancelled: their sockets are shut down (`directory.lib.http.Cancellation`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from typing import Any

from directory.lib import http

#: The fraction of an attempt's deadline after which the next attempt starts. Under a half, so
#: that three attempts of equal deadlines are in flight at once: a host that never answers is
#: given up on after 1.8 deadlines, one that ignores its first two requests is asked a third
#: time after 0.8 of a deadline.
HEDGE_AFTER = 0.4


class Hedged:
    """The outcome of hedged attempts: the winning response, and how many attempts started."""

    def __init__(self, response: http.Response, attempts: int) -> None:
        self.response = response
        self.attempts = attempts


class AllTimedOut(http.Timeout):
    """Every attempt missed its deadline; `attempts` says how many there were."""

    def __init__(self, url: str, reason: str, attempts: int) -> None:
        super().__init__(url, reason)
        self.attempts = attempts


class AttemptFailed(Exception):
    """An attempt ended in a failure other than a timeout, which decides the request."""

    def __init__(self, error: http.FetchError, attempts: int) -> None:
        super().__init__(error)
        self.error = error
        self.attempts = attempts


def hedged_request(
    client: http.GuardedClient,
    method: str,
    url: str,
    *,
    deadlines: Sequence[float],
    **options: Any,
) -> Hedged:
    """`client.request(method, url, **options)` with up to `len(deadlines)` overlapping
    attempts, attempt n under `deadlines[n]`. Raises `AllTimedOut` or `AttemptFailed`."""
    if not deadlines:
        raise ValueError("at least one attempt deadline is needed")
    outcomes: queue.SimpleQueue[tuple[int, http.Response | BaseException]] = queue.SimpleQueue()
    cancellations: list[http.Cancellation] = []
    in_flight, next_at = 0, 0.0

    def attempt(number: int, cancellation: http.Cancellation) -> None:
        try:
            response = client.request(
                method, url, deadline=deadlines[number], cancellation=cancellation, **options
            )
        except BaseException as error:  # handed to the caller's thread, which raises it
            outcomes.put((number, error))
        else:
            outcomes.put((number, response))

    try:
        while True:
            started = len(cancellations)
            if started < len(deadlines) and (in_flight == 0 or time.monotonic() >= next_at):
                cancellations.append(http.Cancellation())
                threading.Thread(
                    target=attempt,
                    args=(started, cancellations[-1]),
                    name=f"attempt {started + 1} {url}"[:80],
                    daemon=True,
                ).start()
                in_flight += 1
                next_at = time.monotonic() + HEDGE_AFTER * deadlines[started]
                continue
            wait = max(0.0, next_at - time.monotonic()) if started < len(deadlines) else None
            try:
                _number, outcome = outcomes.get(timeout=wait)
            except queue.Empty:
                continue  # time for the next attempt
            in_flight -= 1
            if isinstance(outcome, http.Timeout):
                if in_flight == 0 and started == len(deadlines):
                    raise AllTimedOut(outcome.url, outcome.reason, started)
                continue
            if isinstance(outcome, http.FetchError):
                raise AttemptFailed(outcome, len(cancellations))
            if isinstance(outcome, BaseException):
                raise outcome
            return Hedged(outcome, len(cancellations))
    finally:
        for cancellation in cancellations:  # the winner's has finished: a no-op for it
            cancellation.cancel()
