"""Fixtures of the API tests: a fixed provider key, an isolated cache, an onion poster."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from django.conf import settings as django_settings
from django.http import HttpResponse, HttpResponseBase

from directory.lib.onion import x25519_pubkey
from listings_api import keys

PROVIDER_PRIVKEY = bytes.fromhex("2f4d1c0d28e137777ec0a316e9f4f763e3e66662a6c51994c6315c9ef34b6deb")
PROVIDER_PUBKEY_HEX = x25519_pubkey(PROVIDER_PRIVKEY).hex()


@pytest.fixture(autouse=True)
def api_settings(settings, tmp_path):
    """Own key file and cache keys (other test runs may share the Redis or file cache)."""
    key_file = tmp_path / "lp_key_x25519"
    key_file.write_bytes(PROVIDER_PRIVKEY)
    key_file.chmod(0o600)
    settings.LP_KEY_FILE = key_file
    caches = {name: dict(config) for name, config in django_settings.CACHES.items()}
    caches["default"]["KEY_PREFIX"] = f"lptest-{uuid.uuid4().hex}"
    settings.CACHES = caches
    settings.LP_THROTTLE_RATE = "10000/min"
    settings.LP_ONION_THROTTLE_RATE = "100000/min"
    keys._privkey_for.cache_clear()
    # Entries under the unique prefix expire on their own (LP_CACHE_SECONDS, throttle windows).
    yield settings
    keys._privkey_for.cache_clear()


def buffered(response: HttpResponseBase) -> HttpResponse:
    """A streamed reply (the onion endpoint's 200s) as a plain one, with `.content`."""
    if not response.streaming:
        return response
    body = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(body)
    plain = HttpResponse(body, status=response.status_code)
    for name, value in response.items():
        plain[name] = value
    return plain


@pytest.fixture
def post_onion(client) -> Callable[[bytes], HttpResponse]:
    def post(body: bytes, **extra) -> HttpResponse:
        response = client.post(
            "/oxen/v4/lsrpc", data=body, content_type="application/octet-stream", **extra
        )
        return buffered(response)

    return post
