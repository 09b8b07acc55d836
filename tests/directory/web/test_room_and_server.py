"""Room and server pages: everything known, join link and QR, activity chart, reports."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from directory.models import AgeRating, Report, Room, Server
from tests.directory.web.conftest import add_history


@pytest.fixture
def room(imported) -> Room:
    return Room.objects.select_related("server").get(token="ai")


def test_room_page_has_a_stable_url_from_key_and_token(client, room):
    url = room.get_absolute_url()
    assert room.server.pubkey in url and url.endswith("/ai/")
    page = client.get(url.replace("/ai/", "/AI/"))
    assert page.status_code == 200
    assert room.join_url.encode() in page.content


def test_room_page_shows_join_link_qr_and_facts(client, room):
    page = client.get(room.get_absolute_url()).content.decode()
    assert room.join_url in page
    assert re.search(r'<svg role="img" viewBox="0 0 \d+ \d+" class="qr">', page)
    assert room.server.base_url in page
    for label in ("Age rating", "Language", "First seen", "Last seen", "Server"):
        assert f"<dt>{label}</dt>" in page


def test_room_page_without_history_has_an_empty_chart_state(client, room):
    page = client.get(room.get_absolute_url()).content
    assert b"No activity history yet" in page
    assert b'class="chart' not in page


def test_room_page_charts_30_days_with_a_table_fallback(client, room):
    add_history(room, days=40, users=5, per_day=25)
    page = client.get(room.get_absolute_url()).content.decode()
    assert page.count('<svg class="chart') == 2
    rows = re.findall(
        r'<tr><td><time datetime="\d{4}-\d\d-\d\d">[^<]+</time></td>'
        r"<td>(\d+)</td><td>([\d\u2013]+)</td></tr>",
        page,
    )
    assert len(rows) == 30
    assert rows[-1] == ("44", "25")


def test_room_page_has_json_ld_and_opengraph(client, room):
    page = client.get(room.get_absolute_url()).content.decode()
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    data = json.loads(block.group(1))
    assert data["mainEntity"]["url"] == room.join_url
    assert '<meta property="og:title" content="Artificial Intelligence">' in page


def test_adult_room_page_warns_and_blurs(client, room):
    Room.objects.filter(pk=room.pk).update(age_rating=AgeRating.NSFW)
    page = client.get(room.get_absolute_url()).content
    assert b"rated or flagged as adult" in page
    assert b'class="room-page adult"' in page


def test_room_qr_code_is_generated_here(client, room):
    response = client.get(room.get_absolute_url() + "qr.svg")
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")


def test_report_is_queued_for_moderators(client, room):
    url = reverse("room_report", kwargs={"pubkey": room.server.pubkey, "token": room.token})
    response = client.post(url, {"kind": "rating", "message": "This is adult content"})
    assert response.status_code == 302
    report = Report.objects.get()
    assert (report.room, report.kind, report.status) == (room, "rating", "open")
    assert b"Thank you" in client.get(response["Location"]).content


def test_report_needs_a_known_kind(client, room):
    url = reverse("room_report", kwargs={"pubkey": room.server.pubkey, "token": room.token})
    assert client.post(url, {"kind": "spam!"}).status_code == 400
    assert not Report.objects.exists()


def test_reports_are_rate_limited(client, room, settings):
    settings.WEB_REPORTS_PER_HOUR = 2
    url = reverse("room_report", kwargs={"pubkey": room.server.pubkey, "token": room.token})
    codes = [client.post(url, {"kind": "dead"}).status_code for _ in range(3)]
    assert codes == [302, 302, 429]
    assert Report.objects.count() == 2


def test_server_page_shows_addresses_key_state_history_and_rooms(client, room):
    server = room.server
    add_history(room, days=3)
    page = client.get(reverse("server_detail", kwargs={"pubkey": server.pubkey})).content
    assert server.base_url.encode() in page
    assert server.get_key_state_display().encode() in page
    assert b'class="uptime"' in page
    assert b"Artificial Intelligence" in page


def test_server_page_of_hidden_server_is_not_found(client, room):
    Server.objects.filter(pk=room.server_id).update(hidden=True)
    url = reverse("server_detail", kwargs={"pubkey": room.server.pubkey})
    assert client.get(url).status_code == 404


def test_unknown_room_is_a_friendly_404(client, imported):
    response = client.get("/community/" + "0" * 64 + "/nothing/")
    assert response.status_code == 404
    assert b"Page not found" in response.content and b"Search communities" in response.content


def test_room_without_icon_has_no_icon_url(client, room):
    assert room.icon_url == ""
    url = reverse("room_icon", kwargs={"pubkey": room.server.pubkey, "token": room.token})
    assert client.get(url).status_code == 404


def test_icons_are_our_own_copies_and_blurred_for_adult_rooms(client, room, settings, tmp_path):
    from django.core.files.base import ContentFile

    settings.MEDIA_ROOT = tmp_path
    room.icon.save("ai.png", ContentFile(b"\x89PNG\r\n\x1a\nnot really"), save=True)
    Room.objects.filter(pk=room.pk).update(age_rating=AgeRating.NSFW)
    page = client.get(reverse("home"), {"nsfw": "1", "q": "artificial"}).content.decode()
    icon_url = room.get_absolute_url() + "icon"
    assert (
        f'<li class="room adult">\n<span class="icon" aria-hidden="true"><img src="{icon_url}"'
        in page
    )
    response = client.get(icon_url)
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"


def test_room_page_is_the_same_for_everyone_and_sets_no_cookie(client, room):
    first = client.get(room.get_absolute_url())
    again = client.get(room.get_absolute_url() + "?utm_source=elsewhere")
    assert first.content == again.content
    assert not first.cookies and not again.cookies
    canonical = f'<link rel="canonical" href="http://testserver{room.get_absolute_url()}">'
    assert canonical in first.content.decode()


def test_room_page_shows_an_edit_at_once(client, room):
    client.get(room.get_absolute_url())
    room.age_rating = AgeRating.NSFW
    room.save()
    assert b"rated or flagged as adult" in client.get(room.get_absolute_url()).content


def test_hidden_room_page_is_gone_at_once(client, room):
    assert client.get(room.get_absolute_url()).status_code == 200
    room.hidden = True
    room.save()
    assert client.get(room.get_absolute_url()).status_code == 404


def test_report_form_has_its_own_page_linked_from_the_room(client, room):
    url = reverse("room_report", kwargs={"pubkey": room.server.pubkey, "token": room.token})
    assert f'href="{url}"' in client.get(room.get_absolute_url()).content.decode()
    form = client.get(url)
    assert form.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in form.content
    assert b'name="kind"' in form.content


def test_legacy_rooms_pages_say_current_apps_cannot_join(client, room):
    """Session Desktop fetches `/capabilities` before joining and gives up without it
    (session-desktop `ts/session/apis/open_group_api/sogsv3/sogsV3RoomInfos.ts`); a legacy
    server (pysogs `sogs/routes/legacy.py`) has none, and its `member_count` is not SOGS'
    `active_users`."""
    from django.utils import timezone

    now = timezone.now()
    Server.objects.filter(pk=room.server_id).update(
        api_kind=Server.ApiKind.LEGACY, last_poll_at=now
    )
    Room.objects.filter(pk=room.pk).update(legacy_member_count=42, active_users=None, last_seen=now)
    mark = "legacy server: current Session apps cannot join"
    page = client.get(room.get_absolute_url()).content.decode()
    assert mark in page
    assert "42 ever joined" in page
    server_page = client.get(reverse("server_detail", kwargs={"pubkey": room.server.pubkey}))
    assert mark in server_page.content.decode()


def test_room_names_are_bidi_isolated_on_room_and_server_pages(client, room):
    page = client.get(room.get_absolute_url()).content.decode()
    assert "<h1><bdi>Artificial Intelligence</bdi></h1>" in page
    server_page = client.get(reverse("server_detail", kwargs={"pubkey": room.server.pubkey}))
    assert "<bdi>Artificial Intelligence</bdi></a>" in server_page.content.decode()
