"""Server.advertised_base_url: the base URL a server's own room page gives (a crawled field)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0005_server_name_icon_curated"),
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
