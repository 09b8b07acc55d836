"""Server.advertised_base_url: the base URL a server's own room page gives (a crawled field)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0009_room_sogs_room_legacy_member_count"),
    ]

    operations = [
        migrations.AddField(
            model_name="server",
            name="advertised_base_url",
            field=models.CharField(
                blank=True,
                help_text="The base URL in the join link of the server's own room page.",
                max_length=300,
            ),
        ),
    ]
