"""The site in a real browser (Debian's Chromium driven by Playwright) against a live server.

Every test also checks that the page logged no console errors and that no request left the
site's origin. Screenshots go to test-artifacts/ (gitignored) for a look at the design.
"""

from __future__ import annotations

import re
import shutil
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from directory.models import AgeRating, Room
from tests.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts"

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason="Chromium missing: run `make browser`"
)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site(transactional_db, live_server):
    """The demo directory (97 rooms), one room rated adult and one with 30 days of history."""
    from directory.formats.snapshot import import_snapshot
    from tests.conftest import SNAPSHOT
    from tests.directory.web.conftest import add_history

    import_snapshot(SNAPSHOT)
    Room.objects.filter(token="ai").update(age_rating=AgeRating.NSFW)
    add_history(Room.objects.get(token="android"), users=40, per_day=120)
    return live_server.url


class Watched:
    """A browser page whose console errors and outgoing requests are recorded."""

    def __init__(self, page, origin: str) -> None:
        self.page, self.origin = page, origin
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", self._request)

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _request(self, request) -> None:
        parts = urlsplit(request.url)
        if (
            parts.scheme not in ("data", "blob")
            and f"{parts.scheme}://{parts.netloc}" != self.origin
        ):
            self.foreign.append(request.url)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


@pytest.fixture
def open_page(browser, site):
    contexts = []
    watched: list[Watched] = []

    def open_page(path: str = "/", **options) -> Watched:
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        watcher = Watched(page, site)
        watched.append(watcher)
        page.goto(site + path)
        return watcher

    yield open_page
    for watcher in watched:
        assert watcher.errors == [], "console errors"
        assert watcher.foreign == [], "requests left the site's origin"
    for context in contexts:
        context.close()


def count(page) -> int:
    return int(page.locator("#count").inner_text())


def test_home_lists_rooms_and_search_narrows_instantly(open_page):
    watched = open_page("/", viewport={"width": 1280, "height": 900}, color_scheme="light")
    page = watched.page
    assert page.locator(".room").count() > 20
    before = count(page)
    watched.shot("home-light")
    page.get_by_label("Search").press_sequentially("android", delay=20)
    expect(page.locator("#count")).not_to_have_text(str(before))
    assert 0 < count(page) < before
    assert "Android" in page.locator(".room h2").first.inner_text()
    assert page.url.endswith("/?q=android")  # shareable


def test_search_works_without_javascript(open_page):
    watched = open_page("/", java_script_enabled=False)
    page = watched.page
    before = count(page)
    page.get_by_label("Search").fill("android")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"q=android"))
    assert 0 < count(page) < before
    assert page.locator("button.copy").first.is_hidden()  # copying needs JavaScript


def test_copy_button_copies_the_join_link(open_page):
    watched = open_page("/", permissions=["clipboard-read", "clipboard-write"])
    page = watched.page
    first = page.locator(".room").first
    join_url = first.locator(".join input").input_value()
    first.get_by_role("button", name="Copy").click()
    expect(page.locator("#toast")).to_contain_text("copied")
    assert page.evaluate("navigator.clipboard.readText()") == join_url
    assert "?public_key=" in join_url


def test_adult_toggle_shows_adult_rooms_with_a_warning(open_page):
    watched = open_page("/?q=intelligence")
    page = watched.page
    assert page.locator(".room").count() == 0
    page.get_by_label("Show adult (18+) communities").check()
    page.wait_for_selector(".room.adult")
    assert "Adult (18+) communities are shown" in page.locator("#results").inner_text()
    assert "nsfw=1" in page.url
    page.reload()  # remembered in the address, not a cookie
    assert page.locator(".room.adult").count() == 1
    assert page.context.cookies() == []


def test_room_page_shows_its_chart(open_page, site):
    room = Room.objects.select_related("server").get(token="android")
    watched = open_page(
        room.get_absolute_url(), viewport={"width": 1280, "height": 1000}, color_scheme="dark"
    )
    page = watched.page
    assert page.locator("svg.chart").count() == 2
    assert page.locator("svg.chart polyline").first.is_visible()
    assert page.locator("svg.qr").is_visible()
    watched.shot("room-dark")


def test_phone_layout_and_dark_home(open_page):
    watched = open_page(
        "/", viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True
    )
    page = watched.page
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing overflows sideways
    watched.shot("home-phone-dark")
    page.locator(".room details summary").first.click()
    page.locator(".room details img").first.wait_for()
    watched.shot("home-phone-qr")


def test_room_page_on_a_phone_in_light_mode(open_page):
    room = Room.objects.select_related("server").get(token="android")
    watched = open_page(
        room.get_absolute_url(),
        viewport={"width": 390, "height": 844},
        color_scheme="light",
        is_mobile=True,
    )
    page = watched.page
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    watched.shot("room-phone-light")
    page.get_by_role("link", name="Tell the moderators").click()
    page.get_by_label("What is wrong?").select_option("dead")
    page.get_by_role("button", name="Send report").click()
    expect(page.get_by_text("Thank you")).to_be_visible()


def test_submit_form_leads_to_the_status_page(open_page, sent_tasks):
    watched = open_page("/submit/", viewport={"width": 1000, "height": 800}, color_scheme="dark")
    page = watched.page
    page.get_by_label("Join link").fill("http://10.0.0.5/x?public_key=" + "ab" * 32)
    page.get_by_role("button", name="Submit").click()
    expect(page.locator(".errorlist")).to_contain_text("private, loopback or reserved")
    page.get_by_label("Join link").fill("https://chat.example.org/Hobbies?public_key=" + "ab" * 32)
    page.get_by_label("Tags (optional)").fill("hobbies")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#check")).to_contain_text("Waiting for the check")
    watched.shot("submission-dark")
    assert [name for name, _ in sent_tasks] == ["crawler.check_submission"]


def test_a_hostile_room_name_cannot_reorder_the_page_around_it(open_page):
    """pysogs takes any name an admin sets but characters below U+0020 (`update_room`,
    `sogs/routes/rooms.py`), so a bidi override (U+202E) and right-to-left letters can end one:
    the override is never rendered, and the name, in its own `<bdi>`, cannot pull the 18+ badge
    beside it to its left (unisolated, the Unicode bidi algorithm would show "evil 18+ שלום")."""
    from django.utils import timezone

    name = "evil \u202e\u05e9\u05dc\u05d5\u05dd"
    Room.objects.filter(token="ai").update(name=name, last_seen=timezone.now())
    watched = open_page("/?nsfw=1&q=evil", viewport={"width": 1280, "height": 900})
    page = watched.page
    row = page.locator(".room.adult")
    expect(row).to_have_count(1)
    shown = row.locator("h2 a bdi")
    assert shown.inner_text() == "evil \u05e9\u05dc\u05d5\u05dd"
    assert "\u202e" not in page.locator("body").inner_text()
    name_box, badge_box = shown.bounding_box(), row.locator("h2 .badge.adult").bounding_box()
    assert badge_box["x"] >= name_box["x"] + name_box["width"] - 1  # the badge stays after it
    assert abs(badge_box["y"] - name_box["y"]) < name_box["height"]  # on the same line
    watched.shot("hostile-name")

    room = Room.objects.get(token="ai")
    heading = open_page(room.get_absolute_url()).page.locator("h1 bdi")
    assert heading.inner_text() == "evil \u05e9\u05dc\u05d5\u05dd"
