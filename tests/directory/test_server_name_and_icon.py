"""A server's name and icon: moderators set them in the admin (SOGS has neither), and the
server page, the icon route and the listing API's `room_extra` show them."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from directory import admin as directory_admin
from directory.models import Room, Server

NAME = "Oxen community server"


def png(size: tuple[int, int] = (32, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "purple").save(out, "PNG")
    return out.getvalue()


ICON = png()


@pytest.fixture(autouse=True)
def isolated(settings, tmp_path, private_cache):
    """Uploads in a temporary MEDIA_ROOT; a private cache (and, from tests/conftest.py, no
    version memo), so the listing shows an edit at once."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def server(imported) -> Server:
    return Room.objects.select_related("server").get(token="ai").server


def edit(client, server: Server, **changes: object):
    """Post the server's change form as shown, with `changes`; the inlines left as they are."""
    inlines = {
        f"{inline}-{count}": 0
        for inline in ("addresses", "rooms")
        for count in ("TOTAL_FORMS", "INITIAL_FORMS")
    }
    form: dict[str, object] = {
        "name": server.name,
        "default_age_rating": server.default_age_rating,
        "notes": server.notes,
        **({"official": "on"} if server.official else {}),
        **inlines,
        **changes,
    }
    return client.post(reverse("admin:directory_server_change", args=[server.pk]), form)


def upload(data: bytes, name: str = "logo.bin") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def server_extras(client, pubkey: str) -> tuple[list[dict], list[dict]]:
    """The `room_extra` of /listing/all: the server's rooms, and every other room."""
    rooms = client.get("/listing/all").json()["rooms"]
    extras = [entry["room_extra"] for entry in rooms]
    mine = [extra for extra in extras if extra["server_pubkey"] == pubkey]
    return mine, [extra for extra in extras if extra["server_pubkey"] != pubkey]


def test_moderator_names_a_server_and_uploads_its_icon(client, moderator, server):
    before, _ = server_extras(client, server.pubkey)
    assert before and {extra["server_name"] for extra in before} == {None}
    client.force_login(moderator)

    response = edit(client, server, name=NAME, icon=upload(ICON))

    assert response.status_code == 302, response.content[:2000]
    server.refresh_from_db()
    assert server.name == NAME
    assert server.icon.name.endswith(".png")  # named after what the bytes are
    assert (server.history.first().name, server.history.first().history_user) == (NAME, moderator)
    page = client.get(reverse("server_detail", kwargs={"pubkey": server.pubkey})).content.decode()
    assert f"<h1>{NAME}</h1>" in page
    assert f"<title>{NAME} · Session Communities</title>" in page
    assert f'<img src="{server.icon_url}"' in page

    mine, others = server_extras(client, server.pubkey)
    assert {extra["server_name"] for extra in mine} == {NAME}
    icon_urls = {extra["server_icon_url"] for extra in mine}
    assert icon_urls == {f"http://testserver{server.icon_url}"}
    assert {extra["server_icon_url"] for extra in others} == {None}
    icon = client.get(urlsplit(icon_urls.pop()).path)
    assert icon.status_code == 200
    assert b"".join(icon.streaming_content) == ICON
    assert icon["Content-Type"] == "image/png"
    assert icon["X-Content-Type-Options"] == "nosniff"
    assert icon["Cache-Control"] == "public, max-age=86400"


def test_a_crawled_server_page_without_a_name_or_icon_shows_the_host(client, server):
    page = client.get(reverse("server_detail", kwargs={"pubkey": server.pubkey})).content.decode()
    assert f"<h1>{server.preferred_address.host}</h1>" in page
    assert 'class="icon big"' not in page
    assert client.get(reverse("server_icon", kwargs={"pubkey": server.pubkey})).status_code == 404


NOT_AN_IMAGE = b"Upload a PNG, JPEG, WebP or GIF image."


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html><script>alert(1)</script></html>", NOT_AN_IMAGE),
        (b"\x89PNG\r\n\x1a\nnot really", NOT_AN_IMAGE),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', NOT_AN_IMAGE),
        (b"", b"The submitted file is empty."),
    ],
    ids=["html", "broken-png", "svg", "empty"],
)
def test_an_upload_that_is_not_an_image_is_refused(client, moderator, server, data, message):
    client.force_login(moderator)
    response = edit(client, server, icon=upload(data, "logo.png"))
    assert response.status_code == 200
    assert message in response.content
    server.refresh_from_db()
    assert not server.icon


@pytest.mark.parametrize(
    ("cap", "value", "message"),
    [
        ("ICON_MAX_BYTES", len(ICON) - 1, b"An icon may be at most"),
        ("ICON_MAX_PIXELS", 32 * 32 - 1, b"An icon may have at most"),
    ],
)
def test_an_icon_over_a_cap_is_refused(client, moderator, server, monkeypatch, cap, value, message):
    monkeypatch.setattr(directory_admin, cap, value)
    client.force_login(moderator)
    response = edit(client, server, icon=upload(ICON))
    assert response.status_code == 200 and message in response.content
    server.refresh_from_db()
    assert not server.icon


def test_a_hidden_servers_icon_is_not_served(client, moderator, server):
    client.force_login(moderator)
    edit(client, server, icon=upload(ICON))
    server.refresh_from_db()
    url = server.icon_url
    assert client.get(url).status_code == 200
    Server.objects.filter(pk=server.pk).update(hidden=True)
    assert client.get(url).status_code == 404
