"""Import the ``servers.json`` written by sessioncommunities.online / .info.

This loads the demo data and is the migration path for people running those sites. The whole
file is validated before anything is written, and written in one transaction: a malformed file
changes nothing. Like a crawl, an import writes only crawled fields (and fills a room's language
only while moderators have left it empty).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone
from rest_framework import serializers
from rest_framework.settings import api_settings

from directory.formats.common import FormatError, first_error, read_json
from directory.lib.joinlinks import parse_server_url
from directory.lib.languages import language_from_flag
from directory.lib.roomtext import clean_text
from directory.lib.sogs import InvalidRoom, room_values, validate_room
from directory.models import AgeRating, Room, Server, Tag
from directory.servers import (
    attach_address,
    mark_rooms_gone,
    replace_room_tags,
    upsert_rooms,
)

MAX_FILE_BYTES = 50_000_000


class RoomTextField(serializers.Field):
    """Text from a server: any string is accepted and cleaned (control and bidi characters
    removed, length clamped), since hostile names are data to store safely, not an error."""

    def __init__(self, *, max_length: int, multiline: bool = False, **kwargs):
        self.max_length = max_length
        self.multiline = multiline
        if kwargs.setdefault("required", False) is False:
            kwargs.setdefault("default", "")
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Expected a string.")
        return clean_text(data, self.max_length, multiline=self.multiline)

    def to_representation(self, value: str) -> str:
        return value


class TagSerializer(serializers.Serializer):
    text = RoomTextField(max_length=64, required=True)
    type = serializers.ChoiceField(choices=["user", "reserved", "warning"])


# What the sessioncommunities crawler adds to the room objects it writes (`jsonSerialize` of its
# `CommunityRoom`, `php/servers/servers-rooms.php`): its own keys, a null for each SOGS key the
# server left out (it copies a fixed list of keys) and "" for a missing description, which
# pysogs never sends (`update_room` in `sogs/routes/rooms.py` stores an empty one as None).
# None of them came from the server. (Its descriptions also lack their trailing hashtags, which
# it moved into `tags`; what it cut cannot be restored.)
SNAPSHOT_KEYS = frozenset({"tags", "string_tags", "language_flag"})


def reported_room(data: object) -> object:
    """A snapshot room as its server sent it, as far as the file still tells."""
    if not isinstance(data, dict):
        return data
    return {
        key: value
        for key, value in data.items()
        if key not in SNAPSHOT_KEYS
        and value is not None
        and not (key == "description" and value == "")
    }


class RoomSerializer(serializers.Serializer):
    """A room of the snapshot: a SOGS room object (`validate_room`) with the old directories'
    tags and language flag."""

    tags = TagSerializer(many=True, required=False, default=list)
    language_flag = serializers.CharField(
        allow_blank=True, required=False, default="", max_length=16
    )

    def to_internal_value(self, data: object) -> dict:
        try:
            room = validate_room(reported_room(data))
        except InvalidRoom as error:
            where = error.field or api_settings.NON_FIELD_ERRORS_KEY
            raise serializers.ValidationError({where: [error.reason]}) from error
        return {**room, **super().to_internal_value(data)}


class ServerSerializer(serializers.Serializer):
    base_url = serializers.CharField(max_length=300)
    pubkey = serializers.RegexField(r"^[0-9a-fA-F]{64}\Z")
    rooms = RoomSerializer(many=True, max_length=10_000)

    def validate_base_url(self, value: str) -> tuple[str, str, int | None]:
        try:
            return parse_server_url(value)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from error

    def validate_rooms(self, rooms: list[dict]) -> list[dict]:
        seen: set[str] = set()
        for room in rooms:
            key = room["token"].lower()
            if key in seen:
                raise serializers.ValidationError(f"Room token {room['token']!r} appears twice.")
            seen.add(key)
        return rooms


@dataclass
class SnapshotResult:
    """What an import did, in a crawl's words: servers and rooms new, seen again, or gone."""

    servers_new: int = 0
    servers_updated: int = 0
    rooms_new: int = 0
    rooms_updated: int = 0
    rooms_gone: int = 0

    def __str__(self) -> str:
        return (
            f"servers: {self.servers_new} new, {self.servers_updated} updated; "
            f"rooms: {self.rooms_new} new, {self.rooms_updated} updated, {self.rooms_gone} gone"
        )


def read_snapshot(path: Path) -> list[dict]:
    """The validated servers of a snapshot file; FormatError naming the first problem."""
    data = read_json(path, max_bytes=MAX_FILE_BYTES)
    if not isinstance(data, list):
        raise FormatError(f"expected a JSON list of servers, got {type(data).__name__}.")
    serializer = ServerSerializer(data=data, many=True)
    if not serializer.is_valid():
        raise FormatError(first_error(serializer.errors, "servers"))
    return serializer.validated_data


def read_tag_descriptions(path: Path) -> dict[str, str]:
    """The optional tags.json beside servers.json: reserved tag text -> description."""
    try:
        data = read_json(path)
    except FormatError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(key): clean_text(value, 300) for key, value in data.items()}


def import_snapshot(path: Path) -> SnapshotResult:
    """Validate the snapshot at ``path`` (and its tags.json) and write it in one transaction."""
    servers = read_snapshot(path)
    descriptions = read_tag_descriptions(path.with_name("tags.json"))
    result = SnapshotResult()
    with transaction.atomic():
        for server_data in servers:
            _import_server(server_data, descriptions, result)
    return result


def _import_server(data: dict, descriptions: dict[str, str], result: SnapshotResult) -> None:
    now = timezone.now()
    server, created = Server.objects.get_or_create(pubkey=data["pubkey"].lower())
    if created:
        result.servers_new += 1
    else:
        result.servers_updated += 1
    scheme, host, port = data["base_url"]
    attach_address(server, scheme, host, port)

    languages = {
        room["token"].lower(): language_from_flag(room["language_flag"]) or ""
        for room in data["rooms"]
    }
    values = [_crawled_values(room_data, now) for room_data in data["rooms"]]
    upserted = upsert_rooms(server, values, languages=languages)
    for (room, room_created), room_data in zip(upserted, data["rooms"], strict=True):
        if room_created:
            result.rooms_new += 1
        else:
            result.rooms_updated += 1
        _replace_crawled_tags(room, room_data["tags"], descriptions)
    result.rooms_gone += mark_rooms_gone(server, languages)


def _crawled_values(data: dict, now: datetime) -> dict[str, Any]:
    is_nsfw = any(tag["type"] == "warning" and tag["text"] == "nsfw" for tag in data["tags"])
    return {
        **room_values(data, now),
        "suggested_age_rating": AgeRating.NSFW if is_nsfw else AgeRating.UNRATED,
    }


def _replace_crawled_tags(room: Room, tags: list[dict], descriptions: dict[str, str]) -> None:
    """Set the room's derived and hashtag tags; maintainers' tags are left alone."""
    wanted = [
        (tag["text"].lower(), Tag.Kind.HASHTAG if tag["type"] == "user" else Tag.Kind.DERIVED)
        for tag in tags
    ]
    replace_room_tags(room, wanted, [Tag.Kind.HASHTAG, Tag.Kind.DERIVED], descriptions=descriptions)
