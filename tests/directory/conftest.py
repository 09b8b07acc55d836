"""Fixtures of the directory tests: the website tests' fresh cache per test, and their browser
and live demo site (tests/web) for the browser tests here."""

from __future__ import annotations

from tests.web.conftest import _private_cache  # noqa: F401 (autouse)
from tests.web.test_browser import browser, site  # noqa: F401 (fixtures)
