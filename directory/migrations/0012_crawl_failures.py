"""CrawlRun.failures (failed servers by kind) and two more poll statuses: a reply too large
and an HTTP error page (`crawler/failures.py` ranks them)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0011_room_search_text"),
    ]

    operations = [
        migrations.AddField(
            model_name="crawlrun",
            name="failures",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AlterField(
            model_name="server",
            name="last_poll_status",
            field=models.CharField(
                choices=[
                    ("never", "Never polled"),
                    ("ok", "OK"),
                    ("unreachable", "Unreachable"),
                    ("timeout", "Timed out"),
                    ("not_sogs", "Not a SOGS"),
                    ("http_error", "HTTP error"),
                    ("bad_response", "Bad response"),
                    ("too_large", "Reply too large"),
                    ("key_mismatch", "Key mismatch"),
                    ("error", "Error"),
                ],
                default="never",
                max_length=16,
            ),
        ),
    ]
