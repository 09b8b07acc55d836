"""`manage.py import_curation PATH`: restore moderators' decisions from export_curation's file."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from directory.formats.common import FormatError, parse_json, read_json
from directory.formats.curation import import_curation


class Command(BaseCommand):
    help = (
        "Import a curation file written by export_curation. The whole file is validated first "
        "and written in one transaction: a bad file exits non-zero and changes nothing. Only "
        "curated fields are written; servers and rooms the database lacks are created as stubs."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The curation file; '-' reads standard input.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would change, then roll back."
        )

    def handle(self, *args, path: str, dry_run: bool, **options):
        try:
            data = self._read(path)
            result = import_curation(data, dry_run=dry_run)
        except FormatError as error:
            raise CommandError(error.in_file(path)) from error
        if dry_run:
            self.stdout.write("Dry run: nothing was written. The import would give:")
        self.stdout.write(str(result))
        if result.unknown_users:
            names = ", ".join(sorted(result.unknown_users))
            self.stdout.write(
                self.style.WARNING(f"Unknown moderators (left unset on submissions): {names}")
            )

    def _read(self, path: str) -> object:
        if path == "-":
            return parse_json(sys.stdin.buffer.read())
        return read_json(Path(path))
