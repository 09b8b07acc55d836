"""Seed what every installation starts with: the built-in listing 'all', the moderators group,
the real sources of join links (with their last good bodies from the snapshot in fixtures/) and
the known servers (fixtures/snapshot/known-servers.ini)."""

import configparser
from pathlib import Path

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.utils import timezone

SNAPSHOT = Path(__file__).resolve().parents[2] / "fixtures" / "snapshot"

SOURCES = [
    (
        "SIMP",
        "https://simplifiedprivacy.com/techgroups",
        "html",
        True,
        "Simplified Privacy's list of tech groups (Session, SimpleX, XMPP).",
    ),
    (
        "EURO",
        "https://euroexit.net",
        "html",
        True,
        "The euroexit.net hub: a card per community with its join link as text.",
    ),
    (
        "NSFW",
        "https://landedin.euroexit.net",
        "html",
        True,
        "A SOGS landing page listing adult communities; suggests the NSFW rating.",
    ),
    (
        "ASGL",
        "https://raw.githubusercontent.com/GNU-Linux-libre/Awesome-Session-Group-List/main/README.md",
        "markdown",
        True,
        "Awesome Session Group List (archived upstream); hashtag lines give tags.",
    ),
    (
        "SDIR-JSON",
        "https://session.directory/",
        "json",
        False,
        "session.directory's JSON feed of {url, tags, nsfw}. Its current export URL is not known: "
        "set it here and enable the source. The cached body from the snapshot is kept.",
    ),
]

# What moderators may do: curate rooms, servers, tags, listings and sources; read the rest.
MODERATOR_PERMISSIONS = {
    "room": ["view", "change"],
    "server": ["view", "change"],
    "serveraddress": ["view"],
    "tag": ["view", "add", "change", "delete"],
    "roomtag": ["view", "add", "change", "delete"],
    "listing": ["view", "add", "change", "delete"],
    "source": ["view", "add", "change"],
    "crawlrun": ["view"],
    "submission": ["view", "change"],
    "report": ["view", "change"],
    "historicalsubmission": ["view"],
    "historicalreport": ["view"],
    "roomactivity": ["view"],
    "historicalroom": ["view"],
    "historicalserver": ["view"],
    "historicallisting": ["view"],
    "historicalsource": ["view"],
    "historicalroomtag": ["view"],
}


def seed_listing(apps, schema_editor):
    Listing = apps.get_model("directory", "Listing")
    Listing.objects.get_or_create(
        slug="all",
        defaults={
            "name": "All Communities",
            "description": "Every public community in the directory.",
            "include_all": True,
        },
    )


def seed_moderators(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="moderators")
    for model, actions in MODERATOR_PERMISSIONS.items():
        for action in actions:
            group.permissions.add(
                Permission.objects.get(
                    content_type__app_label="directory", codename=f"{action}_{model}"
                )
            )


def seed_sources(apps, schema_editor):
    Source = apps.get_model("directory", "Source")
    now = timezone.now()
    for name, url, kind, enabled, notes, *rating in SOURCES:
        cached = SNAPSHOT / "sources" / name
        body = cached.read_text(encoding="utf-8") if cached.exists() else ""
        Source.objects.get_or_create(
            name=name,
            defaults={
                "url": url,
                "kind": kind,
                "enabled": enabled,
                "notes": notes,
                "suggested_age_rating": rating[0] if rating else "unrated",
                "last_good_body": body,
                "last_good_at": now if body else None,
            },
        )


def seed_known_servers(apps, schema_editor):
    Server = apps.get_model("directory", "Server")
    ServerAddress = apps.get_model("directory", "ServerAddress")
    config = configparser.ConfigParser()
    config.read(SNAPSHOT / "known-servers.ini", encoding="utf-8")
    for base_url in config.sections():
        pubkey = config[base_url]["pubkey"].strip().lower()
        scheme, _, rest = base_url.partition("://")
        host, _, port = rest.strip("/").partition(":")
        server, _ = Server.objects.get_or_create(
            pubkey=pubkey, defaults={"official": config[base_url].get("icon") == "session"}
        )
        address, _ = ServerAddress.objects.get_or_create(
            server=server,
            scheme=scheme,
            host=host.lower(),
            port=int(port) if port else {"http": 80, "https": 443}[scheme],
        )
        if server.preferred_address_id is None:
            server.preferred_address = address
            server.save(update_fields=["preferred_address"])


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(seed_listing, migrations.RunPython.noop),
        migrations.RunPython(seed_moderators, migrations.RunPython.noop),
        migrations.RunPython(seed_sources, migrations.RunPython.noop),
        migrations.RunPython(seed_known_servers, migrations.RunPython.noop),
    ]
