"""`manage.py reset_2fa NAME`: an operator's recovery for a staff member who lost both their
authenticator and their backup codes. Their devices are removed; the next sign-in (password
first) enrols a new authenticator."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from directory import twofactor


class Command(BaseCommand):
    help = "Remove a user's two-factor devices so that they enrol again at their next sign-in."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        removed = twofactor.reset(user)
        self.stdout.write(
            f"Removed {removed} two-factor device(s) of {username!r}: they set up a new "
            "authenticator at their next sign-in. If the password may be known to someone else "
            f"too, change it first: manage.py changepassword {username}"
        )
