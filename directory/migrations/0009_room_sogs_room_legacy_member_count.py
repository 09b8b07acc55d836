"""The room object as the server sent it (`Room.sogs_room`), and a legacy server's member count
kept apart from SOGS `active_users` (`Room.legacy_member_count`).

Rooms keep an empty object until their next crawl or import (the listing serves their columns
meanwhile). Legacy rooms' member counts, which earlier crawls stored as `active_users`, move to
`legacy_member_count`, with their activity history's user counts.
"""

from django.db import migrations, models

LEGACY = "legacy"  # Server.ApiKind.LEGACY


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


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0008_moderators_least_privilege"),
    ]

    operations = [
        migrations.AddField(
            model_name="room",
            name="sogs_room",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="room",
            name="legacy_member_count",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(move_member_counts, restore_member_counts),
    ]
