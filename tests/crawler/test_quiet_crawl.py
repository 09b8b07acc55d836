"""A clean crawl logs only its own events: no urllib3 warnings, even through CRAWLER_PROXY with
more threads than a connection pool used to hold, and hosts whose first requests hang (so up to
three hedged attempts per host are in flight, `crawler/hedging.py`)."""

from __future__ import annotations

import logging

import pytest

from crawler.pipeline import run_crawl
from directory.lib.http import HttpConfig
from directory.models import Server
from tests.crawler.conftest import loopback_config
from tests.support.loopback import flaky, json_reply
from tests.support.proxy import LoopbackProxy
from tests.support.sogs import room

pytestmark = pytest.mark.django_db

SERVERS = 12
FLAKY = 4  # of them: their first two requests never get an answer


def test_a_clean_crawl_through_a_proxy_logs_no_urllib3_warnings(sogs, page, caplog):
    """Through a proxy, every plain-http request shares the one pool to the proxy; urllib3
    (`connectionpool.py`, `_put_conn`) warns "Connection pool is full, discarding connection"
    for each connection returned to a full pool, so the pools must hold one per thread."""
    servers = [sogs([room(f"room{index}")]) for index in range(SERVERS)]
    for server in servers[:FLAKY]:
        capabilities = json_reply({"capabilities": ["blind", "reactions", "sogs"]})
        server.server.route("/capabilities", flaky(capabilities, failures=2))
    links = "\n".join(server.join_link(f"room{index}") for index, server in enumerate(servers))
    caplog.set_level(logging.WARNING)
    with LoopbackProxy() as proxy:
        http = HttpConfig(
            proxy=proxy.url, allow_private_addresses=True, connect_timeout=2, deadline=5
        )
        run = run_crawl(
            loopback_config(http=http, concurrency=8), source_urls=[page(links, "text/plain")]
        )
    assert run.servers_ok == SERVERS
    assert Server.objects.filter(last_poll_status=Server.PollStatus.OK).count() == SERVERS
    assert len(proxy.requests) > SERVERS  # every request went through the proxy
    assert all(server.server.hits["/capabilities"] == 3 for server in servers[:FLAKY])
    warnings = [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno >= logging.WARNING
    ]
    assert warnings == []
