"""`manage.py import_snapshot PATH`: import a sessioncommunities.online/.info servers.json."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from directory.formats.common import FormatError
from directory.formats.snapshot import import_snapshot


class Command(BaseCommand):
    help = (
        "Import servers, rooms, tags and language flags from a servers.json written by "
        "sessioncommunities.online or .info. Validates the whole file first; a malformed file "
        "changes nothing. Curated fields are never overwritten."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="Path to servers.json")

    def handle(self, *args, path: Path, **options):
        try:
            result = import_snapshot(path)
        except FormatError as error:
            raise CommandError(error.in_file(path)) from error
        self.stdout.write(self.style.SUCCESS(f"Imported {path}: {result}"))
