"""Fixed pages, feeds and the security promises: strict CSP, no third-party assets, inert text."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from directory.models import AgeRating, Room

PAGES = ["home", "join_help", "about", "submit"]
HOSTILE = [
    '"><img src=x onerror=alert(1)>',
    "<script>alert(1)</script>",
    "\u202egnp.exe\u202c <svg onload=alert(1)>",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("name", PAGES)
def test_fixed_pages_render(client, imported, name):
    assert client.get(reverse(name)).status_code == 200


def test_csp_header_is_strict(client, imported):
    policy = client.get(reverse("home"))["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert "unsafe" not in policy


@pytest.mark.parametrize("name", PAGES)
def test_no_inline_scripts_and_no_third_party_assets(client, imported, name):
    page = client.get(reverse(name)).content.decode()
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert 'src="/static/' in tag or 'type="application/ld+json"' in tag
    assets = re.findall(r'<(?:img|script)\b[^>]*\bsrc="([^"]+)"', page)
    assets += re.findall(r'<link\b[^>]*rel="(?:stylesheet|icon)"[^>]*href="([^"]+)"', page)
    assert assets and all(url.startswith("/") for url in assets)
    assert " style=" not in page


def test_robots_txt_points_at_the_sitemap(client):
    text = client.get("/robots.txt").content.decode()
    assert "Sitemap: http://testserver/sitemap.xml" in text
    assert "Disallow: /admin/" in text


def test_sitemap_lists_pages_and_safe_rooms(client, imported):
    body = client.get("/sitemap.xml").content.decode()
    assert "http://testserver/about/" in body
    assert Room.objects.get(token="ai").get_absolute_url() in body
    adult = Room.objects.filter(suggested_age_rating=AgeRating.NSFW).select_related("server")[0]
    assert adult.get_absolute_url() not in body


def test_atom_feed_of_new_communities(client, imported):
    response = client.get(reverse("feed_new"))
    assert response["Content-Type"].startswith("application/atom+xml")
    assert b"<entry>" in response.content


def test_api_link_appears_only_when_the_route_exists(client, imported):
    from directory.templatetags.directory_tags import optional_url

    page = client.get(reverse("about")).content.decode()
    assert (optional_url("api_home") != "") == (">API</a>" in page)
    assert optional_url("no_such_route") == ""


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_room_text_renders_as_inert_text(client, imported, hostile):
    room = Room.objects.select_related("server").get(token="ai")
    Room.objects.filter(pk=room.pk).update(name=hostile, description=hostile)
    Room.objects.filter(pk=room.pk).update(last_seen=room.last_seen)  # refresh caches
    for url in (reverse("home") + "?q=alert", room.get_absolute_url(), "/feed/new.atom"):
        page = client.get(url).content.decode()
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "<svg onload" not in page
        assert 'href="javascript:' not in page
        assert "\u202e" not in page and "\u202c" not in page
    page = client.get(room.get_absolute_url()).content.decode()
    assert "&lt;" in page or "javascript:alert(1)" in page


def test_hostile_text_cannot_break_out_of_json_ld(client, imported):
    room = Room.objects.select_related("server").get(token="ai")
    Room.objects.filter(pk=room.pk).update(description="</script><script>alert(1)</script>")
    page = client.get(room.get_absolute_url()).content.decode()
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1)
    assert "<" not in block


def test_home_page_describes_the_site_with_json_ld(client, imported):
    page = client.get(reverse("home")).content.decode()
    assert '"@type": "WebSite"' in page and "search_term_string" in page
    assert '<meta property="og:title" content="Session Communities">' in page


def test_json_responses_carry_no_document_policy(client, imported):
    response = client.get("/listing/all")
    assert response.status_code == 200
    assert "Content-Security-Policy" not in response
    assert response["X-Content-Type-Options"] == "nosniff"  # what keeps JSON from being a page


def test_a_report_only_policy_still_reaches_json_responses(client, imported, settings):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    response = client.get("/listing/all")
    assert "Content-Security-Policy" not in response
    assert response["Content-Security-Policy-Report-Only"] == "default-src 'none'"
