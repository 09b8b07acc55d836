"""Fixtures of the crawler tests: a crawl configuration for loopback, simulated servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from crawler.conf import CrawlConfig
from directory.lib.http import HttpConfig
from tests.support.loopback import LoopbackServer
from tests.support.sogs import FakeLegacySogs, FakeSogs


def loopback_config(**changes: object) -> CrawlConfig:
    """The settings' crawl with short deadlines (tests stay fast), loopback allowed (the
    simulated network lives there) and a fresh crawler key each time (no key file)."""
    http = changes.pop("http", None) or HttpConfig(
        connect_timeout=2.0, deadline=5.0, allow_private_addresses=True
    )
    base = CrawlConfig.from_settings().with_changes(
        http=http, concurrency=16, deadline=5.0, probe_deadlines=(1.0, 1.0, 1.5), key_file=None
    )
    return base.with_changes(**changes)


@pytest.fixture
def config() -> CrawlConfig:
    return loopback_config()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def network() -> Iterator[Callable]:
    """Start simulated servers (FakeSogs, FakeLegacySogs, LoopbackServer); all stop at the end."""
    started: list = []

    def start(server):
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def sogs(network) -> Callable[..., FakeSogs]:
    return lambda *args, **kwargs: network(FakeSogs(*args, **kwargs))


@pytest.fixture
def legacy_sogs(network) -> Callable[..., FakeLegacySogs]:
    return lambda *args, **kwargs: network(FakeLegacySogs(*args, **kwargs))


@pytest.fixture
def page(network) -> Callable[[str, str], str]:
    """Serve a source page (HTML, Markdown or JSON text) on loopback; returns its URL."""
    from tests.support.loopback import reply

    def serve(body: str, content_type: str = "text/html") -> str:
        server = network(LoopbackServer())
        return server.route("/page", reply(body.encode(), headers={"Content-Type": content_type}))

    return serve


@pytest.fixture(autouse=True)
def no_real_internet(request):
    """The seed migration adds real sources and the official server; a crawl in a test must
    only ever see the simulated network, so they are removed."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    from directory.models import Server, Source

    Source.objects.all().delete()
    Server.objects.all().delete()


@pytest.fixture
def loopback_settings(settings):
    """Django settings for a crawl of loopback servers, with short probe deadlines."""
    settings.CRAWLER_ALLOW_PRIVATE_ADDRESSES = True
    settings.CRAWLER_PROBE_DEADLINES = [1.0, 1.0, 1.5]
    settings.CRAWLER_KEY_FILE = None
    return settings
