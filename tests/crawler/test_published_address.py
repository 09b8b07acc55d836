"""The base URL a server is published at (its rooms' join_url, the API's server_url) is stable:
the one its own room page advertises, else the first that answered, whichever address works in
the last poll.

Session clients tell Communities apart by the base URL: libsession keeps it canonical in the
`community` it stores (`src/config/community.cpp`, `canonical_url`) and Desktop names the
conversation after it (`getOpenGroupV2ConversationId` in
`ts/session/apis/open_group_api/utils/OpenGroupUtils.ts`), so a room published under a second URL
would be joined a second time.
"""

from __future__ import annotations

import pytest

from crawler.pipeline import run_crawl
from directory.lib.http import HttpConfig
from directory.models import Room, Server
from tests.crawler.conftest import loopback_config
from tests.support.loopback import blackhole, reply, stream
from tests.support.sogs import room

pytestmark = pytest.mark.django_db

DOMAIN = "sogs.example"


def _config(domain_answers: bool):
    """Loopback crawling where DOMAIN reaches the simulated server, or a closed loopback port."""
    pins = {DOMAIN: "127.0.0.1" if domain_answers else "127.0.0.2"}
    return loopback_config(http=HttpConfig(allow_private_addresses=True, pinned_hosts=pins))


def _join_url() -> str:
    return Room.objects.select_related("server__preferred_address").get().join_url


def test_the_advertised_address_stays_the_join_url_while_another_one_works(sogs, page):
    """pysogs shows `room.url`, `<URL_BASE>/<token>?public_key=<key>`, on `/r/<token>/`
    (`sogs/routes/views.py` `view_room`, `sogs/templates/view_room.html`): the base URL its
    operator configured, here the domain. In the crawls where only the IP address answers, the
    old rule ("works first") published the IP address; the advertised domain stays."""
    server = sogs([room("lobby")])
    server.url_base = f"http://{DOMAIN}:{server.server.port}"
    advertised = server.join_link("lobby", host=DOMAIN)
    links = page(f"{server.join_link('lobby')}\n{advertised}", "text/plain")

    run_crawl(_config(domain_answers=True), source_urls=[links])
    stored = Server.objects.get()
    assert stored.advertised_base_url == server.url_base
    assert sorted(address.host for address in stored.addresses.all()) == ["127.0.0.1", DOMAIN]
    assert _join_url() == advertised

    for crawl in range(4):  # the domain fails: the links' crawls, then the known servers'
        run_crawl(_config(domain_answers=False), source_urls=[links] if crawl < 2 else None)
        assert _join_url() == advertised
    stored.refresh_from_db()
    assert stored.last_poll_status == Server.PollStatus.OK  # polled where it answers
    assert stored.advertised_base_url == server.url_base


def test_the_advertised_address_wins_over_a_domain_that_works(sogs, page):
    """The server's page (pysogs `sogs/templates/view_room.html`) advertises its IP address;
    the old rule ("a domain over an IP") published the domain, which works as well."""
    server = sogs([room("lobby")])
    advertised = server.join_link("lobby")
    links = page(f"{server.join_link('lobby', host=DOMAIN)}\n{advertised}", "text/plain")

    run_crawl(_config(domain_answers=True), source_urls=[links])
    assert _join_url() == advertised
    run_crawl(_config(domain_answers=True))
    assert _join_url() == advertised


def test_an_advertised_link_with_another_key_or_an_unknown_address_is_ignored(sogs, page):
    """Only a link carrying the key the server proved counts; and pysogs's default URL_BASE
    (`sogs/config.py`: http://example.net) on an unconfigured server is not one of its
    addresses, so it is never published."""
    server = sogs([room("lobby")])
    other_key = "cd" * 32
    server.server.route(
        "/r/lobby/",
        reply(f"<pre>{server.base_url}/lobby?public_key={other_key}</pre>".encode()),
    )
    links = page(f"{server.join_link('lobby')}\n{server.join_link('lobby', host=DOMAIN)}")
    run_crawl(_config(domain_answers=True), source_urls=[links])
    assert Server.objects.get(pubkey=server.pubkey).advertised_base_url == ""
    assert _join_url() == server.join_link("lobby", host=DOMAIN)  # a domain over an IP

    unconfigured = sogs([room("main")], url_base="http://example.net")
    run_crawl(_config(domain_answers=True), source_urls=[page(unconfigured.join_link("main"))])
    stored = Server.objects.get(pubkey=unconfigured.pubkey)
    assert stored.advertised_base_url == "http://example.net"
    assert stored.base_url == unconfigured.base_url


def test_the_join_url_does_not_follow_reachability_from_crawl_to_crawl(sogs, page):
    """A server without a room page (nothing advertised) keeps the first address published
    while the other one is the one that works, and after. The old rule re-chose "works first"
    after every poll, and flipped to the IP address once the domain failed."""
    server = sogs([room("lobby")])
    del server.server.routes["/r/lobby/"]  # a 404: nothing advertised
    links = page(f"{server.join_link('lobby', host=DOMAIN)}\n{server.join_link('lobby')}")
    published = server.join_link("lobby", host=DOMAIN)  # a domain over an IP, at first

    run_crawl(_config(domain_answers=True), source_urls=[links])
    assert Server.objects.get().advertised_base_url == ""
    assert _join_url() == published

    statuses = []
    for domain_answers in (False, False, False, True, False, True):
        run_crawl(_config(domain_answers))  # every known server, at the address(es) it keeps
        statuses.append(Server.objects.get().last_poll_status)
        assert _join_url() == published
    # Polling still goes where the server answers: once the domain is known to fail, the IP
    # address is polled as well, and the server is online although its published address fails.
    assert statuses[1:4] == [Server.PollStatus.OK] * 3
    assert statuses[-1] == Server.PollStatus.OK


@pytest.mark.parametrize("broken", [blackhole(), stream(2_000_000)], ids=["hangs", "too large"])
def test_a_room_page_that_breaks_does_not_fail_the_poll(sogs, page, broken):
    """The page is read for what it advertises (pysogs `sogs/routes/views.py` `view_room`); a
    server whose page hangs or is oversized still answered its API, so it is still online."""
    server = sogs([room("lobby")])
    server.server.route("/r/lobby/", broken)
    config = loopback_config(deadline=0.5)
    run_crawl(config, source_urls=[page(server.join_link("lobby"))])
    stored = Server.objects.get()
    assert stored.last_poll_status == Server.PollStatus.OK
    assert stored.key_state == Server.KeyState.PROVEN
    assert stored.advertised_base_url == ""
    assert server.server.hits["/r/lobby/"] == 1
