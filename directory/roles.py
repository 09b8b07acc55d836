"""The moderator role: what the ``moderators`` group may do in the admin, and moderator accounts.

Least privilege (README, "Moderation"): curated fields of rooms and servers, tags, listings,
submissions, reports, the crawl report, "poll now", the public record and the moderation log.
Never sources, users, groups, two-factor devices, crawled data, or deleting servers and rooms.
Superusers (operators) can do everything. The group is kept equal to ``MODERATOR_PERMISSIONS``
by migrations (``0005_squashed_0010_server_advertised_base_url``); a test checks that the two
agree.
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import AbstractUser
from django.db import transaction

MODERATORS = "moderators"

# app label -> model -> actions ("view", "add", "change", "delete").
MODERATOR_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "directory": {
        "room": ("view", "change"),  # curated fields only: crawled ones are read-only
        "server": ("view", "change"),  # and "poll now"
        "serveraddress": ("view",),  # shown on a server's page
        "tag": ("view", "add", "change", "delete"),
        "roomtag": ("view", "add", "change", "delete"),
        "listing": ("view", "add", "change", "delete"),
        "submission": ("view", "change"),
        "report": ("view", "change"),
        "crawlrun": ("view",),  # and the crawl report
        "publicchange": ("view",),
    },
}


def codenames(permissions: dict[str, dict[str, tuple[str, ...]]]) -> set[tuple[str, str]]:
    """{(app label, codename)} of a permission table."""
    return {
        (app_label, f"{action}_{model}")
        for app_label, models in permissions.items()
        for model, actions in models.items()
        for action in actions
    }


def sync_group(apps, name: str, permissions: dict[str, dict[str, tuple[str, ...]]]) -> None:
    """Make the group's permissions exactly ``permissions`` (for migrations: ``apps`` is the
    migration state; permissions of its models are created first, as after a migrate)."""
    for app_config in apps.get_app_configs():
        # A migration state's app configs have no models module, which create_permissions
        # needs to see; the real registry's (a test) are left as they were.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=name)
    wanted = []
    for app_label, codename in sorted(codenames(permissions)):
        wanted.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    group.permissions.set(wanted)


@transaction.atomic
def create_moderator(username: str, email: str = "") -> tuple[AbstractUser, str]:
    """A staff account in the moderators group (not a superuser), with a new random password
    (returned: shown once). Raises ValueError when the name is taken."""
    from django.contrib.auth.models import Group

    users = get_user_model().objects
    if users.filter(username=username).exists():
        raise ValueError(f"A user named {username!r} exists already.")
    password = secrets.token_urlsafe(15)
    user = users.create_user(username, email, password, is_staff=True)
    user.groups.add(Group.objects.get(name=MODERATORS))
    return user, password
