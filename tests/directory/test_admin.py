"""The moderators' admin: bulk actions, permissions, audit history, login throttling."""

from __future__ import annotations

import pytest
from django.urls import reverse

from directory.models import AgeRating, Listing, Room, RoomTag, Server, Tag
from tests.support.admin import room_change_form

CHANGELIST = "admin:directory_room_changelist"
# Hiding, un-hiding and rating are public changes: the admin asks for a public reason.
REASON = {"public_reason": "spam"}


def _act(client, action: str, rooms, **extra):
    data = {"action": action, "_selected_action": [room.pk for room in rooms], "index": 0}
    return client.post(reverse(CHANGELIST), {**data, **extra})


@pytest.fixture
def some_rooms(imported):
    return list(Room.objects.order_by("pk")[:3])


def test_moderator_sets_age_rating_in_bulk(client, moderator, some_rooms):
    client.force_login(moderator)
    response = _act(client, "set_age_rating", some_rooms, age_rating=AgeRating.NSFW, **REASON)
    assert response.status_code == 302
    rated = Room.objects.filter(pk__in=[room.pk for room in some_rooms])
    assert set(rated.values_list("age_rating", flat=True)) == {AgeRating.NSFW}
    assert all(room.rating_verified_at for room in rated)
    assert (
        Room.objects.exclude(pk__in=[r.pk for r in some_rooms])
        .filter(age_rating=AgeRating.NSFW)
        .count()
        == 0
    )


def test_moderator_adds_and_removes_a_tag(client, moderator, some_rooms):
    tag = Tag.objects.create(slug="music", label="music")
    client.force_login(moderator)
    _act(client, "add_tag", some_rooms, tag=tag.pk)
    assert RoomTag.objects.filter(tag=tag, origin=Tag.Kind.MAINTAINER).count() == 3
    _act(client, "remove_tag", some_rooms[:1], tag=tag.pk)
    assert set(tag.rooms.all()) == set(some_rooms[1:])


@pytest.mark.parametrize(
    ("action", "field", "value"),
    [("hide_rooms", "hidden", True), ("pin_rooms", "pinned", True)],
)
def test_moderator_hides_and_pins(client, moderator, some_rooms, action, field, value):
    client.force_login(moderator)
    _act(client, action, some_rooms, **REASON)
    assert {
        getattr(room, field) for room in Room.objects.filter(pk__in=[r.pk for r in some_rooms])
    } == {value}
    undo = {"hide_rooms": "unhide_rooms", "pin_rooms": "unpin_rooms"}[action]
    _act(client, undo, some_rooms, **REASON)
    assert not Room.objects.filter(**{field: value}).exists()


def test_hidden_rooms_leave_the_public_list(client, moderator, some_rooms):
    client.force_login(moderator)
    before = Room.objects.public().count()
    _act(client, "hide_rooms", some_rooms, **REASON)
    assert Room.objects.public().count() == before - 3


def test_non_staff_user_cannot_run_bulk_actions(client, visitor, some_rooms):
    client.force_login(visitor)
    response = _act(client, "set_age_rating", some_rooms, age_rating=AgeRating.NSFW, **REASON)
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not Room.objects.filter(age_rating=AgeRating.NSFW).exists()


def test_anonymous_visitor_cannot_run_bulk_actions(client, some_rooms):
    _act(client, "hide_rooms", some_rooms, **REASON)
    assert not Room.objects.filter(hidden=True).exists()


def test_staff_without_the_moderators_group_is_refused(client, visitor, some_rooms):
    visitor.is_staff = True
    visitor.save()
    client.force_login(visitor)
    response = _act(client, "hide_rooms", some_rooms, **REASON)
    assert response.status_code == 403
    assert not Room.objects.filter(hidden=True).exists()


def test_bulk_actions_are_csrf_protected(moderator, some_rooms):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(moderator)
    response = _act(client, "hide_rooms", some_rooms, **REASON)
    assert response.status_code == 403
    assert not Room.objects.filter(hidden=True).exists()


def test_audit_history_records_who_changed_a_rating(client, moderator, some_rooms):
    client.force_login(moderator)
    _act(client, "set_age_rating", some_rooms[:1], age_rating=AgeRating.SFW, **REASON)
    record = some_rooms[0].history.first()
    assert record.history_user == moderator
    assert record.age_rating == AgeRating.SFW
    delta = record.diff_against(record.prev_record)
    assert [change.field for change in delta.changes] == ["age_rating", "rating_verified_at"]
    page = client.get(reverse("admin:directory_room_history", args=[some_rooms[0].pk]))
    assert page.status_code == 200 and b"mod" in page.content


