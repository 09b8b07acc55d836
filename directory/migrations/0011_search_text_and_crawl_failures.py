"""Room.search_text: every text the search reads, folded, so that searches match in any case
and script on SQLite as on PostgreSQL; filled here for the rooms already stored.

CrawlRun.failures (failed servers by kind) and two more poll statuses: a reply too large and an
HTTP error page (`crawler/failures.py` ranks them)."""

from collections import defaultdict

from django.db import migrations, models

from directory.lib.searchtext import fold_all

BATCH = 500
POLL_STATUSES = [
    ("never", "Never polled"), ("ok", "OK"), ("unreachable", "Unreachable"),
    ("timeout", "Timed out"), ("not_sogs", "Not a SOGS"), ("http_error", "HTTP error"),
    ("bad_response", "Bad response"), ("too_large", "Reply too large"),
    ("key_mismatch", "Key mismatch"), ("error", "Error"),
]


def fill_search_text(apps, schema_editor):
    # The texts `directory.models._search_texts` folds, as they were when this migration was
    # written: the room's name, description, maintainers' description and token, its server's
    # name and hosts, its tags' labels and slugs.
    Room = apps.get_model("directory", "Room")
    Server = apps.get_model("directory", "Server")
    ServerAddress = apps.get_model("directory", "ServerAddress")
    RoomTag = apps.get_model("directory", "RoomTag")
    names = dict(Server.objects.order_by().values_list("pk", "name"))
    hosts = defaultdict(list)
    for server_id, host in ServerAddress.objects.order_by().values_list("server_id", "host"):
        hosts[server_id].append(host)
    tags = defaultdict(list)
    assignments = RoomTag.objects.order_by().values_list("room_id", "tag__label", "tag__slug")
    for room_id, label, slug in assignments:
        tags[room_id] += (label, slug)
    rooms = list(Room.objects.order_by("pk"))
    for room in rooms:
        room.search_text = fold_all(
            [
                room.description,
                room.maintainer_description,
                room.name,
                room.token,
                names.get(room.server_id, ""),
                *sorted(hosts[room.server_id]),
                *sorted(tags[room.pk]),
            ]
        )
    Room.objects.bulk_update(rooms, ["search_text"], batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [("directory", "0005_squashed_0010_server_advertised_base_url")]

    operations = [
        migrations.AddField("room", "search_text", models.TextField(blank=True, default="", editable=False)),
        migrations.RunPython(fill_search_text, migrations.RunPython.noop),
        migrations.AddField("crawlrun", "failures", models.JSONField(blank=True, default=dict)),
        migrations.AlterField(
            "server",
            "last_poll_status",
            models.CharField(choices=POLL_STATUSES, default="never", max_length=16),
        ),
    ]
