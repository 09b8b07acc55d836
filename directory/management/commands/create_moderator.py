"""`manage.py create_moderator NAME`: a moderator account (staff, in the moderators group, not a
superuser) with a new random password, printed once."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from directory.roles import create_moderator


class Command(BaseCommand):
    help = "Create a moderator account (least-privilege role) and print its password."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="", help="The moderator's e-mail address.")

    def handle(self, *args, username: str, email: str = "", **options):
        try:
            user, password = create_moderator(username, email)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(f"Created moderator {user.username!r} with password {password}")
        )
        second = (
            " and will set up two-factor sign-in (an authenticator app) there"
            if settings.ADMIN_REQUIRE_2FA
            else ""
        )
        self.stdout.write(
            f"Hand the password over privately. They sign in at /{settings.ADMIN_URL}{second}, "
            "and change the password under 'Change password'."
        )
