"""The moderators group becomes a least-privilege role (directory/roles.py): curated data,
tags, listings, submissions, reports, the crawl report and the public record; no longer sources
or history tables, never users, groups, devices or deletions of servers and rooms.

The table is frozen here as migrations are; tests/directory/test_roles.py checks it against
roles.MODERATOR_PERMISSIONS, so a change of the role comes with a migration like this one.
"""

from django.db import migrations

from directory.roles import MODERATORS, sync_group

PERMISSIONS = {
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


def sync_moderators(apps, schema_editor):
    sync_group(apps, MODERATORS, PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0007_public_change"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(sync_moderators, migrations.RunPython.noop)]
