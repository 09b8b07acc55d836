"""A key from a join link is a claim: proven by a v4 onion request, else by the room page;
refuted only by what pysogs answers when it cannot decrypt (`crawler/proof.py`)."""

from __future__ import annotations

import pytest

from crawler.pipeline import run_crawl
from directory.lib.http import HttpConfig
from directory.models import Room, Server
from tests.directory.web.conftest import _private_cache  # noqa: F401  (autouse: a cache of its own)
from tests.support.loopback import blackhole, reply
from tests.support.proxy import LoopbackProxy
from tests.support.sogs import room

pytestmark = pytest.mark.django_db


def test_key_mismatch_server_is_not_listed_under_the_claimed_key(config, sogs, page):
    server = sogs([room("lobby")])
    claimed = "cd" * 32
    run_crawl(config, source_urls=[page(server.join_link("lobby", pubkey=claimed))])
    impostor = Server.objects.get(pubkey=claimed)
    assert impostor.key_state == Server.KeyState.FAILED
    assert "did not prove" in impostor.key_conflict  # shown to moderators
    assert not Room.objects.exists()
    assert not Server.objects.visible().exists()


def test_a_false_claim_does_not_unlist_a_proven_server(config, sogs, page):
    real = sogs([room("lobby")])
    impostor = sogs([room("lobby")])
    links = f"{real.join_link('lobby')}\n{impostor.join_link('lobby', pubkey=real.pubkey)}"
    run_crawl(config, source_urls=[page(links, "text/plain")])
    server = Server.objects.get(pubkey=real.pubkey)
    assert server.key_state == Server.KeyState.PROVEN
    assert impostor.base_url in server.key_conflict
    assert [address.base_url for address in server.addresses.all()] == [real.base_url]


def test_without_a_v4_endpoint_the_room_page_proves_the_key(config, sogs, page):
    server = sogs([room("lobby")], v4=False)
    run_crawl(config, source_urls=[page(server.join_link("lobby"))])
    stored = Server.objects.get(pubkey=server.pubkey)
    assert stored.key_state == Server.KeyState.PROVEN
    assert server.server.hits["/r/lobby/"] == 1
    assert stored.rooms.count() == 1


def test_a_room_page_showing_another_key_refutes_the_claim(config, sogs, page):
    server = sogs([room("lobby")], v4=False)
    claimed = "ef" * 32
    run_crawl(config, source_urls=[page(server.join_link("lobby", pubkey=claimed))])
    assert Server.objects.get(pubkey=claimed).key_state == Server.KeyState.FAILED
    assert not Room.objects.exists()


# --- Verdicts: what refutes a key, what proves it, what tells nothing -----------------------------
# pysogs `sogs/routes/onion_request.py`: a request it cannot decrypt gets a plain outer 400
# (`decrypt_onionreq`, `handle_v4_onion_request`); any request it can decrypt gets an outer 200
# whose body is encrypted back, whatever the inner request came to
# (`handle_v4_onionreq_plaintext`, `handle_v3_onionreq_plaintext`).


def _crawl_through(config, proxy, link):
    http = HttpConfig(proxy=proxy.url, allow_private_addresses=True, connect_timeout=2, deadline=5)
    return run_crawl(config.with_changes(http=http), server_urls=[link])


def test_a_v4_reply_that_decrypts_proves_the_key_whatever_its_inner_status(config, sogs):
    """pysogs `handle_v4_onionreq_plaintext` encrypts an inner 500 like any other reply."""
    server = sogs([room("lobby")])
    server.inner_replies["/capabilities"] = (500, b"internal error")
    run_crawl(config, server_urls=[server.join_link("lobby")])
    stored = Server.objects.get(pubkey=server.pubkey)
    assert stored.key_state == Server.KeyState.PROVEN
    assert stored.last_poll_status == Server.PollStatus.OK and not stored.key_conflict


def test_an_outer_400_refutes_the_key(config, sogs):
    """pysogs `decrypt_onionreq`: `abort(http.BAD_REQUEST)` when it cannot decrypt."""
    server = sogs([room("lobby")])
    claimed = "cd" * 32
    run_crawl(config, server_urls=[server.join_link("lobby", pubkey=claimed)])
    stored = Server.objects.get(pubkey=claimed)
    assert stored.key_state == Server.KeyState.FAILED
    assert "HTTP 400" in stored.key_conflict
    assert stored.last_poll_status == Server.PollStatus.KEY_MISMATCH


def test_a_200_that_does_not_decrypt_refutes_the_key(config, sogs):
    """A real pysogs encrypts every 200 to the request's key (`junk.transformReply`); a body
    that does not decrypt came from something that does not hold the key."""
    server = sogs([room("lobby")])
    server.server.route("/oxen/v4/lsrpc", reply(b"\x00" * 64))
    run_crawl(config, server_urls=[server.join_link("lobby")])
    stored = Server.objects.get(pubkey=server.pubkey)
    assert stored.key_state == Server.KeyState.FAILED
    assert "did not decrypt" in stored.key_conflict
    assert not Room.objects.exists()