def test_editing_a_room_in_the_form_records_history_and_verification(client, moderator, some_rooms):
    room = some_rooms[0]
    client.force_login(moderator)
    url = reverse("admin:directory_room_change", args=[room.pk])
    form = room_change_form(
        room,
        age_rating=AgeRating.NSFW,
        language="de",
        maintainer_description="",
        public_reason="rating",
    )
    response = client.post(url, form)
    assert response.status_code == 302, response.content[:2000]
    room.refresh_from_db()
    assert (room.age_rating, room.language, room.language_flag) == (
        "nsfw",
        "de",
        "\U0001f1e9\U0001f1ea",
    )
    assert room.rating_verified_at is not None
    assert room.history.first().history_user == moderator


def test_invalid_language_code_is_refused_in_the_form(client, moderator, some_rooms):
    client.force_login(moderator)
    url = reverse("admin:directory_room_change", args=[some_rooms[0].pk])
    response = client.post(url, {"age_rating": "sfw", "language": "klingon!"})
    assert response.status_code == 200
    assert b"is not an ISO 639 language code" in response.content


def test_crawled_fields_are_read_only_in_the_admin(client, moderator, some_rooms):
    room = some_rooms[0]
    client.force_login(moderator)
    page = client.get(reverse("admin:directory_room_change", args=[room.pk]))
    assert page.status_code == 200
    assert b'name="age_rating"' in page.content
    assert b'name="active_users"' not in page.content
    assert b'name="name"' not in page.content


def test_changelists_filter_and_search(client, moderator, imported):
    client.force_login(moderator)
    for query in [
        "?age_rating=unrated",
        "?online=no",
        "?language=en",
        "?q=monero",
        "?hidden__exact=1",
    ]:
        assert client.get(reverse(CHANGELIST) + query).status_code == 200
    servers = client.get(reverse("admin:directory_server_changelist") + "?q=euroexit")
    assert servers.status_code == 200 and b"euroexit" in servers.content
    server = Server.objects.get(pubkey__startswith="a03c383c")  # open.getsession.org
    assert server.rooms.filter(token="oxen-updates", name="Session Network Updates").exists()
    detail = client.get(reverse("admin:directory_server_change", args=[server.pk]))
    assert detail.status_code == 200
    assert b"Session Network Updates" in detail.content  # its rooms, inline


def test_moderators_cannot_delete_rooms_or_servers(moderator):
    assert moderator.has_perm("directory.change_room")
    assert not moderator.has_perm("directory.delete_room")
    assert not moderator.has_perm("directory.delete_server")
    assert not moderator.has_perm("auth.change_user")


def test_builtin_listing_all_always_exists_and_cannot_be_deleted(client, moderator):
    listing = Listing.objects.get(slug="all")
    client.force_login(moderator)
    client.post(
        reverse("admin:directory_listing_changelist"),
        {"action": "delete_selected", "_selected_action": [listing.pk], "post": "yes"},
    )
    page = client.post(
        reverse("admin:directory_listing_delete", args=[listing.pk]), {"post": "yes"}
    )
    assert page.status_code == 403
    assert Listing.objects.filter(slug="all").exists()


def test_admin_login_is_throttled_after_repeated_failures(client, moderator, settings):
    url = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"username": "mod", "password": "wrong"})
    locked = client.post(url, {"username": "mod", "password": "correct horse battery"})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_server_changelist_counts_rooms_without_a_query_per_server(
    client, moderator, imported, django_assert_max_num_queries
):
    client.force_login(moderator)
    url = reverse("admin:directory_server_changelist")
    servers = list(Server.objects.all())
    assert len(servers) > 10  # more servers than the queries allowed below
    with django_assert_max_num_queries(10):
        page = client.get(url)
    assert page.status_code == 200
    shown = {server.pk: server.room_total for server in page.context["cl"].result_list}
    assert shown == {server.pk: server.rooms.count() for server in servers}
    # The column sorts by the same count.
    index = page.context["cl"].list_display.index("room_count")
    ordered = client.get(url, {"o": f"-{index}"}).context["cl"].result_list
    counts = [server.room_total for server in ordered]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]
