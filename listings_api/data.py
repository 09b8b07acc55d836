"""What the listing endpoints return, built from the directory's models as plain dicts.

`room` is the room object exactly as its server sent it (`Room.sogs_room`: the keys, values and
JSON types of pysogs' `get_room_info` in `sogs/routes/rooms.py`, a key the server left out is
left out); `room_extra` carries everything we add. The shapes are documented field by field in
`serializers.py`. Legacy servers' rooms are left out unless asked for (`include=legacy`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from directory.lib.languages import language_flag
from directory.models import DEFAULT_SORT, Listing, Room, RoomTag, Server

# The keys of pysogs' `GET /room/<token>` reply to an anonymous caller (`get_room_info`,
# `sogs/routes/rooms.py`) that columns hold: they stand in for a room stored before its object.
SOGS_ROOM_FIELDS = (
    "token",
    "name",
    "description",
    "info_updates",
    "message_sequence",
    "created",
    "active_users",
    "active_users_cutoff",
    "image_id",
    "moderators",
    "admins",
    "read",
    "write",
    "upload",
)
LEGACY = "legacy"  # `include=legacy`; `room_extra.server_api` of a legacy server's room
SOGS = "sogs"

Absolute = Callable[[str], str]


@dataclass(frozen=True)
class RoomFilters:
    """The query parameters of `GET /listing/<id>`, already validated."""

    language: str = ""
    tag: str = ""
    q: str = ""
    sort: str = DEFAULT_SORT
    include: str = ""  # LEGACY: legacy servers' rooms too

    def cache_key(self) -> str:
        return "\x1f".join((self.language, self.tag, self.q, self.sort, self.include))


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, or None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def listing_rating(listing: Listing) -> str:
    return listing.rating_filter


def listings_summary() -> dict[str, Any]:
    """`GET /listings`: every listing with its number of rooms."""
    summaries = []
    for listing in Listing.objects.order_by("slug"):
        summary = _listing_head(listing)
        summary["rooms"] = listing.room_queryset().modern().count()
        summaries.append(summary)
    return {"listings": summaries}


def listing_detail(listing: Listing, filters: RoomFilters, absolute: Absolute) -> dict[str, Any]:
    """`GET /listing/<id>`: the listing with every room it holds, filtered and sorted."""
    rooms = _filtered_rooms(listing, filters)
    return {
        **_listing_head(listing),
        "rooms": [
            {"room": sogs_room(room), "room_extra": room_extra(room, absolute)} for room in rooms
        ],
    }


def _listing_head(listing: Listing) -> dict[str, Any]:
    return {
        "id": listing.slug,
        "name": listing.name,
        "description": listing.description,
        "rating": listing_rating(listing),
        "created": iso(listing.created),
        "updated": iso(listing.updated),
    }


def _filtered_rooms(listing: Listing, filters: RoomFilters) -> QuerySet[Room]:
    rooms = listing.room_queryset()
    if filters.include != LEGACY:
        rooms = rooms.modern()  # current Session clients cannot join legacy servers
    if filters.language:
        rooms = rooms.filter(language__iexact=filters.language)
    if filters.tag:
        tag = Q(tags__slug__iexact=filters.tag) | Q(tags__label__iexact=filters.tag)
        rooms = rooms.filter(pk__in=Room.objects.filter(tag).values("pk"))
    return (
        rooms.search(filters.q)
        .with_message_rates()
        .sorted_by(filters.sort)
        .select_related("server", "server__preferred_address")
        .prefetch_related(Prefetch("room_tags", RoomTag.objects.select_related("tag"), "tag_list"))
    )


def sogs_room(room: Room) -> dict[str, Any]:
    """The room object as its server sent it; for a room stored before objects were (until its
    next crawl), its columns under SOGS names and types, leaving out what is unknown."""
    if room.sogs_room:
        return room.sogs_room
    values: dict[str, Any] = {field: getattr(room, field) for field in SOGS_ROOM_FIELDS}
    if room.created is not None:
        values["created"] = room.created.timestamp()  # SOGS sends Unix seconds
    values["moderators"] = list(room.moderators or [])
    values["admins"] = list(room.admins or [])
    return {key: value for key, value in values.items() if value is not None}


def room_extra(room: Room, absolute: Absolute) -> dict[str, Any]:
    """What the directory adds to a room (annotated `with_message_rates()`); none of these names
    collide with `room`."""
    server = room.server
    rate = room.messages_per_day
    flag = language_flag(room.language) if room.language else ""
    server_icon_url = server.icon_url
    return {
        "join_url": room.join_url,
        "server_url": server.base_url,
        "server_pubkey": server.pubkey,
        "server_name": server.name or None,
        "server_icon_url": absolute(server_icon_url) if server_icon_url else None,
        "language": {"code": room.language, "flag": flag} if room.language else None,
        "language_flag": flag,
        "tags": _tags(room),
        "age_rating": room.age_rating,
        "rating_verified_at": iso(room.rating_verified_at),
        "included_at": iso(room.included_at),
        "pinned": room.pinned,
        "online": room.is_online,
        "last_seen": iso(room.last_seen),
        "key_proven": server.key_state == Server.KeyState.PROVEN,
        "key_checked_at": iso(server.key_checked_at),
        "messages_per_day": None if rate is None else round(rate, 2),
        "icon_url": absolute(room.icon_url) if room.icon_url else None,
        "room_page_url": absolute(room.get_absolute_url()),
        "maintainer_description": room.maintainer_description,
        "server_api": LEGACY if server.api_kind == Server.ApiKind.LEGACY else SOGS,
        "legacy_member_count": room.legacy_member_count,
    }


def _tags(room: Room) -> list[dict[str, str]]:
    # One entry per tag, even when several origins gave it (prefetched: no query per room).
    seen: dict[int, dict[str, str]] = {}
    for room_tag in room.tag_list:
        seen.setdefault(room_tag.tag_id, {"text": room_tag.tag.label, "type": room_tag.tag.kind})
    return sorted(seen.values(), key=lambda tag: tag["text"].lower())
