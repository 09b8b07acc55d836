"""In a real browser (Debian's Chromium, as tests/directory/web/test_browser.py does): a moderator
signs in with a second factor, hides a room with a public reason, and the room leaves the home
page and /listing/all while the public record and its feed show why, without the moderator."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from playwright.sync_api import expect

from directory.models import Listing, Room
from directory.roles import MODERATOR_PERMISSIONS, MODERATORS, create_moderator, sync_group
from tests.directory.web.test_browser import ARTIFACTS, CHROMIUM, Watched
from tests.support.totp import totp

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason="Chromium missing: run `make browser`"
)

MODERATOR = "moderator-quill"


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watched = Watched(page, site)
    yield watched
    assert watched.foreign == [], "requests left the site's origin"
    assert watched.errors == [], "console errors"
    context.close()


def _listed_tokens(page, site: str) -> set[str]:
    body = page.request.get(f"{site}/listing/all").text()
    return {entry["room"]["token"] for entry in json.loads(body)["rooms"]}


def _home_links(page, site: str, query: str) -> list[str]:
    page.goto(f"{site}/?q={query}")
    return [link.get_attribute("href") for link in page.locator(".room h2 a").all()]


def _seeded() -> None:
    """What the seed migration made, which an earlier transactional test's flush removed."""
    from django.apps import apps

    sync_group(apps, MODERATORS, MODERATOR_PERMISSIONS)
    Listing.objects.get_or_create(slug=Listing.ALL, defaults={"name": "All", "include_all": True})


def test_a_moderator_hides_a_room_and_the_public_record_says_why(page, site, settings):
    settings.ADMIN_REQUIRE_2FA = True
    _seeded()
    _, password = create_moderator(MODERATOR)
    room = Room.objects.select_related("server").get(token="android")
    browser_page = page.page
    assert room.get_absolute_url() in _home_links(browser_page, site, "android")
    assert room.token in _listed_tokens(browser_page, site)

    # Sign in: password, then enrol an authenticator app with the secret the page shows.
    browser_page.goto(f"{site}/admin/")
    browser_page.get_by_label("Username").fill(MODERATOR)
    browser_page.get_by_label("Password").fill(password)
    browser_page.get_by_role("button", name="Log in").click()
    expect(browser_page.locator("img.twofactor-qr")).to_be_visible()
    page.shot("admin-2fa-setup")
    secret = browser_page.locator("#secret").inner_text()
    browser_page.get_by_label("Code").fill(totp(secret))
    browser_page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(browser_page.locator("#backup-codes li")).to_have_count(10)
    browser_page.get_by_role("link", name="Continue to the admin").click()

    # Hide the room from the room list, with a public reason and a private note.
    browser_page.goto(f"{site}/admin/directory/room/?q=android")
    browser_page.locator(f'input.action-select[value="{room.pk}"]').check()
    browser_page.locator('select[name="action"]').select_option("hide_rooms")
    browser_page.locator('select[name="public_reason"]').select_option("spam")
    browser_page.locator('input[name="public_reason_text"]').fill("Floods members with ads.")
    browser_page.locator('input[name="private_note"]').fill("note-for-mods-only")
    browser_page.get_by_role("button", name="Go").click()
    expect(browser_page.locator(".messagelist")).to_contain_text("Hid 1 rooms")
    page.shot("admin-room-hidden")

    # The public record, as a visitor (a new context: no session).
    visitor = browser_page.context.browser.new_context()
    public = visitor.new_page()
    public.goto(f"{site}/about/")
    public.get_by_role("link", name="public record of changes").click()
    entry = public.locator("#changes li").first
    expect(entry).to_contain_text("De-listed")
    expect(entry).to_contain_text(room.name)
    expect(entry).to_contain_text("Spam: Floods members with ads.")
    html = public.content()
    assert MODERATOR not in html and "note-for-mods-only" not in html
    public.screenshot(path=str(ARTIFACTS / "public-record.png"))
    feed = public.request.get(f"{site}/feed/changes.atom").text()
    assert "De-listed" in feed and room.name in feed and "Floods members with ads." in feed
    assert MODERATOR not in feed and "note-for-mods-only" not in feed

    # Gone from the home page and from the API's listing of everything.
    assert room.get_absolute_url() not in _home_links(public, site, "android")
    assert room.token not in _listed_tokens(public, site)
    assert re.search(r"\d+ communit", public.content())  # the home page itself still works
    visitor.close()
