"""Fixtures of the directory tests: the website tests' fresh cache per test, their browser and
live demo site (tests/web) for the browser tests here, a room and a signed-in moderator."""

from __future__ import annotations

import pytest

from directory.models import Room
from tests.directory.web.conftest import _private_cache  # noqa: F401 (autouse)
from tests.directory.web.test_browser import browser, site  # noqa: F401 (fixtures)


@pytest.fixture
def room(imported) -> Room:
    return Room.objects.select_related("server").get(token="android")


@pytest.fixture
def signed_in(client, moderator):
    client.force_login(moderator)
    return client
