"""A crawl never writes a server's name or icon: SOGS has neither, moderators set them."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from crawler.pipeline import run_crawl
from directory.models import Server
from tests.support.sogs import room

pytestmark = pytest.mark.django_db


def test_crawls_keep_the_moderators_server_name_and_icon(config, sogs, media):
    server = sogs([room("lobby")])
    run_crawl(config, server_urls=[server.join_link("lobby")])
    stored = Server.objects.get(pubkey=server.pubkey)
    stored.name = "Lobby people"
    stored.icon.save("lobby.png", ContentFile(b"icon bytes"), save=False)
    stored.save()

    run_crawl(config)  # answered: every crawled field written again
    server.stop()
    run_crawl(config)  # unreachable: the failure written

    stored = Server.objects.get(pubkey=server.pubkey)
    assert stored.last_poll_status == Server.PollStatus.UNREACHABLE
    assert stored.name == "Lobby people"
    assert stored.icon.read() == b"icon bytes"
    assert not {"name", "icon"} & set(Server.CRAWLED_FIELDS)
