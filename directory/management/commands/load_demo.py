"""`manage.py load_demo`: the demo data of a first run, and a local admin account.

Safe to run again: the import is an upsert, and an existing admin account is left alone.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from directory.formats.common import FormatError
from directory.formats.snapshot import import_snapshot

DEMO_SNAPSHOT = settings.BASE_DIR / "fixtures" / "snapshot" / "servers.json"


class Command(BaseCommand):
    help = "Import the demo snapshot in fixtures/ and, in DEBUG mode, create a local admin."

    def add_arguments(self, parser):
        parser.add_argument("--no-admin", action="store_true", help="Do not create an admin.")

    def handle(self, *args, no_admin: bool = False, **options):
        try:
            result = import_snapshot(DEMO_SNAPSHOT)
        except FormatError as error:
            raise CommandError(error.in_file(DEMO_SNAPSHOT)) from error
        self.stdout.write(f"Demo data: {result}")
        if not no_admin and settings.DEBUG:
            self._ensure_local_admin()

    def _ensure_local_admin(self) -> None:
        password_file = Path(settings.VAR_DIR) / "admin-password.txt"
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            where = f" (password in {password_file})" if password_file.exists() else ""
            self.stdout.write(f"Admin account exists{where}.")
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser("admin", "", password)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.touch(mode=0o600)
        password_file.write_text(password + "\n")
        self.stdout.write(
            self.style.SUCCESS(f"Created admin account 'admin' with password {password} ")
            + f"(also in {password_file})."
        )
