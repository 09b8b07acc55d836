"""Merge by key: one server under an IP and a domain; an https address that only works over http."""

from __future__ import annotations

import pytest

from crawler.pipeline import run_crawl
from directory.lib.http import HttpConfig
from directory.models import Server
from tests.crawler.conftest import loopback_config
from tests.support.sogs import room

pytestmark = pytest.mark.django_db


def test_the_same_server_under_an_ip_and_a_domain_is_one_server(sogs, page):
    """(The server keeps pysogs's default URL_BASE, `sogs/config.py`, so its room page
    advertises an address that is not its own, which is ignored: the domain wins, as before
    servers' advertised addresses counted.)"""
    server = sogs([room("lobby")], url_base="http://example.net")
    config = loopback_config(
        http=HttpConfig(allow_private_addresses=True, pinned_hosts={"sogs.example": "127.0.0.1"})
    )
    links = f"{server.join_link('lobby')}\n{server.join_link('lobby', host='sogs.example')}"
    run_crawl(config, source_urls=[page(links, "text/plain")])
    stored = Server.objects.get()
    assert stored.pubkey == server.pubkey
    assert sorted(address.host for address in stored.addresses.all()) == [
        "127.0.0.1",
        "sogs.example",
    ]
    assert stored.preferred_address.host == "sogs.example"  # a domain over an IP
    assert stored.rooms.count() == 1


def test_an_https_address_that_fails_is_retried_over_http(config, sogs, page):
    server = sogs([room("lobby")])
    link = server.join_link("lobby").replace("http://", "https://")
    run_crawl(config, source_urls=[page(link)])
    stored = Server.objects.get()
    assert stored.last_poll_status == Server.PollStatus.OK
    https = stored.addresses.get(scheme="https")
    http = stored.addresses.get(scheme="http")
    assert https.last_failure_at and not https.last_success_at
    assert http.last_success_at
    assert stored.preferred_address == http  # the scheme that works
