"""Submitting a community: validation, the background check, the status page, approval."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from directory import moderation
from directory.models import Room, Server, Submission

KEY = "ab" * 32
LINK = f"https://chat.example.org/Hobbies?public_key={KEY}"


def submit(client, join_url: str = LINK, **extra):
    return client.post(reverse("submit"), {"join_url": join_url, **extra})


@pytest.mark.django_db(transaction=True)
def test_valid_submission_is_pending_and_checked_in_the_background(client, sent_tasks):
    response = submit(client, tags="Music, #chat", language="EN", note="Friendly")
    assert response.status_code == 302
    submission = Submission.objects.get()
    assert (submission.join_url, submission.pubkey, submission.token) == (LINK, KEY, "Hobbies")
    assert (submission.suggested_tags, submission.suggested_language) == ("music chat", "en")
    assert submission.status == Submission.Status.PENDING
    assert sent_tasks == [("crawler.check_submission", [submission.pk])]


@pytest.mark.parametrize(
    ("join_url", "message"),
    [
        ("not a link", "not a valid join link"),
        ("https://chat.example.org/Hobbies", "public_key"),
        (f"http://10.0.0.5:6379/x?public_key={KEY}", "private, loopback or reserved"),
        (f"http://127.0.0.1/x?public_key={KEY}", "private, loopback or reserved"),
        (f"http://[::1]:8000/x?public_key={KEY}", "IPv6 hosts: Session clients cannot join them"),
        (f"http://169.254.169.254/x?public_key={KEY}", "private, loopback or reserved"),
        (
            f"http://[::ffff:10.0.0.1]/x?public_key={KEY}",
            "IPv6 hosts: Session clients cannot join them",
        ),
        (
            f"http://[64:ff9b::a00:1]/x?public_key={KEY}",
            "IPv6 hosts: Session clients cannot join them",
        ),
        (
            f"http://[2002:a00:1::]/x?public_key={KEY}",
            "IPv6 hosts: Session clients cannot join them",
        ),
        (f"http://[2606:4700::1111]/x?public_key={KEY}", "IPv6 hosts: Session clients cannot"),
        (f"http://localhost/x?public_key={KEY}", "not a valid join link"),
        (f"http://admin.localhost/x?public_key={KEY}", "this machine or a local network"),
        (f"ftp://example.org/x?public_key={KEY}", "not a valid join link"),
    ],
)
def test_bad_links_are_refused_with_a_clear_message(client, db, sent_tasks, join_url, message):
    """(The IPv6 links used to be refused as private addresses; since the issue "Speak the
    Session ecosystem's protocols exactly" they are refused first as IPv6 hosts, which Session
    Desktop's `openGroupV2CompleteURLRegex` (`ts/session/apis/open_group_api/utils/
    OpenGroupUtils.ts`) and libsession's `parse_url` (`src/config/community.cpp`) refuse.)"""
    response = submit(client, join_url)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Submission.objects.exists() and not sent_tasks


def test_bad_language_is_refused(client, db):
    assert "not a language code" in submit(client, language="klingonish").content.decode()


def test_already_listed_room_links_to_its_page(client, imported):
    room = Room.objects.select_related("server").get(token="ai")
    response = submit(client, room.join_url.replace("/ai?", "/AI?"))
    assert room.get_absolute_url().encode() in response.content
    assert not Submission.objects.exists()


def test_submissions_are_rate_limited_per_client(client, db, settings):
    settings.WEB_SUBMISSIONS_PER_HOUR = 2
    codes = [submit(client, LINK.replace("Hobbies", f"r{i}")).status_code for i in range(3)]
    assert codes == [302, 302, 429]


def test_status_page_shows_the_check_result_at_an_unguessable_url(client, db):
    url = submit(client)["Location"]
    submission = Submission.objects.get()
    assert str(submission.pk) not in url.split("/")
    assert b"Waiting for the check" in client.get(url).content
    Submission.objects.filter(pk=submission.pk).update(
        check_state=Submission.CheckState.FAILED, check_detail="Key mismatch: server has cd…"
    )
    page = client.get(url).content.decode()
    assert "Check failed: Key mismatch" in page
    assert client.get(url[:-3] + "xx/").status_code == 404
    assert client.get(f"/submit/status/{submission.pk}/").status_code == 404


def test_rejection_reason_is_shown_to_the_submitter(client, db, moderator):
    url = submit(client)["Location"]
    moderation.reject_submission(Submission.objects.get(), moderator, "Spam room")
    assert "Rejected: Spam room" in client.get(url).content.decode()
    with pytest.raises(ValueError, match="reason"):
        moderation.reject_submission(Submission.objects.get(), moderator, " ")


def _admin_action(client, action: str, submission: Submission, **extra):
    url = reverse("admin:directory_submission_changelist")
    data = {"action": action, "_selected_action": [submission.pk], **extra}
    return client.post(url, data, follow=True)


def test_submission_walks_from_form_to_admin_approval_to_public_listing(client, db, moderator):
    status_url = submit(client, tags="hobbies", language="de")["Location"]
    submission = Submission.objects.get()
    Submission.objects.filter(pk=submission.pk).update(check_state=Submission.CheckState.PASSED)

    client.force_login(moderator)
    queue = client.get(reverse("admin:directory_submission_changelist")).content.decode()
    assert LINK.replace("&", "&amp;") in queue
    response = _admin_action(client, "approve", submission)
    assert "Approved 1 submission" in response.content.decode()
    client.logout()

    server = Server.objects.get(pubkey=KEY)
    assert server.key_state == Server.KeyState.UNVERIFIED
    assert server.base_url == "https://chat.example.org"
    room = Room.objects.get(server=server, token_key="hobbies")
    assert room.language == "de" and [t.slug for t in room.tags.all()] == ["hobbies"]
    submission.refresh_from_db()
    assert (submission.status, submission.room, submission.decided_by) == (
        "approved",
        room,
        moderator,
    )

    home = client.get(reverse("home"), {"q": "hobbies"}).content.decode()
    assert room.get_absolute_url() in home and LINK.replace("&", "&amp;") in home
    assert client.get(room.get_absolute_url()).status_code == 200
    assert re.search(r"Listed: <a href=", client.get(status_url).content.decode())


def test_admin_rejects_only_with_a_reason(client, db, moderator):
    submit(client)
    submission = Submission.objects.get()
    client.force_login(moderator)
    assert "Type a reason" in _admin_action(client, "reject", submission).content.decode()
    _admin_action(client, "reject", submission, reason="Not a SOGS")
    submission.refresh_from_db()
    assert (submission.status, submission.rejection_reason) == ("rejected", "Not a SOGS")
    assert not Room.objects.exists()


def test_moderators_resolve_reports_in_the_admin(client, imported, moderator):
    room = Room.objects.select_related("server").get(token="ai")
    url = reverse("room_report", kwargs={"pubkey": room.server.pubkey, "token": room.token})
    client.post(url, {"kind": "abuse", "message": "spam"})
    client.force_login(moderator)
    report = room.reports.get()
    changelist = reverse("admin:directory_report_changelist")
    assert b"Abuse or illegal content" in client.get(changelist).content
    client.post(changelist, {"action": "resolve", "_selected_action": [report.pk]})
    report.refresh_from_db()
    assert report.status == "resolved"


def test_public_ip_literal_with_a_custom_port_is_accepted(client, db):
    response = submit(client, f"http://8.8.8.8:8081/room?public_key={KEY}")
    assert response.status_code == 302
    assert Submission.objects.get().server_url == "http://8.8.8.8:8081"


@pytest.mark.django_db(transaction=True)
def test_submission_is_kept_when_the_broker_is_down(client, monkeypatch, caplog):
    from celery import current_app

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(current_app, "send_task", broker_down)
    response = submit(client)
    assert response.status_code == 302
    assert Submission.objects.get().check_state == Submission.CheckState.WAITING
    assert "could not queue the check" in caplog.text
