"""The public record: every public change carries a reason, stored with its history row, and
/changes/ and its feed show it without moderators' names or private notes."""

from __future__ import annotations

from django.urls import reverse

from directory import changes, moderation
from directory.changes import PublicReason
from directory.models import AgeRating, Listing, PublicChange, Room, Server, Submission
from tests.support.admin import admin_action, room_change_form

Action, Reason = PublicChange.Action, PublicChange.Reason


def hide_with_reason(client, room: Room, reason: str, *, text: str, note: str):
    """Hide `room` in the admin with a public reason, its text and a private note."""
    return admin_action(
        client,
        "room",
        "hide_rooms",
        [room.pk],
        public_reason=reason,
        public_reason_text=text,
        private_note=note,
    )


def test_hiding_stores_the_reason_with_the_history_entry(signed_in, moderator, room):
    hide_with_reason(
        signed_in, room, Reason.SPAM, text="Advertises a scam.", note="Reported twice by @someone."
    )
    change = PublicChange.objects.get()
    history = room.history.get(history_id=change.history_id)
    assert (change.action, change.reason, change.moderator) == (Action.DELISTED, "spam", moderator)
    assert (change.server_pubkey, change.room_token, change.name) == (
        room.server.pubkey,
        room.token,
        room.name,
    )
    assert history.hidden and history.history_user == moderator
    assert history.history_change_reason == "Spam: Advertises a scam."
    assert change.private_note == "Reported twice by @someone."


def test_the_public_record_names_no_moderator_and_no_private_note(client, signed_in, room):
    hide_with_reason(signed_in, room, Reason.ABUSE, text="Harasses members.", note="secret-note-42")
    signed_in.logout()
    page = client.get(reverse("changes")).content.decode()
    feed = client.get(reverse("feed_changes")).content.decode()
    for text in (page, feed):
        assert "De-listed" in text and room.name in text and "Harasses members." in text
        assert "Abuse" in text
        assert "secret-note-42" not in text
        assert ">mod<" not in text and "mod@" not in text and "by mod" not in text
    assert "<author>" not in feed
    assert room.get_absolute_url() not in page  # hidden: no link to a page that is gone


def test_rooms_delisted_for_illegal_content_are_named_by_server_and_token(client, signed_in, room):
    room.description = "Unspeakable things here"
    room.save()
    admin_action(
        signed_in, "room", "set_age_rating", [room.pk], age_rating="nsfw", public_reason="rating"
    )
    admin_action(signed_in, "room", "hide_rooms", [room.pk], public_reason=Reason.ILLEGAL)
    page = client.get(reverse("changes")).content.decode()
    feed = client.get(reverse("feed_changes")).content.decode()
    for text in (page, feed):
        assert "Illegal content" in text and room.token in text
        assert room.server.base_url in text
        assert room.name not in text  # not even in the earlier re-rating entry
        assert "Unspeakable" not in text
    assert page.count("Rated adult (18+)") == 1


def test_unhiding_rating_and_server_changes_are_recorded(signed_in, room):
    admin_action(signed_in, "room", "hide_rooms", [room.pk], public_reason=Reason.DEAD)
    admin_action(signed_in, "room", "unhide_rooms", [room.pk], public_reason=Reason.OPERATOR)
    admin_action(
        signed_in, "room", "set_age_rating", [room.pk], age_rating="sfw", public_reason="rating"
    )
    admin_action(
        signed_in, "room", "set_age_rating", [room.pk], age_rating="sfw", public_reason="rating"
    )
    admin_action(signed_in, "server", "hide_servers", [room.server.pk], public_reason=Reason.SPAM)
    recorded = list(
        PublicChange.objects.order_by("pk").values_list("action", "reason", "room_token")
    )
    assert recorded == [
        (Action.DELISTED, "dead", room.token),
        (Action.RELISTED, "operator", room.token),
        (Action.RATED_SAFE, "rating", room.token),  # once: the second rating changed nothing
        (Action.DELISTED, "spam", ""),
    ]


def test_server_actions_need_a_reason(signed_in, room):
    response = admin_action(signed_in, "server", "hide_servers", [room.server.pk])
    assert "Choose a public reason first" in response.text
    assert not Server.objects.get(pk=room.server.pk).hidden


