"""Hedged first requests (`crawler/hedging.py`): the next attempt starts before the previous one
times out, at most three are in flight at a host that never answers, the first answer wins and
the attempts still hanging are closed at once."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from crawler.hedging import AttemptFailed, hedged_request
from crawler.polling import poll_all
from directory.lib import http
from tests.support.loopback import LoopbackHandler, LoopbackServer, json_reply
from tests.support.processes import free_port
from tests.support.sogs import lobby_targets, room

pytestmark = pytest.mark.django_db


class Hanging:
    """A handler that never answers its first `hangs` requests (all of them by default) and
    notes, for each, how many were hanging at once and when the client closed it."""

    def __init__(self, answer=None, hangs: int = 1_000) -> None:
        self.answer, self.hangs = answer, hangs
        self.lock = threading.Lock()
        self.seen = self.in_flight = self.most_in_flight = 0
        self.closed_at: list[float] = []

    def __call__(self, handler: LoopbackHandler) -> None:
        with self.lock:
            self.seen += 1
            if self.seen > self.hangs:
                return self.answer(handler)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            self._wait_for_close(handler)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _wait_for_close(self, handler: LoopbackHandler) -> None:
        sock = handler.connection
        sock.settimeout(0.02)
        while not handler.owner.stopping.is_set():
            try:
                if sock.recv(1, socket.MSG_PEEK) == b"":
                    break  # the client closed (or shut down) the connection
            except TimeoutError:
                continue
            except OSError:
                break
        with self.lock:
            self.closed_at.append(time.monotonic())
        handler.close_connection = True


def test_a_host_that_never_answers_gets_three_attempts_in_flight_at_once(config, sogs):
    hole = sogs([room("lobby")])
    hanging = Hanging()
    hole.server.route("/capabilities", hanging)
    short = config.with_changes(probe_deadlines=(1.0, 1.0, 1.0))  # attempts at 0, 0.4, 0.8 s
    (poll,) = poll_all(lobby_targets(hole), short, lambda pubkey, polls: None)
    assert poll.error.status == "timeout" and "3 attempts" in poll.error.reason
    assert hole.server.hits["/capabilities"] == 3 and poll.requests == 3
    assert hanging.most_in_flight == 3  # sequential attempts would never overlap


def test_a_host_that_hangs_twice_is_polled_and_its_hanging_requests_are_closed(config, sogs):
    server = sogs([room("lobby")])
    hanging = Hanging(json_reply({"capabilities": ["sogs"]}), hangs=2)
    server.server.route("/capabilities", hanging)
    hedged = config.with_changes(probe_deadlines=(2.0, 2.0, 2.0))  # attempts at 0, 0.8, 1.6 s
    (poll,) = poll_all(lobby_targets(server), hedged, lambda pubkey, polls: None)
    done = time.monotonic()
    assert poll.ok and [data["token"] for data in poll.rooms] == ["lobby"]
    assert server.server.hits["/capabilities"] == 3 and hanging.most_in_flight == 2
    # The first two had 0.4 and 1.2 s left: both were cancelled when the third answered.
    deadline = time.monotonic() + 0.3
    while len(hanging.closed_at) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(hanging.closed_at) == 2 and max(hanging.closed_at) < done + 0.3


def test_a_refused_connection_is_not_hedged():
    """A failure that is not a timeout decides at once: nothing is there to answer."""
    config = http.HttpConfig(allow_private_addresses=True, connect_timeout=1)
    with http.GuardedClient(config, threads=3) as client, pytest.raises(AttemptFailed) as caught:
        url = f"http://127.0.0.1:{free_port()}/capabilities"
        hedged_request(client, "GET", url, deadlines=(1, 1, 1), max_bytes=1000)
    assert isinstance(caught.value.error, http.Unreachable) and caught.value.attempts == 1


def test_a_cancelled_request_raises_cancelled_and_closes_its_connection():
    with LoopbackServer() as server:
        hanging = Hanging()
        url = server.route("/hang", hanging)
        cancellation = http.Cancellation()
        config = http.HttpConfig(allow_private_addresses=True, deadline=30)
        threading.Timer(0.3, cancellation.cancel).start()
        started = time.monotonic()
        with http.GuardedClient(config) as client, pytest.raises(http.Cancelled):
            client.get(url, max_bytes=1000, cancellation=cancellation)
        assert time.monotonic() - started < 5  # not the 30 s deadline
        deadline = time.monotonic() + 2
        while not hanging.closed_at and time.monotonic() < deadline:
            time.sleep(0.01)
        assert hanging.closed_at  # the server saw the connection end
