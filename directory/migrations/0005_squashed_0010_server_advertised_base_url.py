"""The second wave's schema in one migration (it replaces 0005 to 0010, which landed together):

- `Server.name` / `Server.icon` set by moderators (SOGS has no server-wide name or icon);
- `Tag.updated`, `ServerAddress.updated`, which move the data version;
- `PublicChange`, the public record of de-listings and re-ratings (directory/changes.py);
- the moderators group as a least-privilege role (directory/roles.py): curated data, tags,
  listings, submissions, reports, the crawl report and the public record; never sources, users,
  groups, devices or deletions of servers and rooms. The table is frozen here as migrations are;
  tests/directory/test_roles.py checks the group against `roles.MODERATOR_PERMISSIONS`, so a
  change of the role comes with a migration that calls `sync_group` again;
- `Room.sogs_room`, the room object as the server sent it, and `Room.legacy_member_count`, kept
  apart from SOGS `active_users` (legacy rooms' counts and their history's move there);
- `Server.advertised_base_url`, the base URL a server's own room page gives.

A database migrated to 0010 takes this one as applied; a database at 0004 runs it.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from directory.roles import MODERATORS, sync_group

MODERATOR_PERMISSIONS = {
    "directory": {
        "room": ("view", "change"),
        "server": ("view", "change"),
        "serveraddress": ("view",),
        "tag": ("view", "add", "change", "delete"),
        "roomtag": ("view", "add", "change", "delete"),
        "listing": ("view", "add", "change", "delete"),
        "submission": ("view", "change"),
        "report": ("view", "change"),
        "crawlrun": ("view",),
        "publicchange": ("view",),
    },
}
LEGACY = "legacy"  # Server.ApiKind.LEGACY
SERVER_NAME = dict(help_text="Server-wide name, shown on the server's page.", max_length=200)
ICON_HELP = "PNG, JPEG, WebP or GIF."
PUBLIC_ACTIONS = [
    ("delisted", "De-listed"), ("relisted", "Re-listed"), ("rated_adult", "Rated adult (18+)"),
    ("rated_safe", "Rated safe for work"), ("unrated", "Rating removed"),
    ("listing_added", "Added to a listing"), ("listing_removed", "Removed from a listing"),
]
PUBLIC_REASONS = [
    ("illegal", "Illegal content"), ("spam", "Spam"), ("abuse", "Abuse"),
    ("operator", "Operator's request"), ("dead", "Dead"), ("rating", "Wrong rating"),
    ("other", "Other (see the text)"),
]


def sync_moderators(apps, schema_editor):
    sync_group(apps, MODERATORS, MODERATOR_PERMISSIONS)


def move_member_counts(apps, schema_editor):
    Room = apps.get_model("directory", "Room")
    RoomActivity = apps.get_model("directory", "RoomActivity")
    for room in Room.objects.filter(server__api_kind=LEGACY).exclude(active_users=None):
        room.legacy_member_count = room.active_users
        room.active_users = room.active_users_weekly = None
        room.save(update_fields=["legacy_member_count", "active_users", "active_users_weekly"])
    RoomActivity.objects.filter(room__server__api_kind=LEGACY).update(active_users=None)


def restore_member_counts(apps, schema_editor):
    Room = apps.get_model("directory", "Room")
    for room in Room.objects.filter(server__api_kind=LEGACY).exclude(legacy_member_count=None):
        room.active_users = room.legacy_member_count
        room.save(update_fields=["active_users"])


def set_null(to, **options):
    return models.ForeignKey(
        blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=to, **options
    )


class Migration(migrations.Migration):
    replaces = [
        ("directory", "0005_server_name_icon_curated"),
        ("directory", "0006_tag_and_address_updated"),
        ("directory", "0007_public_change"),
        ("directory", "0008_moderators_least_privilege"),
        ("directory", "0009_room_sogs_room_legacy_member_count"),
        ("directory", "0010_server_advertised_base_url"),
    ]
    dependencies = [
        ("directory", "0004_crawlrun_server_states"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AddField(
            "historicalserver", "icon", models.TextField(blank=True, help_text=ICON_HELP, max_length=100)
        ),
        migrations.AddField("historicalserver", "name", models.CharField(blank=True, **SERVER_NAME)),
        migrations.AlterField(
            "server", "icon", models.FileField(blank=True, help_text=ICON_HELP, upload_to="server-icons/")
        ),
        migrations.AlterField("server", "name", models.CharField(blank=True, **SERVER_NAME)),
        migrations.AddField("serveraddress", "updated", models.DateTimeField(auto_now=True)),
        migrations.AddField("tag", "updated", models.DateTimeField(auto_now=True)),
        migrations.CreateModel(
            name="PublicChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ("action", models.CharField(choices=PUBLIC_ACTIONS, max_length=16)),
                ("server_pubkey", models.CharField(max_length=64)),
                ("server_url", models.CharField(blank=True, max_length=300)),
                ("room_token", models.CharField(blank=True, max_length=64)),
                ("name", models.CharField(blank=True, help_text="The room's name then.", max_length=200)),
                ("listing_name", models.CharField(blank=True, max_length=100)),
                ("reason", models.CharField(blank=True, choices=PUBLIC_REASONS, max_length=16)),
                ("reason_text", models.CharField(blank=True, help_text="Shown publicly.", max_length=500)),
                ("private_note", models.TextField(blank=True, help_text="For moderators only; never shown.")),
                ("history_id", models.PositiveBigIntegerField(blank=True, null=True)),
                ("listing", set_null("directory.listing")),
                ("moderator", set_null(settings.AUTH_USER_MODEL, related_name="+")),
                ("room", set_null("directory.room", related_name="public_changes")),
                ("server", set_null("directory.server", related_name="public_changes")),
            ],
            options={
                "verbose_name": "public record entry",
                "verbose_name_plural": "public record",
                "ordering": ["-at", "-pk"],
            },
        ),
        migrations.RunPython(sync_moderators, migrations.RunPython.noop),
        migrations.AddField("room", "sogs_room", models.JSONField(blank=True, default=dict)),
        migrations.AddField("room", "legacy_member_count", models.PositiveIntegerField(blank=True, null=True)),
        migrations.RunPython(move_member_counts, restore_member_counts),
        migrations.AddField(
            "server",
            "advertised_base_url",
            models.CharField(
                blank=True,
                help_text="The base URL in the join link of the server's own room page.",
                max_length=300,
            ),
        ),
    ]