def test_other_needs_a_public_text(signed_in, room):
    response = admin_action(signed_in, "room", "hide_rooms", [room.pk], public_reason=Reason.OTHER)
    assert "needs a public text" in response.text
    assert not Room.objects.get(pk=room.pk).hidden


def test_the_change_form_asks_for_a_reason_when_hiding_or_rating(signed_in, moderator, room):
    url = reverse("admin:directory_room_change", args=[room.pk])
    refused = signed_in.post(url, room_change_form(room, hidden="on"))
    assert refused.status_code == 200 and b"Choose a public reason first" in refused.content
    assert not Room.objects.get(pk=room.pk).hidden
    # Other curated fields need none.
    assert signed_in.post(url, room_change_form(room, language="de")).status_code == 302
    assert not PublicChange.objects.exists()
    done = signed_in.post(
        url, room_change_form(room, hidden="on", age_rating="nsfw", public_reason=Reason.RATING)
    )
    assert done.status_code == 302
    assert set(PublicChange.objects.values_list("action", flat=True)) == {
        Action.DELISTED,
        Action.RATED_ADULT,
    }
    assert set(PublicChange.objects.values_list("moderator", flat=True)) == {moderator.pk}


def test_reverting_from_the_history_asks_for_a_reason_too(signed_in, room):
    admin_action(signed_in, "room", "hide_rooms", [room.pk], public_reason=Reason.SPAM)
    shown = room.history.filter(hidden=False).order_by("history_id").first()
    url = reverse("admin:directory_room_simple_history", args=[room.pk, shown.history_id])
    refused = signed_in.post(url, room_change_form(Room.objects.get(pk=room.pk), hidden=""))
    assert b"Choose a public reason first" in refused.content
    assert Room.objects.get(pk=room.pk).hidden
    form = room_change_form(Room.objects.get(pk=room.pk), public_reason=Reason.OPERATOR)
    form.pop("hidden")
    assert signed_in.post(url, form).status_code == 302
    assert not Room.objects.get(pk=room.pk).hidden
    assert PublicChange.objects.filter(action=Action.RELISTED, reason="operator").exists()


def test_taking_a_room_out_of_a_listing_needs_a_reason(signed_in, room):
    other = Room.objects.exclude(pk=room.pk).first()
    listing = Listing.objects.create(slug="phones", name="Phones")
    url = reverse("admin:directory_listing_change", args=[listing.pk])
    form = {"slug": "phones", "name": "Phones", "rating_filter": "any", "created_0": "2025-01-01"}
    form["created_1"] = "00:00:00"
    assert signed_in.post(url, {**form, "rooms": [room.pk, other.pk]}).status_code == 302
    added = PublicChange.objects.filter(action=Action.LISTING_ADDED)
    assert set(added.values_list("room", flat=True)) == {room.pk, other.pk}
    assert set(added.values_list("listing_name", flat=True)) == {"Phones"}
    refused = signed_in.post(url, {**form, "rooms": [other.pk]})
    assert b"Choose a public reason first" in refused.content
    assert set(listing.rooms.all()) == {room, other}
    done = signed_in.post(url, {**form, "rooms": [other.pk], "public_reason": Reason.DEAD})
    assert done.status_code == 302 and list(listing.rooms.all()) == [other]
    removed = PublicChange.objects.get(action=Action.LISTING_REMOVED)
    assert (removed.room, removed.reason, removed.listing) == (room, "dead", listing)
    assert listing.history.get(history_id=removed.history_id).history_change_reason == "Dead"
    page = signed_in.get(reverse("changes")).content.decode()
    assert "Removed from the listing “Phones”" in page


def test_changes_outside_the_admin_are_recorded_as_without_a_reason(client, room):
    moderation.set_flag(Room.objects.filter(pk=room.pk), "hidden", True)
    change = PublicChange.objects.get()
    assert (change.action, change.reason, change.moderator) == (Action.DELISTED, "", None)
    assert "No reason given" in client.get(reverse("changes")).content.decode()


