"""Validators, 304s, Cache-Control, gzip, CORS and throttling of the JSON endpoints."""

from __future__ import annotations

import gzip

import pytest
from django.core.cache import cache
from django.utils import timezone
from django.utils.http import http_date

from directory.freshness import data_version
from directory.models import CrawlRun, Listing, Room, Tag
from listings_api.caching import CACHE_PREFIX


@pytest.mark.parametrize("url", ["/listings", "/listing/all"])
def test_responses_carry_validators_and_cache_control(client, imported, url):
    response = client.get(url)
    assert response["ETag"].startswith('W/"')
    assert response["Last-Modified"]
    assert response["Cache-Control"].startswith("public, max-age=")


@pytest.mark.parametrize("url", ["/listings", "/listing/all"])
def test_if_none_match_gives_304_without_a_body(client, imported, url):
    etag = client.get(url)["ETag"]
    response = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag


def test_if_modified_since_gives_304_until_the_data_changes(client, imported):
    last_modified = client.get("/listing/all")["Last-Modified"]
    assert client.get("/listing/all", HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304
    assert client.get("/listing/all", HTTP_IF_MODIFIED_SINCE=http_date(0)).status_code == 200


def test_a_moderators_change_changes_etag_and_body(client, imported):
    first = client.get("/listing/all")
    room = Room.objects.get(token="ai")
    room.maintainer_description = "Reviewed by a moderator."
    room.save()
    second = client.get("/listing/all", HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 200
    assert second["ETag"] != first["ETag"]
    assert b"Reviewed by a moderator." in second.content


def test_a_listing_edit_changes_the_summary(client, imported):
    first = client.get("/listings")
    listing = Listing.objects.get(slug="all")
    listing.name = "Everything"
    listing.save()
    second = client.get("/listings", HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 200 and second.json()["listings"][0]["name"] == "Everything"


def test_a_crawl_changes_the_listing(client, imported):
    first = client.get("/listing/all")
    # What a poll writes: new counts (in the columns and the object as sent) and the time the
    # room was seen.
    room = Room.objects.get(token="ai")
    sent = {**room.sogs_room, "active_users": 123456}
    Room.objects.filter(pk=room.pk).update(
        active_users=123456, sogs_room=sent, last_seen=timezone.now()
    )
    CrawlRun.objects.create(status=CrawlRun.Status.FINISHED, finished_at=timezone.now())
    second = client.get("/listing/all", HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 200
    assert b'"active_users":123456' in second.content


def test_a_new_tag_assignment_changes_the_listing(client, imported):
    first = client.get("/listing/all")
    tag = Tag.objects.create(slug="fresh", label="Fresh")
    Room.objects.get(token="ai").tags.add(tag, through_defaults={"origin": Tag.Kind.MAINTAINER})
    assert client.get("/listing/all")["ETag"] != first["ETag"]


def test_unchanged_data_is_served_from_the_cache(client, imported, django_assert_max_num_queries):
    client.get("/listing/all")
    # The data version, the listing lookup; no room query.
    with django_assert_max_num_queries(2):
        assert client.get("/listing/all").status_code == 200


def test_gzip_when_accepted_with_the_same_json(client, imported):
    plain = client.get("/listing/all")
    zipped = client.get("/listing/all", HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert zipped["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped["Vary"]
    assert gzip.decompress(zipped.content) == plain.content
    assert zipped["ETag"] == plain["ETag"]


def test_cors_allows_any_origin_to_read(client, imported):
    response = client.get("/listing/all", HTTP_ORIGIN="https://elsewhere.example")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response["Access-Control-Expose-Headers"]
    preflight = client.options(
        "/listings",
        HTTP_ORIGIN="https://elsewhere.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )
    assert preflight.status_code == 200
    assert "GET" in preflight["Access-Control-Allow-Methods"]
    assert "POST" not in preflight["Access-Control-Allow-Methods"]


def test_cors_is_not_offered_for_the_site(client, imported):
    response = client.get("/", HTTP_ORIGIN="https://elsewhere.example")
    assert "Access-Control-Allow-Origin" not in response


def test_too_many_requests_get_a_clear_json_429(client, imported, settings):
    settings.LP_THROTTLE_RATE = "3/min"
    statuses = [client.get("/listings").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/listings")
    assert response.status_code == 429
    assert "throttled" in response.json()["detail"]
    assert int(response["Retry-After"]) > 0


def test_the_shared_cache_keeps_one_copy_per_listing_not_one_per_version(
    client, imported, private_cache
):
    room = Room.objects.public().first()
    for name in ["first", "second", "third"]:  # three data versions, as during a crawl
        room.name, room.sogs_room = name, {**room.sogs_room, "name": name}
        room.save()
        assert name.encode() in client.get("/listing/all").content
        client.get("/listing/all?sort=name")
    # LocMemCache's own keys are "<KEY_PREFIX>:<VERSION>:<key>".
    entries = [key.split(":", 2)[2] for key in cache._cache if CACHE_PREFIX in key]
    assert len(entries) == 2
    assert {cache.get(key)[1].version for key in entries} == {data_version().token}
