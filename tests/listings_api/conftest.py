"""Fixtures of the listing-provider tests: those of tests/api (a fixed provider key, an
isolated cache, an onion poster), shared until those tests move here."""

from __future__ import annotations

from tests.api.conftest import api_settings, post_onion  # noqa: F401 (pytest finds them here)
