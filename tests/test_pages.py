"""The public pages show the imported directory (more in tests/web/)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from directory.models import Room


@pytest.fixture(autouse=True)
def private_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def test_home_lists_the_public_rooms(client, imported, settings):
    settings.WEB_ROOMS_PER_PAGE = 500
    page = client.get(reverse("home"), {"nsfw": "1"})
    assert page.status_code == 200
    assert page.content.count(b"?public_key=") == Room.objects.public().count()


def test_room_page_has_a_stable_url_from_key_and_token(client, imported):
    room = Room.objects.select_related("server").get(token="ai")
    url = room.get_absolute_url()
    assert room.server.pubkey in url and url.endswith("/ai/")
    page = client.get(url.replace("/ai/", "/AI/"))
    assert page.status_code == 200
    assert room.join_url.encode() in page.content


def test_hidden_room_page_is_not_found(client, imported):
    room = Room.objects.get(token="ai")
    Room.objects.filter(pk=room.pk).update(hidden=True)
    assert client.get(room.get_absolute_url()).status_code == 404


def test_room_without_icon_has_no_icon_url(client, imported):
    room = Room.objects.get(token="ai")
    assert room.icon_url == ""
    url = reverse("room_icon", kwargs={"pubkey": room.server.pubkey, "token": room.token})
    assert client.get(url).status_code == 404


def test_hostile_room_name_renders_as_inert_text(client, imported):
    Room.objects.filter(token="ai").update(name='"><img src=x onerror=alert(1)><script>x</script>')
    page = client.get(reverse("home")).content
    assert b"<script>x</script>" not in page and b"<img src=x" not in page
    assert b"&lt;script&gt;x&lt;/script&gt;" in page
