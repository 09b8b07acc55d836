"""Data-model rules: identities, public visibility, listings, derived language flags."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError

from directory.models import AgeRating, Listing, Room, Server, Tag


@pytest.fixture
def server(db) -> Server:
    return Server.objects.create(pubkey="b" * 64)


def test_room_identity_is_the_lower_cased_token(server):
    Room.objects.create(server=server, token="CrazyGamers")
    with pytest.raises(IntegrityError):
        Room.objects.create(server=server, token="crazygamers")


def test_room_token_keeps_its_case_for_display(server):
    room = Room.objects.create(server=server, token="SuomenTori")
    assert room.token == "SuomenTori" and room.token_key == "suomentori"


def test_server_key_is_unique(server):
    with pytest.raises(IntegrityError):
        Server.objects.create(pubkey="b" * 64)


def test_offline_rooms_leave_public_listings_after_the_grace_period(server, settings, clock):
    settings.OFFLINE_GRACE_DAYS = 7
    stale = Room.objects.create(server=server, token="stale")  # seen now, then never again
    assert set(Room.objects.public()) == {stale}
    clock.shift(timedelta(days=8))
    fresh = Room.objects.create(server=server, token="fresh")
    public = set(Room.objects.public())
    assert fresh in public and stale not in public
    assert Room.objects.filter(pk=stale.pk).exists()


def test_rooms_of_hidden_or_unproven_servers_are_not_public(server):
    room = Room.objects.create(server=server, token="r")
    assert room in Room.objects.public()
    server.key_state = Server.KeyState.FAILED
    server.save()
    assert room not in Room.objects.public()
    server.key_state = Server.KeyState.PROVEN
    server.hidden = True
    server.save()
    assert room not in Room.objects.public()


def test_builtin_listing_contains_every_public_room(server):
    rooms = [Room.objects.create(server=server, token=f"r{i}") for i in range(3)]
    Room.objects.filter(pk=rooms[0].pk).update(hidden=True)
    assert set(Listing.objects.get(slug="all").room_queryset()) == set(rooms[1:])


def test_listing_of_chosen_rooms_and_tags_with_a_rating_filter(server):
    rooms = [Room.objects.create(server=server, token=f"r{i}") for i in range(4)]
    music = Tag.objects.create(slug="music", label="music")
    rooms[1].room_tags.create(tag=music, origin=Tag.Kind.MAINTAINER)
    Room.objects.filter(pk=rooms[2].pk).update(age_rating=AgeRating.NSFW)
    listing = Listing.objects.create(slug="mix", name="Mix")
    listing.rooms.add(rooms[0], rooms[2])
    listing.tags.add(music)
    assert set(listing.room_queryset()) == {rooms[0], rooms[1], rooms[2]}
    listing.rating_filter = Listing.RatingFilter.SAFE
    assert set(listing.room_queryset()) == {rooms[0], rooms[1]}
    listing.rating_filter = Listing.RatingFilter.NSFW
    assert set(listing.room_queryset()) == {rooms[2]}


def test_safe_filter_leaves_out_unrated_rooms_with_nsfw_signals(server):
    signalled = Room.objects.create(server=server, token="x", suggested_age_rating=AgeRating.NSFW)
    listing = Listing(slug="safe", name="Safe", include_all=True, rating_filter="safe")
    assert signalled not in listing.room_queryset()


@pytest.mark.parametrize(
    ("language", "flag"),
    [
        ("en", "\U0001f1ec\U0001f1e7"),
        ("ja", "\U0001f1ef\U0001f1f5"),
        ("mul", "\U0001f310"),
        ("", ""),
    ],
)
def test_language_flag_is_derived_from_the_code(server, language, flag):
    assert Room(server=server, token="t", language=language).language_flag == flag
