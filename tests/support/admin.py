"""Driving the Django admin as a signed-in moderator would: a changelist action on some rows."""

from __future__ import annotations

from django.urls import reverse


def admin_action(client, model: str, action: str, pks: list[int], **extra):
    """POST `action` on the rows `pks` of the directory's `model` changelist; follow redirects."""
    data = {"action": action, "_selected_action": pks, "index": 0, **extra}
    return client.post(reverse(f"admin:directory_{model}_changelist"), data, follow=True)
