"""The moderator role: what a moderator account can do in the admin, and the 403s on the rest
(admin pages and their POSTs, not only the menu)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.urls import reverse

from directory import roles
from directory.models import (
    AgeRating,
    CrawlRun,
    PublicChange,
    Report,
    Room,
    RoomTag,
    Server,
    Source,
    Submission,
    Tag,
)
from tests.support.admin import admin_action

KEY = "ab" * 32


def test_the_moderators_group_is_exactly_the_role(db):
    group = Group.objects.get(name=roles.MODERATORS)
    granted = {
        (p.content_type.app_label, p.codename)
        for p in group.permissions.select_related("content_type")
    }
    assert granted == roles.codenames(roles.MODERATOR_PERMISSIONS)
    assert ("directory", "change_source") not in granted
    assert ("directory", "delete_room") not in granted
    assert ("directory", "delete_server") not in granted


def test_the_migration_repairs_a_widened_group(db):
    from django.apps import apps

    group = Group.objects.get(name=roles.MODERATORS)
    group.permissions.add(Permission.objects.get(codename="change_user"))
    roles.sync_group(apps, roles.MODERATORS, roles.MODERATOR_PERMISSIONS)
    assert not group.permissions.filter(codename="change_user").exists()


def test_a_moderator_rates_tags_and_hides_with_a_reason(signed_in, moderator, room):
    tag = Tag.objects.create(slug="phones", label="phones")
    rated = admin_action(
        signed_in, "room", "set_age_rating", [room.pk], age_rating="sfw", public_reason="rating"
    )
    assert "Rated 1 rooms" in rated.text
    admin_action(signed_in, "room", "add_tag", [room.pk], tag=tag.pk)
    hidden = admin_action(
        signed_in, "room", "hide_rooms", [room.pk], public_reason="spam", public_reason_text="Ads"
    )
    assert "Hid 1 rooms" in hidden.text
    room.refresh_from_db()
    assert (room.age_rating, room.hidden) == (AgeRating.SFW, True)
    assert RoomTag.objects.filter(room=room, tag=tag, origin=Tag.Kind.MAINTAINER).exists()
    delisted = PublicChange.objects.get(room=room, action=PublicChange.Action.DELISTED)
    assert (delisted.reason, delisted.reason_text, delisted.moderator) == ("spam", "Ads", moderator)


def test_hiding_without_a_reason_changes_nothing(signed_in, room):
    response = admin_action(signed_in, "room", "hide_rooms", [room.pk])
    assert "Choose a public reason first" in response.text
    room.refresh_from_db()
    assert not room.hidden and not PublicChange.objects.exists()


def test_a_moderator_approves_a_submission_and_resolves_a_report(signed_in, moderator, room):
    submission = Submission.objects.create(
        join_url=f"https://chat.example.org/hobbies?public_key={KEY}",
        server_url="https://chat.example.org",
        pubkey=KEY,
        token="hobbies",
        check_state=Submission.CheckState.PASSED,
    )
    report = Report.objects.create(room=room, kind=Report.Kind.DEAD)
    assert (
        "Approved 1 submission"
        in admin_action(signed_in, "submission", "approve", [submission.pk]).text
    )
    assert (
        "Marked 1 report(s) resolved"
        in admin_action(signed_in, "report", "resolve", [report.pk]).text
    )
    submission.refresh_from_db()
    report.refresh_from_db()
    assert (submission.status, submission.decided_by) == (Submission.Status.APPROVED, moderator)
    assert report.status == Report.Status.RESOLVED


def test_a_moderator_reads_the_crawl_report_and_polls_a_server(signed_in, room, monkeypatch):
    from celery import current_app

    sent: list = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args: sent.append((name, args)))
    assert signed_in.get(reverse("admin:directory_crawlrun_report")).status_code == 200
    admin_action(signed_in, "server", "poll_now", [room.server.pk])
    assert sent == [("crawler.poll_server", [room.server.pk])]


@pytest.mark.parametrize(
    "url",
    [
        reverse("admin:directory_source_changelist"),
        reverse("admin:directory_source_add"),
        reverse("admin:auth_user_changelist"),
        reverse("admin:auth_user_add"),
        reverse("admin:auth_group_changelist"),
        reverse("admin:auth_group_add"),
        reverse("admin:otp_totp_totpdevice_changelist"),
        reverse("admin:otp_static_staticdevice_changelist"),
        reverse("admin:axes_accessattempt_changelist"),
    ],
)
def test_sources_users_groups_and_devices_are_forbidden(signed_in, url):
    assert signed_in.get(url).status_code == 403
    assert signed_in.post(url, {}).status_code == 403


def test_posts_to_sources_users_and_groups_are_forbidden(signed_in, moderator, db):
    source = Source.objects.create(name="list", url="https://example.org/list", kind="html")
    group = Group.objects.get(name=roles.MODERATORS)
    posts = {
        reverse("admin:directory_source_change", args=[source.pk]): {
            "name": "mine",
            "url": "https://evil.example/list",
            "kind": "html",
        },
        reverse("admin:directory_source_delete", args=[source.pk]): {"post": "yes"},
        reverse("admin:auth_user_change", args=[moderator.pk]): {
            "username": "mod",
            "is_superuser": "on",
            "is_staff": "on",
        },
        reverse("admin:auth_group_change", args=[group.pk]): {"name": "moderators"},
    }
    for url, data in posts.items():
        assert signed_in.post(url, data).status_code == 403, url
    source.refresh_from_db()
    moderator.refresh_from_db()
    assert source.url == "https://example.org/list"
    assert not moderator.is_superuser


def test_rooms_and_servers_cannot_be_deleted(signed_in, room):
    for model, pk in (("room", room.pk), ("server", room.server.pk)):
        url = reverse(f"admin:directory_{model}_delete", args=[pk])
        assert signed_in.get(url).status_code == 403
        assert signed_in.post(url, {"post": "yes"}).status_code == 403
        admin_action(signed_in, model, "delete_selected", [pk], post="yes")
    assert Room.objects.filter(pk=room.pk).exists()
    assert Server.objects.filter(pk=room.server.pk).exists()


def test_crawled_data_cannot_be_changed(signed_in, room):
    run = CrawlRun.objects.create(status=CrawlRun.Status.FINISHED)
    url = reverse("admin:directory_crawlrun_change", args=[run.pk])
    assert signed_in.post(url, {"status": "failed"}).status_code == 403
    room_url = reverse("admin:directory_room_change", args=[room.pk])
    form = {
        "age_rating": room.age_rating,
        "language": room.language,
        "included_at_0": "2025-01-01",
        "included_at_1": "00:00:00",
        "room_tags-TOTAL_FORMS": 0,
        "room_tags-INITIAL_FORMS": 0,
        # Crawled fields, posted anyway: the form has no such inputs, so they are not written.
        "name": "Renamed",
        "active_users": 99999,
        "description": "Buy now",
    }
    assert signed_in.post(room_url, form).status_code == 302
    run.refresh_from_db()
    changed = Room.objects.get(pk=room.pk)
    assert run.status == CrawlRun.Status.FINISHED
    assert (changed.name, changed.active_users, changed.description) == (
        room.name,
        room.active_users,
        room.description,
    )


def test_hiding_rooms_from_the_server_page_is_not_offered(signed_in, room):
    page = signed_in.get(reverse("admin:directory_server_change", args=[room.server.pk]))
    assert page.status_code == 200
    assert b'name="rooms-0-hidden"' not in page.content
    assert b'name="rooms-0-age_rating"' not in page.content
    assert b'name="rooms-0-pinned"' in page.content


def test_create_moderator_makes_a_least_privilege_account(client, db, capsys):
    call_command("create_moderator", "alice", "--email", "alice@example.org")
    output = capsys.readouterr().out
    password = output.split("with password ", 1)[1].split()[0]
    user = User.objects.get(username="alice")
    assert user.is_staff and not user.is_superuser and user.email == "alice@example.org"
    assert list(user.groups.values_list("name", flat=True)) == [roles.MODERATORS]
    login = client.post(reverse("admin:login"), {"username": "alice", "password": password})
    assert login.status_code == 302
    assert client.get(reverse("admin:directory_room_changelist")).status_code == 200
    assert client.get(reverse("admin:directory_source_changelist")).status_code == 403


def test_create_moderator_refuses_a_taken_name(db, moderator):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="exists already"):
        call_command("create_moderator", moderator.username)
