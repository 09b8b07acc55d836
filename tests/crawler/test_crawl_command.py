"""`manage.py crawl`: --source and --server, a summary, exit 0 when servers fail; and the same
rooms when the network is reached through CRAWLER_PROXY."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from directory.models import Room, Server
from tests.support.proxy import LoopbackProxy
from tests.support.sogs import room

pytestmark = pytest.mark.django_db


def crawl(*args: str) -> str:
    out = io.StringIO()
    call_command("crawl", *args, stdout=out)
    return out.getvalue()


def _rooms() -> set[tuple[str, str, str]]:
    return set(Room.objects.values_list("server__pubkey", "token", "name"))


def test_crawl_source_and_the_same_through_a_proxy_find_the_same_rooms(
    loopback_settings, sogs, legacy_sogs, page
):
    modern = sogs([room("lobby"), room("dev")])
    legacy = legacy_sogs()
    url = page(f"{modern.join_link('lobby')} {legacy.join_link('main')}", "text/plain")
    output = crawl("--source", url)
    assert "2 servers ok" in output
    direct = _rooms()
    assert len(direct) == 3

    Server.objects.all().delete()
    with LoopbackProxy() as proxy:
        loopback_settings.CRAWLER_PROXY = proxy.url
        crawl("--source", url)
    assert _rooms() == direct
    assert any(f":{modern.server.port}/rooms" in line for line in proxy.requests)


def test_crawl_server_polls_just_that_server(loopback_settings, sogs):
    one, other = sogs([room("lobby")]), sogs([room("other")])
    crawl("--server", one.base_url)  # a bare server URL: the key comes from its room page
    assert list(Room.objects.values_list("token", flat=True)) == ["lobby"]
    assert Server.objects.get().key_state == Server.KeyState.PROVEN
    assert sum(other.server.hits.values()) == 0


def test_crawl_exits_normally_when_servers_fail(loopback_settings, sogs):
    dead = sogs([room("lobby")])
    link = dead.join_link("lobby")
    dead.stop()
    output = crawl("--server", link)
    assert "1 failed" in output


def test_crawl_fails_when_it_cannot_run(loopback_settings):
    loopback_settings.CRAWLER_PROXY = "socks5://127.0.0.1:1"
    with pytest.raises(CommandError):
        crawl()
