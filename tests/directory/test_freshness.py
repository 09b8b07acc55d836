"""The one data version of the site and the API, and the copies built from it: every kind of
change moves it (a room passing the offline grace period too, with nothing written), it costs
one query per period, and a copy served to everyone holds nothing of the visitor who built it."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from directory import freshness
from directory.freshness import data_version, read_data_version
from directory.models import CrawlRun, Listing, Room, RoomActivity, Server, Tag

# What one visitor brings: none of it may reach the copy another visitor is served.
FIRST_VISITOR = {
    "HTTP_USER_AGENT": "first-visitor-agent-91c2",
    "HTTP_ACCEPT_LANGUAGE": "xx-firstvisitor-4b7e",
    "HTTP_REFERER": "https://first-visitor-referer-3a9d.example/",
    "HTTP_X_ODD_HEADER": "first-visitor-header-5d1e",
}
# A base template that prints everything of the request it is rendered with.
PROBE_BASE = (
    "{% block title %}{% endblock %}{% block head %}{% endblock %}{% block content %}{% endblock %}"
    "<p>{{ user.get_username }} {{ user.email }} {{ request.COOKIES }} {{ request.headers }}"
    " {{ request.META }} {% csrf_token %} {{ csrf_token }}</p>"
)


@pytest.fixture(autouse=True)
def isolated(settings, private_cache):
    """Copies shared through the cache stay within the test; every room on one page."""
    settings.WEB_ROOMS_PER_PAGE = 500


@pytest.fixture
def room(imported) -> Room:
    return Room.objects.select_related("server").get(token="ai")


def _edit_room(room: Room) -> None:
    room.maintainer_description = "Reviewed."
    room.save()


def _crawl(room: Room) -> None:
    Room.objects.filter(pk=room.pk).update(active_users=77, last_seen=timezone.now())
    Server.objects.filter(pk=room.server_id).update(last_poll_at=timezone.now())


def _rename_tag(room: Room) -> None:
    tag = Tag.objects.filter(rooms__isnull=False).first()
    tag.label = tag.label + " (renamed)"
    tag.save()


def _edit_address(room: Room) -> None:
    address = room.server.addresses.first()
    address.host = "renamed." + address.host
    address.save()


CHANGES = {
    "a moderator's edit": _edit_room,
    "a poll": _crawl,
    "a finished crawl": lambda room: CrawlRun.objects.create(
        status=CrawlRun.Status.FINISHED, finished_at=timezone.now()
    ),
    "a listing edit": lambda room: Listing.objects.get(slug=Listing.ALL).save(),
    "a new tag": lambda room: Tag.objects.create(slug="fresh", label="Fresh"),
    "a renamed tag": lambda room: _rename_tag(room),
    "an edited address": lambda room: _edit_address(room),
    "a tag on a room": lambda room: room.tags.add(
        Tag.objects.create(slug="fresher", label="Fresher"),
        through_defaults={"origin": Tag.Kind.MAINTAINER},
    ),
    "new activity": lambda room: RoomActivity.objects.create(
        room=room, at=timezone.now(), active_users=1, message_sequence=1
    ),
    "a deleted room": lambda room: Room.objects.filter(pk=room.pk).delete(),
    "a new room": lambda room: Room.objects.create(server=room.server, token="brandnew"),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_every_kind_of_change_moves_the_data_version(room, change):
    before = read_data_version()
    change(room)
    assert read_data_version().token != before.token


def test_unchanged_data_keeps_its_version_and_last_modified(room):
    first, second = read_data_version(), read_data_version()
    assert first == second
    assert first.last_modified is not None and first.last_modified <= timezone.now()


def test_a_room_passing_the_offline_grace_changes_home_page_and_listing(client, room, settings):
    now = timezone.now()
    Room.objects.update(last_seen=now)
    Room.objects.filter(pk=room.pk).update(
        last_seen=now - timedelta(settings.OFFLINE_GRACE_DAYS - 1)
    )
    home = client.get(reverse("home")).content
    listing = client.get("/listing/all")
    assert b"Artificial Intelligence" in home
    assert room.join_url.encode() in listing.content
    # Two days on, with nothing written: the room is past the grace period, the others are not.
    with time_machine.travel(now + timedelta(days=2), tick=False):
        later_home = client.get(reverse("home")).content
        later = client.get("/listing/all", HTTP_IF_NONE_MATCH=listing["ETag"])
    assert b"Artificial Intelligence" not in later_home
    assert later_home.count(b'<li class="room') == home.count(b'<li class="room') - 1
    assert later.status_code == 200 and later["ETag"] != listing["ETag"]
    assert room.join_url.encode() not in later.content


def test_the_version_is_read_once_per_period(imported, settings, django_assert_num_queries):
    settings.DATA_VERSION_SECONDS = 60
    with django_assert_num_queries(1):
        assert data_version() == data_version() == data_version()


def test_when_the_version_expires_one_thread_reads_it_the_others_go_on(settings, monkeypatch):
    reads: list[float] = []

    def slow_read() -> freshness.DataVersion:
        reads.append(time.monotonic())
        time.sleep(0.3)
        return freshness.DataVersion(f"version {len(reads)}", None)

    monkeypatch.setattr(freshness, "read_data_version", slow_read)
    settings.DATA_VERSION_SECONDS = 0.1
    assert data_version().token == "version 1"
    time.sleep(0.15)
    seen: list[str] = []
    threads = [
        threading.Thread(target=lambda: seen.append(data_version().token)) for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reads) == 2
    assert set(seen) <= {"version 1", "version 2"} and len(seen) == 20
    assert seen.count("version 1") >= 18  # they did not wait for the one reading it


@pytest.fixture
def probe_templates(settings):
    """base.html replaced by PROBE_BASE: a page built with a request would print it."""
    engine = dict(settings.TEMPLATES[0])
    options = dict(engine["OPTIONS"])
    options["loaders"] = [
        ("django.template.loaders.locmem.Loader", {"base.html": PROBE_BASE}),
        "django.template.loaders.filesystem.Loader",
        "django.template.loaders.app_directories.Loader",
    ]
    engine.update(APP_DIRS=False, OPTIONS=options)
    settings.TEMPLATES = [engine]


def _first_visitor(client) -> list[str]:
    """A logged-in staff member with a session, a CSRF cookie and a cookie of their own; the
    values the pages must never show anyone else."""
    staff = User.objects.create_user(
        "first-visitor-staff-8e21", "first-visitor-8e21@example.org", "x", is_staff=True
    )
    client.force_login(staff)
    client.cookies["flavour"] = "first-visitor-cookie-7f3a"
    client.get(reverse("submit"))  # a form page: sets the CSRF cookie
    secrets = [client.cookies[name].value for name in ("sessionid", "csrftoken", "flavour")]
    return [*secrets, staff.username, staff.email, *FIRST_VISITOR.values()]


@pytest.mark.parametrize("templates", ["real", "probe"])
def test_a_page_served_to_everyone_holds_nothing_of_the_visitor_who_built_it(
    client, room, request, templates
):
    if templates == "probe":
        request.getfixturevalue("probe_templates")
    secrets = _first_visitor(client)
    anonymous = Client()
    for url in (reverse("home"), reverse("home") + "?q=artificial", room.get_absolute_url()):
        built = client.get(url, **FIRST_VISITOR)  # the first visitor's request builds the copy
        served = anonymous.get(url)
        assert served.status_code == built.status_code == 200
        assert served.content == built.content  # one copy for everyone
        page = served.content.decode()
        assert not [secret for secret in secrets if secret in page], url


def test_home_page_names_its_own_address(client, imported):
    page = client.get(reverse("home"), {"q": "artificial"}).content.decode()
    assert '<link rel="canonical" href="http://testserver/?q=artificial">' in page
    assert '"url": "http://testserver/"' in page


def test_the_sitemap_follows_a_change_at_once_and_answers_if_none_match(client, room):
    first = client.get("/sitemap.xml")
    assert first["X-Robots-Tag"] == "noindex, noodp, noarchive"
    assert first["Content-Type"] == "application/xml"
    assert room.get_absolute_url() in first.content.decode()
    unchanged = client.get("/sitemap.xml", HTTP_IF_NONE_MATCH=first["ETag"])
    assert unchanged.status_code == 304
    room.hidden = True
    room.save()
    after = client.get("/sitemap.xml", HTTP_IF_NONE_MATCH=first["ETag"])
    assert after.status_code == 200 and after["ETag"] != first["ETag"]
    assert room.get_absolute_url() not in after.content.decode()


@pytest.mark.parametrize("page", ["2", "0", "x", "1.0"])
def test_a_sitemap_page_that_does_not_exist_is_not_found(client, imported, page):
    assert client.get("/sitemap.xml", {"p": page}).status_code == 404


def test_the_feed_answers_if_none_match_until_the_data_changes(client, room):
    first = client.get(reverse("feed_new"))
    assert first["ETag"] and first["Last-Modified"]
    assert client.get(reverse("feed_new"), HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    # What a crawl writes when it finds a room anew.
    Room.objects.filter(pk=room.pk).update(
        name="Renamed", included_at=timezone.now(), last_seen=timezone.now()
    )
    after = client.get(reverse("feed_new"), HTTP_IF_NONE_MATCH=first["ETag"])
    assert after.status_code == 200 and b"Renamed" in after.content
