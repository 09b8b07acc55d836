"""Shared fixtures: the real snapshot, users with the moderators group, an imported directory,
a private cache, a clock that tests move."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SNAPSHOT = REPO / "fixtures" / "snapshot" / "servers.json"


@pytest.fixture(autouse=True)
def _rebuild_in_the_request(settings):
    """A test that changes data reads the change at once; serving the previous copy while a
    background thread rebuilds is tested on its own
    (tests/directory/test_stale_while_rebuild.py)."""
    settings.REBUILD_IN_BACKGROUND = False
    settings.DATA_VERSION_SECONDS = 0


@pytest.fixture
def private_cache(settings) -> dict[str, str]:
    """A fresh in-memory default cache of this test only (its own LOCATION and KEY_PREFIX), so no
    page, listing or rate-limit count of another test is served or counted; its config."""
    config = {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": f"test-{uuid.uuid4()}",
        "KEY_PREFIX": uuid.uuid4().hex,
    }
    settings.CACHES = {"default": config}
    return config


@pytest.fixture
def clock(time_machine):
    """time-machine's clock, started at the real time and ticking: `clock.shift(timedelta(...))`
    is time passing, for the code under test (not for other processes or the database's own
    clock)."""
    time_machine.move_to(datetime.now(tz=UTC))
    return time_machine


@pytest.fixture
def snapshot_data() -> list[dict]:
    return json.loads(SNAPSHOT.read_text(encoding="utf-8"))


@pytest.fixture
def write_snapshot(tmp_path):
    """Write a (possibly modified or broken) snapshot to a temporary servers.json."""

    def write(data: object | str | bytes) -> Path:
        path = tmp_path / "servers.json"
        if isinstance(data, bytes):
            path.write_bytes(data)
        elif isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_text(json.dumps(data), encoding="utf-8")
        return path

    return write


@pytest.fixture
def imported(db):
    """The directory after importing the real snapshot."""
    from directory.formats.snapshot import import_snapshot

    return import_snapshot(SNAPSHOT)


@pytest.fixture
def moderator(db):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user("mod", password="correct horse battery", is_staff=True)
    user.groups.add(Group.objects.get(name="moderators"))
    return user


@pytest.fixture
def visitor(db):
    from django.contrib.auth.models import User

    return User.objects.create_user("visitor", password="correct horse battery")
