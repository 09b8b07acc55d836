"""`load_demo`: what `make run` loads, safe to run twice."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.management import call_command

from directory.models import Room, Server


def test_load_demo_twice_gives_the_same_directory(db, snapshot_data, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.DEBUG = True
    call_command("load_demo")
    first = (Server.objects.count(), Room.objects.count(), User.objects.count())
    call_command("load_demo")
    assert (Server.objects.count(), Room.objects.count(), User.objects.count()) == first
    assert first[:2] == (len(snapshot_data), sum(len(s["rooms"]) for s in snapshot_data))
    password = (tmp_path / "admin-password.txt").read_text().strip()
    assert User.objects.get(username="admin").check_password(password)
    assert (tmp_path / "admin-password.txt").stat().st_mode & 0o077 == 0


def test_load_demo_creates_no_admin_outside_debug(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.DEBUG = False
    call_command("load_demo")
    assert not User.objects.filter(is_superuser=True).exists()
