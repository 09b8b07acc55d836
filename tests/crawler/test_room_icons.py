"""Room icons: fetched when image_id changes, re-encoded to our own WebP, never hot-linked."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from crawler.icons import BadImage, reencode_icon
from crawler.pipeline import run_crawl
from directory.models import Room
from tests.support.loopback import reply
from tests.support.sogs import room

pytestmark = pytest.mark.django_db


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(out, "PNG")
    return out.getvalue()


def test_an_icon_is_fetched_once_per_image_id_and_stored_as_webp(config, sogs, page, media):
    server = sogs([room("lobby", image_id=5)])
    server.server.route("/room/lobby/file/5", reply(_png(1024, 512)))
    url = page(server.join_link("lobby"))
    run_crawl(config, source_urls=[url])
    lobby = Room.objects.get()
    assert lobby.icon_image_id == 5
    with Image.open(lobby.icon.path) as icon:
        assert icon.format == "WEBP" and max(icon.size) <= config.icon_size
    run_crawl(config, source_urls=[url])
    assert server.server.hits["/room/lobby/file/5"] == 1  # unchanged image_id: not fetched again


def test_a_file_that_is_not_an_image_is_refused(config, sogs, page, media):
    server = sogs([room("lobby", image_id=5)])
    server.server.route("/room/lobby/file/5", reply(b"<svg onload=alert(1)>"))
    run_crawl(config, source_urls=[page(server.join_link("lobby"))])
    assert not Room.objects.get().icon


def test_an_image_over_the_pixel_cap_is_refused():
    with pytest.raises(BadImage):
        reencode_icon(_png(1200, 1000), size=256, max_pixels=1_000_000)


def test_an_image_over_the_size_cap_is_not_read(config, sogs, page, media):
    server = sogs([room("lobby", image_id=5)])
    server.server.route("/room/lobby/file/5", reply(_png(64, 64) + bytes(300_000)))
    run_crawl(
        config.with_changes(max_image_bytes=100_000), source_urls=[page(server.join_link("lobby"))]
    )
    assert not Room.objects.get().icon
