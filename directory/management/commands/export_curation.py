"""`manage.py export_curation [PATH]`: write every moderator decision to a versioned JSON file."""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from directory.formats.curation import KINDS, export_curation


class Command(BaseCommand):
    help = (
        "Export the curation (moderators' decisions: curated server and room fields, maintainer "
        "tags, tags, sources, listings, submissions, reports) as JSON, for import_curation."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "path", nargs="?", default="-", help="File to write; '-' or none: standard output."
        )
        parser.add_argument("--indent", type=int, default=None, help="Indent the JSON.")

    def handle(self, *args, path: str, indent: int | None, **options):
        data = export_curation()
        text = json.dumps(data, indent=indent, ensure_ascii=False) + "\n"
        if path == "-":
            self.stdout.write(text, ending="")
            return
        target = Path(path)
        partial = target.with_name(f".{target.name}.partial")
        try:
            # Written beside the target and renamed: a failed export never leaves half a file.
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, target)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise CommandError(f"{path}: cannot write: {error.strerror or error}") from error
        counts = ", ".join(f"{len(data[kind])} {kind}" for kind in KINDS)
        self.stdout.write(self.style.SUCCESS(f"Exported {counts} to {path}."))
