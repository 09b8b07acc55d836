"""No request reaches a private address: not from a hostile source link, not via a redirect.

These tests use the default guard (private addresses refused); the simulated servers are
reached only under pinned names, which the operator vouches for, like curl's --resolve.
"""

from __future__ import annotations

import pytest

from crawler.pipeline import run_crawl
from directory.lib.http import HttpConfig
from directory.models import Room, Server
from tests.crawler.conftest import loopback_config
from tests.support.loopback import redirect
from tests.support.sogs import room

pytestmark = pytest.mark.django_db


def guarded(**pins: str) -> object:
    return loopback_config(http=HttpConfig(connect_timeout=2, deadline=5, pinned_hosts=pins))


def test_the_default_configuration_refuses_private_addresses():
    from crawler.conf import CrawlConfig

    assert CrawlConfig.from_settings().http.allow_private_addresses is False


def test_hostile_source_links_to_private_addresses_are_never_requested(sogs, page):
    internal = sogs([room("lobby")])
    links = "\n".join(
        [
            internal.join_link("lobby"),
            internal.join_link("lobby", host="127.0.0.2"),
        ]
    )
    source = page(links, "text/plain").replace("127.0.0.1", "sources.example")
    run = run_crawl(guarded(**{"sources.example": "127.0.0.1"}), source_urls=[source])
    assert run.links_found == 2
    assert sum(internal.server.hits.values()) == 0
    assert not Room.objects.exists()
    assert run.servers_failed >= 1


def test_a_redirect_to_a_loopback_address_is_not_followed(sogs, page):
    internal = sogs([room("secret")])
    public = sogs([room("lobby")])
    public.server.route("/capabilities", redirect(internal.server.url("/capabilities")))
    link = public.join_link("lobby", host="sogs.example")
    source = page(link, "text/plain").replace("127.0.0.1", "sources.example")
    config = guarded(**{"sogs.example": "127.0.0.1", "sources.example": "127.0.0.1"})
    run_crawl(config, source_urls=[source])
    assert public.server.hits["/capabilities"] == 1
    assert sum(internal.server.hits.values()) == 0
    assert not Server.objects.filter(last_poll_status=Server.PollStatus.OK).exists()