def test_approving_the_submission_of_a_delisted_room_relists_it_in_the_record(room, moderator):
    moderation.set_flag(Room.objects.filter(pk=room.pk), "hidden", True, PublicReason("spam"))
    submission = Submission.objects.create(
        join_url=room.join_url,
        server_url=room.server.base_url,
        pubkey=room.server.pubkey,
        token=room.token,
    )
    moderation.approve_submission(submission, moderator)
    latest = PublicChange.objects.first()
    assert (latest.action, latest.reason) == (Action.RELISTED, "other")
    assert latest.reason_text == changes.SUBMISSION_APPROVED.text


def test_the_history_page_and_the_moderation_log_attribute_each_action(signed_in, room):
    hide_with_reason(signed_in, room, Reason.SPAM, text="Ads", note="seen in three rooms")
    admin_action(signed_in, "room", "pin_rooms", [room.pk])
    history = signed_in.get(reverse("admin:directory_room_history", args=[room.pk])).text
    assert "Spam: Ads" in history and "seen in three rooms" in history and "mod" in history
    log_url = reverse("admin:moderation_log")
    log = signed_in.get(log_url).text
    assert "Spam: Ads" in log and "hidden: False → True" in log and "pinned: False → True" in log
    assert signed_in.get(log_url, {"kind": "server"}).text.count("hidden: False") == 0
    assert "Spam: Ads" in signed_in.get(log_url, {"kind": "room"}).text
    assert "Spam: Ads" not in signed_in.get(log_url, {"user": "999999"}).text


def test_the_public_record_in_the_admin_is_read_only(signed_in, room):
    admin_action(signed_in, "room", "hide_rooms", [room.pk], public_reason=Reason.SPAM)
    change = PublicChange.objects.get()
    listing = signed_in.get(reverse("admin:directory_publicchange_changelist"), {"reason": "spam"})
    assert listing.status_code == 200 and room.token in listing.text
    url = reverse("admin:directory_publicchange_change", args=[change.pk])
    assert signed_in.post(url, {"reason_text": "rewritten"}).status_code == 403
    delete = reverse("admin:directory_publicchange_delete", args=[change.pk])
    assert signed_in.post(delete, {"post": "yes"}).status_code == 403
    assert PublicChange.objects.get().reason_text == ""


def test_the_policy_page_links_the_record_and_explains_unlisted(client, db):
    page = client.get(reverse("about")).content.decode()
    assert reverse("changes") in page and reverse("feed_changes") in page
    assert "#unlisted" in page


def test_hiding_a_server_names_the_server(client, room):
    moderation.set_flag(
        Server.objects.filter(pk=room.server.pk), "hidden", True, PublicReason("dead")
    )
    page = client.get(reverse("changes")).content.decode()
    assert f"Server {room.server.base_url}" in page and "Dead" in page


def test_age_rating_values_map_to_public_actions(room):
    for rating, action in changes.RATING_ACTIONS.items():
        moderation.set_age_rating(
            Room.objects.filter(pk=room.pk), AgeRating.SFW, PublicReason("rating")
        )
        moderation.set_age_rating(Room.objects.filter(pk=room.pk), rating, PublicReason("rating"))
        if rating != AgeRating.SFW:
            assert PublicChange.objects.first().action == action


def test_the_server_form_asks_for_a_reason_when_hiding(signed_in, room):
    server = room.server
    url = reverse("admin:directory_server_change", args=[server.pk])
    form = {
        "hidden": "on",
        "default_age_rating": server.default_age_rating,
        "notes": server.notes,
        **({"official": "on"} if server.official else {}),
        "addresses-TOTAL_FORMS": 0,
        "addresses-INITIAL_FORMS": 0,
        "rooms-TOTAL_FORMS": 0,
        "rooms-INITIAL_FORMS": 0,
    }
    refused = signed_in.post(url, form)
    assert refused.status_code == 200 and b"Choose a public reason first" in refused.content
    assert not Server.objects.get(pk=server.pk).hidden
    done = signed_in.post(url, {**form, "public_reason": Reason.OPERATOR})
    assert done.status_code == 302, done.content[:3000]
    assert Server.objects.get(pk=server.pk).hidden
    change = PublicChange.objects.get()
    assert (change.action, change.reason, change.room_token) == (Action.DELISTED, "operator", "")