@pytest.mark.parametrize("status", [403, 429, 502, 503])
def test_a_proxy_refusing_the_onion_request_leaves_a_proven_key_proven(config, sogs, status):
    """403/429/5xx come from a proxy or CDN in front, never from pysogs' onion handler (it
    answers 200 or 400 only, `sogs/routes/onion_request.py`): they tell nothing of the key."""
    server = sogs([room("lobby")])
    run_crawl(config, server_urls=[server.join_link("lobby")])
    assert Server.objects.get(pubkey=server.pubkey).key_state == Server.KeyState.PROVEN
    with LoopbackProxy(answers={"/oxen/v4/lsrpc": status}) as proxy:
        _crawl_through(config, proxy, server.join_link("lobby"))
        assert f"POST {server.base_url}/oxen/v4/lsrpc" in proxy.requests
    stored = Server.objects.get(pubkey=server.pubkey)
    assert stored.key_state == Server.KeyState.PROVEN and not stored.key_conflict
    assert stored.last_poll_status == Server.PollStatus.OK  # its rooms were read as ever
    assert stored.rooms.count() == 1


def test_a_key_never_proven_stays_unproven_and_listed_when_the_proof_tells_nothing(
    config, sogs, client
):
    """Unknown is not failed: the rooms are listed with `key_proven: false`."""
    server = sogs([room("lobby")])
    with LoopbackProxy(answers={"/oxen/v4/lsrpc": 429}) as proxy:
        _crawl_through(config, proxy, server.join_link("lobby"))
    stored = Server.objects.get(pubkey=server.pubkey)
    assert stored.key_state == Server.KeyState.UNVERIFIED and not stored.key_conflict
    listed = client.get("/listing/all").json()["rooms"]
    assert [entry["room"]["token"] for entry in listed] == ["lobby"]
    assert listed[0]["room_extra"]["key_proven"] is False


def test_an_onion_request_that_times_out_tells_nothing_of_the_key(config, sogs):
    server = sogs([room("lobby")])
    server.server.route("/oxen/v4/lsrpc", blackhole())
    run_crawl(config.with_changes(deadline=0.5), server_urls=[server.join_link("lobby")])
    stored = Server.objects.get(pubkey=server.pubkey)
    assert stored.key_state == Server.KeyState.UNVERIFIED and not stored.key_conflict
    assert stored.last_poll_status == Server.PollStatus.OK


def test_a_legacy_server_behind_a_failing_gateway_keeps_its_key_state(config, legacy_sogs):
    """A 502 to the v3 request (`/loki/v3/lsrpc`) is the gateway's, not pysogs' 400."""
    legacy = legacy_sogs()
    run_crawl(config, server_urls=[legacy.join_link("main")])
    with LoopbackProxy(answers={"/loki/v3/lsrpc": 502}) as proxy:
        _crawl_through(config, proxy, legacy.join_link("main"))
    stored = Server.objects.get(pubkey=legacy.pubkey)
    assert stored.key_state == Server.KeyState.PROVEN and not stored.key_conflict
    assert stored.last_poll_status == Server.PollStatus.UNREACHABLE
    assert "HTTP 502" in stored.last_poll_error and "decrypt" not in stored.last_poll_error
    assert stored.rooms.count() == 1  # kept, offline


def test_a_legacy_reply_that_decrypts_proves_the_key_even_when_its_inner_call_failed(
    config, legacy_sogs
):
    """pysogs `handle_v3_onionreq_plaintext` answers a failed sub-request with an encrypted
    `{"status_code": N}`: the server holds the key, its room list is what failed."""
    legacy = legacy_sogs()
    Server.objects.create(pubkey=legacy.pubkey)
    legacy.inner_status["rooms"] = 500
    run_crawl(config, server_urls=[legacy.join_link("main")])
    stored = Server.objects.get(pubkey=legacy.pubkey)
    assert stored.key_state == Server.KeyState.PROVEN and not stored.key_conflict
    assert stored.last_poll_status == Server.PollStatus.BAD_RESPONSE


def test_a_legacy_200_that_does_not_decrypt_refutes_the_key(config, legacy_sogs):
    legacy = legacy_sogs()
    legacy.server.route("/loki/v3/lsrpc", reply(b"bm90IGVuY3J5cHRlZA=="))  # base64, not ours
    run_crawl(config, server_urls=[legacy.join_link("main")])
    stored = Server.objects.get(pubkey=legacy.pubkey)
    assert stored.key_state == Server.KeyState.FAILED
    assert "did not decrypt" in stored.key_conflict
