"""Driving the Django admin as a signed-in moderator would: a changelist action on some rows, a
room's change form."""

from __future__ import annotations

from django.urls import reverse


def admin_action(client, model: str, action: str, pks: list[int], **extra):
    """POST `action` on the rows `pks` of the directory's `model` changelist; follow redirects."""
    data = {"action": action, "_selected_action": pks, "index": 0, **extra}
    return client.post(reverse(f"admin:directory_{model}_changelist"), data, follow=True)


def room_change_form(room, **changes) -> dict:
    """The POST of a room's admin change form as it stands (curated fields, no tags), with
    `changes` on top."""
    return {
        "age_rating": room.age_rating,
        "language": room.language,
        "maintainer_description": room.maintainer_description,
        "included_at_0": "2025-01-01",
        "included_at_1": "00:00:00",
        "room_tags-TOTAL_FORMS": 0,
        "room_tags-INITIAL_FORMS": 0,
        **({"hidden": "on"} if room.hidden else {}),
        **changes,
    }
