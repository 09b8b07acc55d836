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


# -- the site in ru and fa (README "Languages") ---------------------------------------------

# The visible chrome of each page: our own words only, never the communities' names,
# descriptions or tags (those are not translated).
CHROME = {
    "home": [
        "header.site nav",
        "#filters label",
        "#filters small",
        "#filters option[value='']",
        "#sort option",
        "#results .summary",
        ".room .stats",
        "footer.site",
    ],
    "room": [
        "header.site nav",
        ".crumbs",
        ".about-room > h2",
        ".charts figcaption",
        "dl.facts dt",
        ".join-box h2",
        ".join-box p",
        "#report",
        "footer.site",
    ],
    "join": ["header.site nav", "main", "footer.site"],
}


def english_msgids(language: str) -> list[str]:
    """The English texts of the shipped catalog (each msgid cut at its placeholders and markup)
    that its translation does not itself contain ("API", "Session" may stay as they are)."""
    from babel.messages.pofile import read_po
    from django.utils.translation import to_locale

    path = REPO / "directory" / "locale" / to_locale(language) / "LC_MESSAGES" / "django.po"
    with path.open("rb") as file:
        catalog = read_po(file)
    texts = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        translated = " ".join(strings)
        for msgid in ids:
            plain = re.sub(r"<[^>]+>", "\n", msgid)
            for part in re.split(r"%\([a-z_]+\)s|%%|\n", plain):
                part = part.strip(" .,:;\u00b7()\u201c\u201d\"'\u2013-\u2192\u2190")
                if len(re.findall(r"[A-Za-z]", part)) >= 4 and part not in translated:
                    texts.append(part)
    return sorted(set(texts), key=len, reverse=True)


def test_english_msgids_reads_the_catalog():
    texts = english_msgids("ru")
    assert "Listing policy and privacy" in texts or not texts  # gone once ru translates it
    assert all("%(" not in text and "<" not in text for text in texts)


def chrome_text(page, which: str) -> str:
    parts = [page.title()]
    for selector in CHROME[which]:
        found = page.locator(selector).all_inner_texts()
        assert found, f"{which}: nothing matches {selector}"
        parts.extend(found)
    return "\n".join(parts)


def open_in(open_page, language: str, which: str, **options) -> Watched:
    """The page as a visitor whose browser asks for ``language`` reaches it: by the redirect."""
    paths = {
        "home": "/",
        "room": Room.objects.select_related("server").get(token="android").get_absolute_url(),
        "join": "/join/",
    }
    options.setdefault("viewport", {"width": 1280, "height": 900})
    watched = open_page(paths[which], locale=language, **options)
    assert urlsplit(watched.page.url).path == f"/{language}{paths[which]}"
    return watched


@pytest.mark.parametrize("language", ["ru", "fa"])
@pytest.mark.parametrize("which", ["home", "room", "join"])
def test_the_chrome_comes_from_the_catalog(open_page, language, which):
    """No English msgid is left in the visible chrome (fails if the catalog leaves one out)."""
    watched = open_in(open_page, language, which)
    page = watched.page
    assert page.evaluate("document.documentElement.lang") == language
    watched.shot(f"{which}-{language}")
    text = chrome_text(page, which)
    left = [msgid for msgid in english_msgids(language) if msgid in text]
    assert left == [], f"English left on the {language} {which} page: {left[:10]}"


@pytest.mark.parametrize("which", ["home", "room", "join"])
def test_persian_pages_run_right_to_left(open_page, which):
    watched = open_in(open_page, "fa", which)
    page = watched.page
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    brand, nav = (
        page.locator(".brand").bounding_box(),
        page.locator("header.site nav").bounding_box(),
    )
    assert brand["x"] > nav["x"]  # the site's name starts the line: on the right
    if which in ("home", "room"):
        join = page.locator(".join").first
        assert join.evaluate("element => getComputedStyle(element).direction") == "ltr"
        link = join.locator("input").input_value()
        assert link.startswith("http") and "?public_key=" in link
    if which == "room":
        assert page.locator("code").first.evaluate("e => getComputedStyle(e).direction") == "ltr"
        axis = page.locator("svg.chart").first.evaluate("e => getComputedStyle(e).direction")
        assert axis == "ltr"  # time runs left to right on the charts


def test_persian_home_fits_a_phone(open_page):
    watched = open_in(
        open_page, "fa", "home", viewport={"width": 390, "height": 844}, is_mobile=True
    )
    assert watched.page.evaluate("document.documentElement.scrollWidth") <= 390
    watched.shot("home-fa-phone")


def test_the_language_switch_works_without_javascript(open_page):
    watched = open_page("/", locale="fa", java_script_enabled=False)
    page = watched.page
    assert urlsplit(page.url).path == "/fa/"
    switch = page.locator("details.languages")
    switch.locator("summary").click()
    expect(switch.get_by_role("link", name="Русский")).to_be_visible()
    watched.shot("language-switch-fa")
    switch.get_by_role("link", name="Русский").click()
    page.wait_for_url(re.compile(r"/ru/$"))
    assert page.evaluate("document.documentElement.lang") == "ru"
    switch.locator("summary").click()
    switch.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    # Chosen on our own page (same-origin Referer): English stays, Accept-Language fa or not.
    assert urlsplit(page.url).path == "/"
    assert page.evaluate("document.documentElement.lang") == "en"
    page.locator("header.site nav a[href='/about/']").click()
    page.wait_for_url(re.compile(r"/about/$"))
    assert urlsplit(page.url).path == "/about/"
    assert page.context.cookies() == []


def test_a_hostile_room_name_stays_inert_on_persian_pages(open_page):
    from django.utils import timezone

    hostile = "\u202e<img src=x onerror=alert(1)>"
    Room.objects.filter(token="ai").update(
        name=hostile, age_rating=AgeRating.SFW, last_seen=timezone.now()
    )
    dialogs: list[str] = []
    for path in ("/fa/?q=onerror", "/fa" + Room.objects.get(token="ai").get_absolute_url()):
        watched = open_page(path, locale="fa")
        page = watched.page
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        shown = page.locator("main bdi", has_text="onerror").first
        assert shown.inner_text() == "<img src=x onerror=alert(1)>"
        assert page.locator("img[src='x']").count() == 0
        assert "\u202e" not in page.locator("body").inner_text()
        assert "\u202e" not in page.title()
    assert dialogs == []
