"""The onion endpoint reuses its reply to a repeated inner GET, but never past a change of the
data, of the request's headers or origin, or of a setting."""

from __future__ import annotations

import pytest

from directory.freshness import DataVersion
from directory.models import Room
from listings_api import lsrpc
from tests.listings_api.test_onion_endpoint import onion_get


@pytest.fixture
def view_runs(monkeypatch) -> list[str]:
    """The inner paths that reached a view (the rest were answered from the reply cache)."""
    runs: list[str] = []
    run_view = lsrpc._run_view

    def counted(outer, inner, key):
        runs.append(inner.path)
        return run_view(outer, inner, key)

    monkeypatch.setattr(lsrpc, "_run_view", counted)
    lsrpc._replies.clear()
    return runs


def test_a_repeated_request_is_answered_without_running_the_view(imported, post_onion, view_runs):
    first = onion_get(post_onion, "/listing/all")
    second = onion_get(post_onion, "/listing/all")
    assert second == first
    assert view_runs == ["/listing/all"]


def test_a_moderator_edit_is_in_the_very_next_reply(client, imported, post_onion, view_runs):
    before = onion_get(post_onion, "/listing/all")[2]
    room = Room.objects.public().order_by("pk").first()
    room.hidden = True
    room.save()
    after = onion_get(post_onion, "/listing/all")[2]
    assert after != before
    assert after == client.get("/listing/all").content


def test_each_validator_gets_its_own_reply_and_every_encoding_the_plain_one(
    client, imported, post_onion, view_runs
):
    """Inner replies are never compressed (Desktop JSON.parses the body as it is,
    `ts/session/onions/onionv4.ts`), so Accept-Encoding is no part of a reply's key."""
    plain = onion_get(post_onion, "/listing/all")
    assert client.get("/listing/all", HTTP_ACCEPT_ENCODING="gzip")["Content-Encoding"] == "gzip"
    zipped = onion_get(post_onion, "/listing/all", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in zipped[1]
    assert zipped == plain
    etag = plain[1]["etag"]
    revalidated = onion_get(post_onion, "/listing/all", headers={"If-None-Match": etag})
    assert revalidated[0] == 304
    assert onion_get(post_onion, "/listing/all") == plain
    assert len(view_runs) == 2


def test_another_host_gets_its_own_absolute_urls(imported, post_onion, view_runs, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "mirror.example"]
    ours = onion_get(post_onion, "/listing/all")[2]
    theirs = onion_get(post_onion, "/listing/all", HTTP_HOST="mirror.example")[2]
    assert b"http://mirror.example/" in theirs and b"http://mirror.example/" not in ours


def test_a_reply_not_made_from_the_current_data_is_not_kept(
    imported, post_onion, view_runs, monkeypatch
):
    # As while a new version is rebuilt in the background: the view still answers from the
    # previous body, which must not be filed under the new version.
    monkeypatch.setattr(lsrpc, "data_version", lambda: DataVersion("a newer version", None))
    onion_get(post_onion, "/listing/all")
    onion_get(post_onion, "/listing/all")
    assert view_runs == ["/listing/all", "/listing/all"]


def test_a_changed_setting_forgets_every_reply(imported, post_onion, view_runs, settings):
    onion_get(post_onion, "/listings")
    settings.LP_CLIENT_MAX_AGE = 7
    _, headers, _ = onion_get(post_onion, "/listings")
    assert headers["cache-control"] == "public, max-age=7"
    assert view_runs == ["/listings", "/listings"]
